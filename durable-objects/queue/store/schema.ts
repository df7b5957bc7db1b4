/**
 * The queue's SQLite schema: numbered, additive migrations (never edit one that shipped;
 * append a new one), the message state enum and the row types the store hands out.
 *
 * A message is in one of three states, kept in `state` with the time it next changes in
 * `due_at`, so one index `(state, due_at, seq)` serves every hot query:
 *   VISIBLE   (due_at 0)              receive takes the lowest seq
 *   DELAYED   (due_at = visible at)   the alarm promotes the lowest due_at
 *   IN_FLIGHT (due_at = lease end)    the alarm ends the lowest due_at
 * FIFO queues also keep one row per group in `fifo_groups` with the group's head (lowest
 * seq) and whether that head is visible, so a FIFO receive reads only ready groups and
 * never walks messages queued behind a blocked head.
 */

export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
  `CREATE TABLE messages (
     seq INTEGER PRIMARY KEY,
     id TEXT NOT NULL,
     body TEXT NOT NULL,
     headers TEXT,
     grp TEXT NOT NULL DEFAULT '',
     bytes INTEGER NOT NULL,
     sent_at INTEGER NOT NULL,
     state INTEGER NOT NULL,
     due_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     receipt TEXT,
     consumer TEXT,
     origin TEXT
   )`,
  `CREATE INDEX messages_state ON messages (state, due_at, seq)`,
  `CREATE INDEX messages_consumer ON messages (consumer) WHERE consumer IS NOT NULL`,
  `CREATE INDEX messages_group ON messages (grp, seq)`,
  `CREATE TABLE fifo_groups (grp TEXT PRIMARY KEY, head INTEGER NOT NULL, ready INTEGER NOT NULL) WITHOUT ROWID`,
  `CREATE INDEX fifo_ready ON fifo_groups (ready, head)`,
  `CREATE TABLE dedup (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID`,
  `CREATE INDEX dedup_expiry ON dedup (expires_at)`,
  `CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID`,
  // Dead letters and redrives waiting to be written into another queue (dead-letters.ts).
  `CREATE TABLE outbox (
     move_key TEXT PRIMARY KEY,
     target TEXT NOT NULL,
     letter TEXT NOT NULL,
     tries INTEGER NOT NULL DEFAULT 0,
     next_at INTEGER NOT NULL
   ) WITHOUT ROWID`,
  `CREATE INDEX outbox_next ON outbox (next_at)`,
  // Move keys this queue accepted, so a retried move is not written twice.
  `CREATE TABLE moves (move_key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID`,
  `CREATE INDEX moves_expiry ON moves (expires_at)`,
  // How many dedup records are kept (side-tables.ts DedupRecords), counted from here on.
  `INSERT OR REPLACE INTO counters (name, value) SELECT 'dedupRecords', count(*) FROM dedup`,
  // SQS message attribute types of headers that are not plain strings (JSON name -> type),
  // and when a message was first delivered (SQS ApproximateFirstReceiveTimestamp).
  `ALTER TABLE messages ADD COLUMN attr_types TEXT`,
  `ALTER TABLE messages ADD COLUMN first_received_at INTEGER`,
];

/** Tables emptied when the queue is deleted (the schema itself stays). */
export const DATA_TABLES = ["meta", "messages", "fifo_groups", "dedup", "counters", "outbox", "moves"] as const;

/** A message's state as stored in `messages.state` (the values are on disk: never renumber). */
export const MessageState = { VISIBLE: 0, DELAYED: 1, IN_FLIGHT: 2 } as const;
export type MessageState = (typeof MessageState)[keyof typeof MessageState];

export type MessageRow = {
  seq: number;
  id: string;
  body: string;
  headers: string | null;
  grp: string;
  bytes: number;
  sent_at: number;
  state: MessageState;
  due_at: number;
  attempts: number;
  receipt: string | null;
  consumer: string | null;
  origin: string | null;
  /** JSON `{header name: SQS data type}` for headers that are not plain `String`s, or null. */
  attr_types: string | null;
  /** When the message was first delivered (ms), null until then. */
  first_received_at: number | null;
};

export type CounterName = "next_seq" | "messages" | "bytes" | "sent" | "received" | "acked" | "deadLettered" | "duplicates" | "dedupRecords";

export interface NewMessage {
  id: string;
  body: string;
  headers: string | null;
  grp: string;
  bytes: number;
  sentAt: number;
  /** null = visible now; otherwise the time it becomes visible. */
  visibleAt: number | null;
  attempts: number;
  origin: string | null;
  /** JSON of the SQS attribute types (`MessageRow.attr_types`); absent or null for none. */
  attrTypes?: string | null;
}

/** A letter waiting in the outbox to be written into `target` (dead-letters.ts). */
export type OutboxRow = { move_key: string; target: string; letter: string; tries: number; next_at: number };
