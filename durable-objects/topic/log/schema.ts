/**
 * The values the topic log's RPC methods exchange with the Worker: what a publish, a read
 * and a stats call carry and answer. (The log's tables and SQL are in store.ts.)
 */
import type { ErrorValue } from "../../../protocol/errors";
import type { TopicInfo } from "../config";
import type { LogEntry } from "../types";

/** A message as the Worker hands it to a partition: already serialised and measured. */
export interface StoredMessageInput {
  id: string;
  key: string | null;
  /** The body as JSON text. */
  body: string;
  /** The headers as JSON text, or null when there are none. */
  headers: string | null;
  /** UTF-8 bytes counted against maxMessageBytes and retentionBytes. */
  size: number;
  /**
   * The server chose the id (the producer gave none). Such an id is new by construction,
   * so the partition skips the dedup lookup and record for it: half the cost of a write.
   */
  assigned?: boolean;
}

export interface AppendRequest {
  topic: string;
  partition: number;
  info: TopicInfo;
  messages: StoredMessageInput[];
  /** In-object only, never sent over RPC: see AppendAdmission. */
  admit?: AppendAdmission;
}

/**
 * A check the partition's own modules attach to an append (the Durable Streams module:
 * closure, idempotent producers, `Stream-Seq`). It runs inside the commit's transaction,
 * in commit order, after the config and capacity checks, with the offset the request's
 * first message would get; whatever it writes to its own tables commits or rolls back with
 * the append, so its decision and the data are atomic. `"write"` goes on, `"skip"` writes
 * none of the request (answered with no messages), an error refuses it.
 */
export type AppendAdmission = (firstOffset: number) => "write" | "skip" | ErrorValue;

export interface AppendedMessage {
  offset: number;
  duplicate: boolean;
}

/**
 * What a partition answers a publish with. `stale` means the config the caller routed by
 * is not this partition's: refetch the topic from its home and route again.
 */
export type AppendOutcome = { stale: true } | { stale: false; messages: AppendedMessage[] };

export interface ReadRequest {
  topic: string;
  partition: number;
  info: TopicInfo;
  from?: number;
  since?: number;
  limit: number;
}

/** One partition's line in GET /v1/topics/{t}. */
export interface PartitionStats {
  partition: number;
  first: number;
  next: number;
  bytes: number;
  subscribers: number;
  /** Every consumer group's lag on this partition (summed over partitions by the Worker). */
  groups: Array<{ name: string; lag: number }>;
}

