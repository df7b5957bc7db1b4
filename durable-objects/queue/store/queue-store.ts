/**
 * QueueStore: all of the queue's SQL. One named function per transition of a message
 * (BullMQ's one script per transition): send, lease, ack, release (nack or lease end),
 * extend, promote delayed, dead-letter, redrive, accept a moved letter, purge, retention;
 * plus its counters, stats, peek and the earliest deadline its alarm must cover. Schema and
 * the state enum live in schema.ts; the queue's own record (`meta`: config, creation,
 * Catalog registration), dedup records, move keys and the outbox in side-tables.ts.
 * Everything runs inside the caller's `transactionSync`; nothing awaits. A batch is sent,
 * leased and acked with set-based statements (`json_each` over one bound array), and the
 * counters are written once per transaction (counters.ts): rows written are what Cloudflare
 * bills most for, and test/workers/cost.test.ts bounds them. The rules (when a
 * lease ends, what a receipt proves, how long the dedup window is) live in the modules that
 * call these functions: leases.ts, dedup.ts, dead-letters.ts, send.ts.
 */
import { boundJsonArrays, migrate } from "../../shared/sql";
import type { PeekState, QueueStats } from "../../../protocol/queues";
import { DATA_TABLES, MIGRATIONS, MessageState, type CounterName, type MessageRow, type NewMessage } from "./schema";
import { Counters } from "./counters";
import { CATALOG_REGISTER_AT, DedupRecords, MoveKeys, Outbox, QueueMeta } from "./side-tables";

export { MessageState, type MessageRow, type NewMessage, type OutboxRow } from "./schema";
export type { StoredQueue } from "./side-tables";

const { VISIBLE, DELAYED, IN_FLIGHT } = MessageState;

/** Messages longer than this (characters of body and headers) are inserted one by one (sendMany). */
const LARGE_MESSAGE_CHARS = 64 * 1024;

/**
 * What a receive reads of a message (not the whole row: fewer columns are measurably faster
 * for a batch of 100), enough to lease it, deliver it and delete it (at-most-once).
 */
const DELIVERABLE_COLUMNS = ["seq", "id", "body", "headers", "grp", "bytes", "attempts", "sent_at", "attr_types", "first_received_at"] as const;
export type DeliverableRow = Pick<MessageRow, (typeof DELIVERABLE_COLUMNS)[number]>;

/** What an ack needs of a leased message. */
export type LeaseRef = Pick<MessageRow, "seq" | "receipt" | "bytes" | "grp">;

