/**
 * The topic log's tables and the values its RPC methods exchange with the Worker.
 * Tables are prefixed `log_` because the partition's other modules share the database.
 */
import type { TopicInfo } from "../config";
import type { LogEntry } from "../types";

export const LOG_MIGRATIONS: readonly string[] = [
  // One row: which topic and partition this object is, the config copy it was given and
  // the counters every append updates (so nothing ever counts rows).
  `CREATE TABLE log_meta (
     id INTEGER PRIMARY KEY CHECK (id = 0),
     topic TEXT NOT NULL,
     partition INTEGER NOT NULL,
     incarnation TEXT NOT NULL,
     version INTEGER NOT NULL,
     config TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     next_offset INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     last_ts INTEGER NOT NULL,
     compact_due INTEGER
   )`,
  // `offset` is the rowid: reads by offset and "lowest kept offset" are b-tree seeks.
  `CREATE TABLE log_entries (
     offset INTEGER PRIMARY KEY,
     id TEXT NOT NULL,
     key TEXT,
     body TEXT NOT NULL,
     headers TEXT,
     ts INTEGER NOT NULL,
     size INTEGER NOT NULL
   )`,
  `CREATE INDEX log_entries_ts ON log_entries (ts)`,
  `CREATE INDEX log_entries_key ON log_entries (key, offset) WHERE key IS NOT NULL`,
  `CREATE TABLE log_dedup (id TEXT PRIMARY KEY, offset INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID`,
  `CREATE INDEX log_dedup_expiry ON log_dedup (expires_at)`,
  // Keys written since the last compaction pass (only on compacted topics).
  `CREATE TABLE log_compact (key TEXT PRIMARY KEY) WITHOUT ROWID`,
];

export interface MetaRow extends Record<string, SqlStorageValue> {
  topic: string;
  partition: number;
  incarnation: string;
  version: number;
  config: string;
  created_at: number;
  next_offset: number;
  bytes: number;
  last_ts: number;
  compact_due: number | null;
}

export interface EntryRow extends Record<string, SqlStorageValue> {
  offset: number;
  id: string;
  key: string | null;
  body: string;
  headers: string | null;
  ts: number;
}

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
}

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

export type ReadOutcome = { stale: true } | { stale: false; messages: LogEntry[]; first: number; next: number };

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

export type StatsOutcome = { stale: true } | ({ stale: false } & PartitionStats);
