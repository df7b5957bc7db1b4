/**
 * The queue's SQLite schema and its row-level operations. Everything here runs inside the
 * caller's `transactionSync`; nothing awaits.
 *
 * A message is in one of three states, kept in `state` with the time it next changes in
 * `due_at`, so one index `(state, due_at, seq)` serves every hot query:
 *   VISIBLE  (0, due_at 0)          receive takes the lowest seq: `state=0 AND due_at=0 ORDER BY seq`
 *   DELAYED  (1, due_at=visible at) promotion and the alarm take the lowest due_at
 *   INFLIGHT (2, due_at=lease end)  lease expiry and the alarm take the lowest due_at
 * FIFO queues also keep one row per group in `fifo_groups` with the group's head (lowest
 * seq) and whether that head is visible, so a FIFO receive reads only ready groups and
 * never walks messages queued behind a blocked head.
 */
import { migrate } from "../shared/sql";

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
  // Dead letters and redrives waiting to be written into another queue (queue-dlq.ts).
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
];

/** Tables emptied when the queue is deleted (the schema itself stays). */
export const DATA_TABLES = ["meta", "messages", "fifo_groups", "dedup", "counters", "outbox", "moves"] as const;

export const VISIBLE = 0;
export const DELAYED = 1;
export const INFLIGHT = 2;

export type MessageRow = {
  seq: number;
  id: string;
  body: string;
  headers: string | null;
  grp: string;
  bytes: number;
  sent_at: number;
  state: number;
  due_at: number;
  attempts: number;
  receipt: string | null;
  consumer: string | null;
  origin: string | null;
};

export type CounterName = "next_seq" | "messages" | "bytes" | "sent" | "received" | "acked" | "deadLettered" | "duplicates";

export interface NewMessage {
  id: string;
  body: string;
  headers: string | null;
  grp: string;
  bytes: number;
  sentAt: number;
  /** 0 = visible now; otherwise the time it becomes visible. */
  visibleAt: number;
  attempts: number;
  origin: string | null;
}

export class QueueStore {
  /** Whether group bookkeeping applies (set from the config on every call). */
  fifo = false;

  constructor(readonly sql: SqlStorage) {}

  migrate(): void {
    migrate(this.sql, MIGRATIONS);
  }

  getMeta(key: string): string | null {
    return this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value ?? null;
  }

  setMeta(key: string, value: string): void {
    this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }

  deleteMeta(key: string): void {
    this.sql.exec("DELETE FROM meta WHERE key = ?", key);
  }

  counter(name: CounterName): number {
    return this.sql.exec<{ value: number }>("SELECT value FROM counters WHERE name = ?", name).toArray()[0]?.value ?? 0;
  }

  bump(name: CounterName, by: number): void {
    if (by === 0) return;
    this.sql.exec(
      "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
      name, by,
    );
  }