export class QueueStore {
  /** Whether FIFO group bookkeeping applies (set from the config in every transaction). */
  fifo = false;
  /** The queue's own record: name, creation time, config, Catalog registration. */
  readonly meta: QueueMeta;
  readonly dedup: DedupRecords;
  readonly moveKeys: MoveKeys;
  readonly outbox: Outbox;
  /** Counter changes are written once per transaction (counters.ts; context.ts defers them). */
  readonly counters: Counters;
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    this.meta = new QueueMeta(sql);
    this.counters = new Counters(sql);
    this.dedup = new DedupRecords(sql, this.counters);
    this.moveKeys = new MoveKeys(sql);
    this.outbox = new Outbox(sql);
  }

  migrate(): void {
    migrate(this.#sql, MIGRATIONS);
  }

  /** Empties every data table (queue deletion); the schema stays. */
  wipe(): void {
    for (const t of DATA_TABLES) this.#sql.exec(`DELETE FROM ${t}`);
    this.counters.discard(); // the counters table is gone: nothing pending applies
  }

  // ---- sending ----

  /** Messages and bytes stored now (backpressure). */
  depth(): { messages: number; bytes: number } {
    return { messages: this.#counter("messages"), bytes: this.#counter("bytes") };
  }

  /** Inserts a message with the next seq, visible or delayed, and returns that seq. */
  send(m: NewMessage): number {
    const seq = this.#counter("next_seq") + 1;
    this.#bump("next_seq", 1);
    const state = m.visibleAt === null ? VISIBLE : DELAYED;
    this.#insert(seq, m);
    this.#bump("messages", 1);
    this.#bump("bytes", m.bytes);
    // A new message is never ahead of an existing group head; only a new group needs a row.
    if (this.fifo) {
      this.#sql.exec("INSERT INTO fifo_groups (grp, head, ready) VALUES (?, ?, ?) ON CONFLICT (grp) DO NOTHING", m.grp, seq, state === VISIBLE ? 1 : 0);
    }
    return seq;
  }

  /**
   * `send` for a batch: contiguous seqs, set-based inserts (one statement per bound JSON
   * array, usually one per batch), counters changed once. Returns each message's seq.
   */
  sendMany(ms: readonly NewMessage[]): number[] {
    if (ms.length === 0) return [];
    const first = this.#counter("next_seq") + 1;
    this.#bump("next_seq", ms.length);
    const rows: unknown[][] = [];
    ms.forEach((m, i) => {
      // A large message goes in alone: escaped inside a JSON array it could pass the 2 MB a bound string may have.
      if (m.body.length + (m.headers?.length ?? 0) > LARGE_MESSAGE_CHARS) return this.#insert(first + i, m);
      rows.push([
        first + i, m.id, m.body, m.headers, m.grp, m.bytes, m.sentAt, m.visibleAt === null ? VISIBLE : DELAYED, m.visibleAt ?? 0,
        m.attempts, m.origin, m.attrTypes ?? null,
      ]);
    });
    for (const [, json] of boundJsonArrays(rows)) {
      this.#sql.exec(
        `INSERT INTO messages (seq, id, body, headers, grp, bytes, sent_at, state, due_at, attempts, origin, attr_types)
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8,
                value ->> 9, value ->> 10, value ->> 11
         FROM json_each(?)`,
        json,
      );
    }
    this.#bump("messages", ms.length);
    this.#bump("bytes", ms.reduce((n, m) => n + m.bytes, 0));
    if (this.fifo) {
      ms.forEach((m, i) => {
        this.#sql.exec(
          "INSERT INTO fifo_groups (grp, head, ready) VALUES (?, ?, ?) ON CONFLICT (grp) DO NOTHING", m.grp, first + i, m.visibleAt === null ? 1 : 0,
        );
      });
    }
    return ms.map((_, i) => first + i);
  }

  countSent(accepted: number, duplicates: number): void {
    this.#bump("sent", accepted);
    this.#bump("duplicates", duplicates);
  }

  // ---- leases ----

  /** Up to `limit` messages a receive may take now, lowest seq first (one per group on FIFO queues). */
  deliverable(limit: number): DeliverableRow[] {
    if (this.fifo) {
      return this.#sql
        .exec<DeliverableRow>(
          `SELECT ${DELIVERABLE_COLUMNS.map((c) => `m.${c}`).join(", ")} FROM fifo_groups g JOIN messages m ON m.seq = g.head
           WHERE g.ready = 1 ORDER BY g.head LIMIT ?`,
          limit,
        )
        .toArray();
    }
    return this.#sql
      .exec<DeliverableRow>(`SELECT ${DELIVERABLE_COLUMNS.join(", ")} FROM messages WHERE state = ? AND due_at = 0 ORDER BY seq LIMIT ?`, VISIBLE, limit)
      .toArray();
  }

  /**
   * Receive at `now`: each of `rows` in flight until `until` under its new receipt
   * (`receipts[i]` is `rows[i]`'s), one more attempt (the first delivery's time is kept).
   * One UPDATE for the batch, counted once. Returns the leased rows.
   */
  leaseMany(rows: readonly DeliverableRow[], receipts: readonly string[], until: number, consumer: string | null, now: number): DeliverableRow[] {
    if (rows.length === 0) return [];
    this.#sql.exec(
      `UPDATE messages SET state = ?, due_at = ?, consumer = ?, attempts = attempts + 1,
         first_received_at = coalesce(first_received_at, ?), receipt = j.value ->> 1
       FROM json_each(?) AS j WHERE messages.seq = j.value ->> 0`,
      IN_FLIGHT, until, consumer, now, JSON.stringify(rows.map((r, i) => [r.seq, receipts[i]])),
    );
    this.#bump("received", rows.length);
    if (this.fifo) for (const grp of new Set(rows.map((r) => r.grp))) this.#refreshGroup(grp);
    return rows.map((row) => ({ ...row, attempts: row.attempts + 1, first_received_at: row.first_received_at ?? now }));
  }

  /** At-most-once receive: the message is deleted as it is delivered. Returns it as delivered. */
  deliverOnce(row: DeliverableRow, now: number): DeliverableRow {
    this.#remove(row);
    this.#bump("received", 1);
    return { ...row, attempts: row.attempts + 1, first_received_at: row.first_received_at ?? now };
  }

  /** The in-flight row `receipt` names, while its lease holds at `now`. */
  leased(seq: number, receipt: string, now: number): MessageRow | undefined {
    const row = this.#sql.exec<MessageRow>("SELECT * FROM messages WHERE seq = ?", seq).toArray()[0];
    return row && row.state === IN_FLIGHT && row.receipt === receipt && row.due_at > now ? row : undefined;
  }

  /**
   * The leases among `seqs` that hold at `now` (in flight, lease not ended), by seq: one
   * query for a whole ack batch, reading only what an ack needs.
   */
  leasedMany(seqs: readonly number[], now: number): Map<number, LeaseRef> {
    const out = new Map<number, LeaseRef>();
    if (seqs.length === 0) return out;
    // State and lease end are checked here, not in SQL: given `state = ?`, the planner would
    // walk the state index over every lease in flight instead of looking the seqs up.
    for (const row of this.#sql.exec<LeaseRef & Pick<MessageRow, "state" | "due_at">>(
      "SELECT seq, receipt, bytes, grp, state, due_at FROM messages WHERE seq IN (SELECT value FROM json_each(?))", JSON.stringify(seqs),
    )) {
      if (row.state === IN_FLIGHT && row.due_at > now) out.set(row.seq, { seq: row.seq, receipt: row.receipt, bytes: row.bytes, grp: row.grp });
    }
    return out;
  }

  /** Acks leases `leasedMany` found (receipts checked by the caller): one DELETE, counters changed once. */
  ackMany(rows: readonly LeaseRef[]): void {
    if (rows.length === 0) return;
    this.#sql.exec("DELETE FROM messages WHERE seq IN (SELECT value FROM json_each(?))", JSON.stringify(rows.map((r) => r.seq)));
    this.#bump("messages", -rows.length);
    this.#bump("bytes", -rows.reduce((n, r) => n + r.bytes, 0));
    this.#bump("acked", rows.length);
    if (this.fifo) for (const grp of new Set(rows.map((r) => r.grp))) this.#refreshGroup(grp);
  }

  /** A lease ended without an ack (nack, expiry, consumer gone): visible now, or at `visibleAt`. */
  release(row: MessageRow, visibleAt: number | null): void {
    this.#sql.exec(
      "UPDATE messages SET state = ?, due_at = ?, receipt = NULL, consumer = NULL WHERE seq = ?",
      visibleAt === null ? VISIBLE : DELAYED, visibleAt ?? 0, row.seq,
    );
    this.#refreshGroup(row.grp);
  }

  /**
   * A delivery the consumer never ran (taken ahead of need, handed back unstarted): visible
   * now and not counted, so prefetch never spends a message's `maxReceives` budget.
   */
  handBack(row: MessageRow): void {
    this.#sql.exec(
      "UPDATE messages SET state = ?, due_at = 0, receipt = NULL, consumer = NULL, attempts = MAX(attempts - 1, 0) WHERE seq = ?",
      VISIBLE, row.seq,
    );
    this.#refreshGroup(row.grp);
  }

  /** The lease now ends at `until` (receipt and consumer unchanged). */
  extendLease(row: MessageRow, until: number): void {
    this.#sql.exec("UPDATE messages SET due_at = ? WHERE seq = ?", until, row.seq);
  }

  /** Up to `limit` leases ended at `now`, earliest first. */
  expiredLeases(now: number, limit: number): MessageRow[] {
    return this.#sql.exec<MessageRow>("SELECT * FROM messages WHERE state = ? AND due_at <= ? ORDER BY due_at LIMIT ?", IN_FLIGHT, now, limit).toArray();
  }

  /** Makes up to `limit` delayed messages whose time came visible; returns how many. */
  promoteDelayed(now: number, limit: number): number {
    const rows = this.#sql.exec<MessageRow>("SELECT * FROM messages WHERE state = ? AND due_at <= ? ORDER BY due_at LIMIT ?", DELAYED, now, limit).toArray();
    for (const row of rows) this.release(row, null);
    return rows.length;
  }

  /** The leases a WebSocket consumer holds. */
  leasesHeldBy(consumer: string): MessageRow[] {
    return this.#sql.exec<MessageRow>("SELECT * FROM messages WHERE consumer = ? AND state = ?", consumer, IN_FLIGHT).toArray();
  }

  countHeldBy(consumer: string): number {
    return this.#sql.exec<{ n: number }>("SELECT count(*) AS n FROM messages WHERE consumer = ? AND state = ?", consumer, IN_FLIGHT).one().n;
  }

  // ---- moves to and from other queues ----

  /** Delivered `maxReceives` times: counted, deleted, and put in the outbox for `to` (none: dropped). */
  deadLetter(row: MessageRow, to: { target: string; moveKey: string; letter: string } | null, now: number): void {
    this.#bump("deadLettered", 1);
    if (to) this.moveOut(row, to.target, to.moveKey, to.letter, now);
    else this.#remove(row);
  }

  /**
   * Up to `max` messages a redrive may take, oldest first: not in flight, and unless `to` is
   * given, with a queue as origin. An origin holding `/` is a consumer group's
   * (`"topic/group"`), which no queue can take; a queue name never holds one.
   */
  redrivable(to: string | null, max: number): MessageRow[] {
    return this.#sql
      .exec<MessageRow>(
        `SELECT * FROM messages WHERE state != ? AND (? IS NOT NULL OR (origin IS NOT NULL AND instr(origin, '/') = 0))
         ORDER BY seq LIMIT ?`,
        IN_FLIGHT, to, max,
      )
      .toArray();
  }

  /** Messages (not in flight) a redrive without `to` cannot take: no origin, or a group's. */
  countWithoutQueueOrigin(): number {
    return this.#sql
      .exec<{ n: number }>("SELECT count(*) AS n FROM messages WHERE state != ? AND (origin IS NULL OR instr(origin, '/') > 0)", IN_FLIGHT)
      .one().n;
  }

  /** Deletes the message and queues its letter in the outbox, in one step: it is always in one place. */
  moveOut(row: MessageRow, target: string, moveKey: string, letter: string, now: number): void {
    this.#remove(row);
    this.outbox.add(moveKey, target, letter, now);
  }

  /** Writes a letter moved in unless its key was accepted before; records the key until `keyExpiresAt`. */
  acceptLetter(moveKey: string, m: NewMessage, keyExpiresAt: number): boolean {
    if (this.moveKeys.has(moveKey)) return false;
    this.send(m);
    this.moveKeys.add(moveKey, keyExpiresAt);
    this.#bump("sent", 1);
    return true;
  }

  // ---- removal ----

  /** Deletes every message; returns how many there were. */
  purge(): number {
    const { messages, bytes } = this.depth();
    this.#sql.exec("DELETE FROM messages");
    this.#sql.exec("DELETE FROM fifo_groups");
    this.#bump("messages", -messages);
    this.#bump("bytes", -bytes);
    return messages;
  }

  /** Deletes up to `limit` messages sent at or before `cutoff`; returns how many. Seq order is send order. */
  enforceRetention(cutoff: number, limit: number): number {
    if ((this.#oldest()?.sent_at ?? Infinity) > cutoff) return 0;
    const rows = this.#sql
      .exec<Pick<MessageRow, "seq" | "bytes" | "grp" | "sent_at">>("SELECT seq, bytes, grp, sent_at FROM messages ORDER BY seq LIMIT ?", limit)
      .toArray();
    let removed = 0;
    for (const row of rows) {
      if (row.sent_at > cutoff) break;
      this.#remove(row);
      removed++;
    }
    return removed;
  }

  // ---- reading ----

  /** Stats as API.md names them, in its order; `consumers` (sockets are not in SQL) comes from the caller. */
  stats(now: number, consumers: number): QueueStats {
    const c = this.counters.all();
    const oldest = this.#oldest();
    return {
      visible: this.#countState(VISIBLE),
      inFlight: this.#countState(IN_FLIGHT),
      delayed: this.#countState(DELAYED),
      messages: c.messages ?? 0,
      bytes: c.bytes ?? 0,
      oldestAgeMs: oldest ? Math.max(0, now - oldest.sent_at) : 0,
      consumers,
      sent: c.sent ?? 0,
      received: c.received ?? 0,
      acked: c.acked ?? 0,
      deadLettered: c.deadLettered ?? 0,
      duplicates: c.duplicates ?? 0,
    };
  }

  /** The first `limit` messages in seq order with the state peek shows (a delayed one whose time came is visible). */
  peek(limit: number, now: number): Array<{ row: MessageRow; state: PeekState }> {
    return this.#sql.exec<MessageRow>("SELECT * FROM messages ORDER BY seq LIMIT ?", limit).toArray().map((row) => ({
      row,
      state: row.state === IN_FLIGHT ? "inFlight" : row.state === DELAYED && row.due_at > now ? "delayed" : "visible",
    }));
  }

  /**
   * The earliest time anything stored is due (a delay or lease ends, a dedup record or move
   * key expires, an outbox letter is to be sent, the Catalog registration retried, the
   * oldest message passes `retentionMs`), or null.
   */
  nextDeadline(retentionMs: number | null): number | null {
    // One statement instead of seven: every call of the queue ends by asking this. Each
    // subquery is an index seek; the side tables' own `nextExpiry` / `nextDue` ask the same.
    const d = this.#sql.exec<Record<"delayed" | "inFlight" | "dedup" | "moves" | "outbox" | "oldest" | "catalog", number | string | null>>(
      `SELECT
         (SELECT due_at FROM messages WHERE state = ?1 ORDER BY due_at LIMIT 1) AS delayed,
         (SELECT due_at FROM messages WHERE state = ?2 ORDER BY due_at LIMIT 1) AS inFlight,
         (SELECT expires_at FROM dedup ORDER BY expires_at LIMIT 1) AS dedup,
         (SELECT expires_at FROM moves ORDER BY expires_at LIMIT 1) AS moves,
         (SELECT next_at FROM outbox ORDER BY next_at LIMIT 1) AS outbox,
         (SELECT sent_at FROM messages ORDER BY seq LIMIT 1) AS oldest,
         (SELECT value FROM meta WHERE key = ?3) AS catalog`,
      DELAYED, IN_FLIGHT, CATALOG_REGISTER_AT,
    ).one();
    const candidates = [
      d.delayed, d.inFlight, d.dedup, d.moves, d.outbox,
      d.oldest !== null && retentionMs !== null ? Number(d.oldest) + retentionMs : null,
      d.catalog === null ? null : Number(d.catalog),
    ].filter((t) => t !== null).map(Number);
    return candidates.length ? Math.min(...candidates) : null;
  }

  // ---- internals ----

  /** One message row, bound column by column. */
  #insert(seq: number, m: NewMessage): void {
    this.#sql.exec(
      `INSERT INTO messages (seq, id, body, headers, grp, bytes, sent_at, state, due_at, attempts, origin, attr_types)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      seq, m.id, m.body, m.headers, m.grp, m.bytes, m.sentAt, m.visibleAt === null ? VISIBLE : DELAYED, m.visibleAt ?? 0, m.attempts,
      m.origin, m.attrTypes ?? null,
    );
  }

  #counter(name: CounterName): number {
    return this.counters.get(name);
  }

  #bump(name: CounterName, by: number): void {
    this.counters.add(name, by);
  }

  /** Deletes a message and keeps the counters and the group head right. */
  #remove(row: Pick<MessageRow, "seq" | "bytes" | "grp">): void {
    this.#sql.exec("DELETE FROM messages WHERE seq = ?", row.seq);
    this.#bump("messages", -1);
    this.#bump("bytes", -row.bytes);
    this.#refreshGroup(row.grp);
  }

  /** Recomputes a FIFO group's head and readiness after its messages changed. */
  #refreshGroup(grp: string): void {
    if (!this.fifo) return;
    const head = this.#sql.exec<{ seq: number; state: number }>("SELECT seq, state FROM messages WHERE grp = ? ORDER BY seq LIMIT 1", grp).toArray()[0];
    if (!head) {
      this.#sql.exec("DELETE FROM fifo_groups WHERE grp = ?", grp);
      return;
    }
    this.#sql.exec(
      "INSERT INTO fifo_groups (grp, head, ready) VALUES (?, ?, ?) ON CONFLICT (grp) DO UPDATE SET head = excluded.head, ready = excluded.ready",
      grp, head.seq, head.state === VISIBLE ? 1 : 0,
    );
  }

  #oldest(): { seq: number; sent_at: number } | undefined {
    return this.#sql.exec<{ seq: number; sent_at: number }>("SELECT seq, sent_at FROM messages ORDER BY seq LIMIT 1").toArray()[0];
  }

  #countState(state: MessageState): number {
    return this.#sql.exec<{ n: number }>("SELECT count(*) AS n FROM messages WHERE state = ?", state).one().n;
  }
}
