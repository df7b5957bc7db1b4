/**
 * Consumer groups: the values the Worker's group routes and a partition's ConsumerGroups
 * module exchange over RPC, the defaults, and the receipt format.
 */
import type { ReceiptFailure } from "./queue-types";
import type { LogEntry } from "./topic-types";

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

export const MAX_VISIBILITY_TIMEOUT = 43200;
export const MAX_DELIVERIES_LIMIT = 1000;

export type GroupConfigPatch = Partial<GroupConfig>;

export function mergeGroupConfig(base: Readonly<GroupConfig>, patch: GroupConfigPatch): GroupConfig {
  const out: GroupConfig = { ...base };
  for (const [k, v] of Object.entries(patch) as [keyof GroupConfig, never][]) {
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** A polled message: the log's message object plus its lease. */
export interface PolledMessage extends LogEntry {
  receipt: string;
  attempts: number;
}

export interface PollInput {
  topic: string;
  group: string;
  /** 1–100. */
  max: number;
  /** Lease seconds; the group's `visibilityTimeout` when absent. */
  visibilityTimeout?: number;
  /**
   * Creates the group here with this config when it does not exist yet. Partition 0 (the
   * group's home) gets the defaults; other partitions get the home's config.
   */
  createWith: GroupConfig | null;
}

/** What a poll of one partition leased; `created` when the poll created the group here. */
export interface PollResult {
  messages: PolledMessage[];
  created: boolean;
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

export interface GroupSummary extends GroupPartitionStatus {
  name: string;
}

export interface GroupAckResult {
  acked: number;
  failed: ReceiptFailure[];
}

export type SeekTarget = { to: number | "earliest" | "latest" } | { since: number };

/** A receipt names its partition, offset and lease: `"<partition>.<offset>.<lease>"`. */
export function makeReceipt(partition: number, offset: number, lease: string): string {
  return `${partition}.${offset}.${lease}`;
}

export interface ParsedReceipt {
  partition: number;
  offset: number;
  lease: string;
}

export function parseReceipt(receipt: string): ParsedReceipt | null {
  const m = /^(\d{1,2})\.(\d{1,16})\.([A-Za-z0-9]{8,64})$/.exec(receipt);
  if (!m) return null;
  const offset = Number(m[2]);
  return Number.isSafeInteger(offset) ? { partition: Number(m[1]), offset, lease: m[3]! } : null;
}

/** A fresh lease id: unguessable, so a receipt of another group or lease never matches. */
export function newLease(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 24);
}