  counters(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.sql.exec<{ name: string; value: number }>("SELECT name, value FROM counters")) out[r.name] = r.value;
    return out;
  }

  /** Inserts a message with the next seq and returns that seq. */
  insert(m: NewMessage): number {
    const seq = this.counter("next_seq") + 1;
    this.bump("next_seq", 1);
    const state = m.visibleAt > 0 ? DELAYED : VISIBLE;
    this.sql.exec(
      `INSERT INTO messages (seq, id, body, headers, grp, bytes, sent_at, state, due_at, attempts, origin)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      seq, m.id, m.body, m.headers, m.grp, m.bytes, m.sentAt, state, m.visibleAt, m.attempts, m.origin,
    );
    this.bump("messages", 1);
    this.bump("bytes", m.bytes);
    // A new message is never ahead of an existing group head; only a new group needs a row.
    if (this.fifo) {
      this.sql.exec("INSERT INTO fifo_groups (grp, head, ready) VALUES (?, ?, ?) ON CONFLICT (grp) DO NOTHING", m.grp, seq, state === VISIBLE ? 1 : 0);
    }
    return seq;
  }

  get(seq: number): MessageRow | undefined {
    return this.sql.exec<MessageRow>("SELECT * FROM messages WHERE seq = ?", seq).toArray()[0];
  }

  /** Deletes a message and keeps the counters and the group head right. */
  remove(row: Pick<MessageRow, "seq" | "bytes" | "grp">): void {
    this.sql.exec("DELETE FROM messages WHERE seq = ?", row.seq);
    this.bump("messages", -1);
    this.bump("bytes", -row.bytes);
    this.refreshGroup(row.grp);
  }

  /** Sets a message's state; `due` is 0 for visible. */
  setState(row: MessageRow, state: number, due: number, receipt: string | null = null, consumer: string | null = null): void {
    this.sql.exec("UPDATE messages SET state = ?, due_at = ?, receipt = ?, consumer = ? WHERE seq = ?", state, due, receipt, consumer, row.seq);
    this.refreshGroup(row.grp);
  }

  /** Leases a message: in flight until `due`, one more attempt, under a new receipt. */
  lease(row: MessageRow, due: number, receipt: string, consumer: string | null): void {
    this.sql.exec(
      "UPDATE messages SET state = ?, due_at = ?, receipt = ?, consumer = ?, attempts = ? WHERE seq = ?",
      INFLIGHT, due, receipt, consumer, row.attempts, row.seq,
    );
    this.refreshGroup(row.grp);
  }

  /** Recomputes a FIFO group's head and readiness after its messages changed. */
  refreshGroup(grp: string): void {
    if (!this.fifo) return;
    const head = this.sql.exec<{ seq: number; state: number }>("SELECT seq, state FROM messages WHERE grp = ? ORDER BY seq LIMIT 1", grp).toArray()[0];
    if (!head) {
      this.sql.exec("DELETE FROM fifo_groups WHERE grp = ?", grp);
      return;
    }
    this.sql.exec(
      "INSERT INTO fifo_groups (grp, head, ready) VALUES (?, ?, ?) ON CONFLICT (grp) DO UPDATE SET head = excluded.head, ready = excluded.ready",
      grp, head.seq, head.state === VISIBLE ? 1 : 0,
    );
  }

  /** Up to `limit` messages a receive may take now, lowest seq first (one per group on FIFO queues). */
  deliverable(limit: number): MessageRow[] {
    if (this.fifo) {
      return this.sql
        .exec<MessageRow>(
          `SELECT m.* FROM fifo_groups g JOIN messages m ON m.seq = g.head
           WHERE g.ready = 1 ORDER BY g.head LIMIT ?`, limit,
        )
        .toArray();
    }
    return this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE state = ${VISIBLE} AND due_at = 0 ORDER BY seq LIMIT ?`, limit).toArray();
  }

  /** Messages in `state` whose `due_at` has passed, earliest first. */
  due(state: number, now: number, limit: number): MessageRow[] {
    return this.sql.exec<MessageRow>("SELECT * FROM messages WHERE state = ? AND due_at <= ? ORDER BY due_at LIMIT ?", state, now, limit).toArray();
  }

  /** Earliest `due_at` among messages in `state`, or null. */
  earliestDue(state: number): number | null {
    return this.sql.exec<{ due_at: number }>("SELECT due_at FROM messages WHERE state = ? ORDER BY due_at LIMIT 1", state).toArray()[0]?.due_at ?? null;
  }

  countState(state: number): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM messages WHERE state = ?", state).one().n;
  }

  /** The lowest-seq (oldest) message's seq and send time. */
  oldest(): { seq: number; sent_at: number } | undefined {
    return this.sql.exec<{ seq: number; sent_at: number }>("SELECT seq, sent_at FROM messages ORDER BY seq LIMIT 1").toArray()[0];
  }

  /** The seq of an id accepted within the dedup window, if any. */
  dedupSeq(id: string, now: number): number | null {
    return this.sql.exec<{ seq: number }>("SELECT seq FROM dedup WHERE id = ? AND expires_at > ?", id, now).toArray()[0]?.seq ?? null;
  }

  recordDedup(id: string, seq: number, expiresAt: number): void {
    this.sql.exec(
      "INSERT INTO dedup (id, seq, expires_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, expires_at = excluded.expires_at",
      id, seq, expiresAt,
    );
  }

  /** Earliest time in an indexed time column of a side table, or null. */
  earliest(table: "dedup" | "moves" | "outbox", column: "expires_at" | "next_at"): number | null {
    return this.sql.exec<{ t: number }>(`SELECT ${column} AS t FROM ${table} ORDER BY ${column} LIMIT 1`).toArray()[0]?.t ?? null;
  }

  /** Deletes up to `limit` rows of a side table whose time has passed; returns how many. */
  expire(table: "dedup" | "moves", now: number, limit: number): number {
    const key = table === "dedup" ? "id" : "move_key";
    return this.sql.exec(
      `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
      now, limit,
    ).rowsWritten;
  }

  /** Empties every data table (queue deletion). */
  clear(): void {
    for (const t of DATA_TABLES) this.sql.exec(`DELETE FROM ${t}`);
  }
}
