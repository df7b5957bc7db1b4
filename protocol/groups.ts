/**
 * Consumer groups on the wire: a group's config and defaults, a polled message, a
 * partition's position and what ack and seek take and answer (API.md, consumer groups).
 */
import type { ReceiptFailure } from "./queues.js";
import type { TopicMessage } from "./topics.js";

export interface GroupConfig {
  /** Lease seconds of a poll that names none (1–43200). */
  visibilityTimeout: number;
  /** Deliveries before a message leaves the group (0 = unlimited). */
  maxDeliveries: number;
  /** Queue that receives messages past `maxDeliveries`; null drops them. */
  deadLetterQueue: string | null;
  /** At most one message per key in flight, redelivered before later ones of that key. */
  ordered: boolean;
  /** Where a new group starts in each partition. */
  start: "earliest" | "latest";
}

export const DEFAULT_GROUP_CONFIG: Readonly<GroupConfig> = Object.freeze({
  visibilityTimeout: 30,
  maxDeliveries: 0,
  deadLetterQueue: null,
  ordered: false,
  start: "earliest",
});

export type GroupConfigPatch = Partial<GroupConfig>;

/** A polled message: the log's message object plus its lease. */
export interface PolledMessage extends TopicMessage {
  receipt: string;
  attempts: number;
}

/** One partition's position of a group (`GET .../groups/{g}`). */
export interface GroupPartitionStatus {
  partition: number;
  /** Lowest unacked offset. */
  committed: number;
  /** `next - committed`. */
  lag: number;
  inFlight: number;
}

export interface GroupAckResult {
  acked: number;
  failed: ReceiptFailure[];
}

export interface GroupNackResult {
  nacked: number;
  failed: ReceiptFailure[];
}

export type SeekTarget = { to: number | "earliest" | "latest" } | { since: number };

