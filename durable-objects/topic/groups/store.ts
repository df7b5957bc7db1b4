/**
 * Consumer groups' tables in a partition, every statement on them (one function per state
 * transition of a delivered message) and the choice of what a poll delivers.
 *
 * A group here is a `cursor` (the lowest offset never delivered) plus one row per message
 * delivered and not yet behind the committed offset, in one of the `MessageState`s below.
 * The committed offset is therefore the lowest of the cursor and the unacked rows, and
 * nothing ever counts the log.
 */
import { migrate } from "../../shared/sql";
import type { GroupConfig } from "./types";
import type { LogEntry, LogReader } from "../types";

/** Numbered and additive: never edit one, append a new one. */
export const GROUP_MIGRATIONS: readonly string[] = [
  `CREATE TABLE grp (
     name TEXT PRIMARY KEY,
     topic TEXT NOT NULL,
     config TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     cursor INTEGER NOT NULL
   ) WITHOUT ROWID`,
  `CREATE TABLE grp_msg (
     grp TEXT NOT NULL,
     offset INTEGER NOT NULL,
     key TEXT,
     state INTEGER NOT NULL,
     lease TEXT,
     attempts INTEGER NOT NULL,
     deadline INTEGER,
     PRIMARY KEY (grp, offset)
   ) WITHOUT ROWID`,
  `CREATE INDEX grp_msg_deadline ON grp_msg (deadline) WHERE deadline IS NOT NULL`,
  // Failed moves of a dead row to the dead-letter queue so far (the mover's backoff).
  `ALTER TABLE grp_msg ADD COLUMN moves INTEGER NOT NULL DEFAULT 0`,
];

/**
 * States of a delivered message (`grp_msg.state`); below `acked` is unacked. `deadline` is
 * set only while in flight (the lease's end) and while dead (the next move try).
 *   inFlight → acked      an ack with the live lease (`ackLease`)
 *   inFlight → inFlight   a nack: no lease any more, due now or after a delay (`nackLease`)
 *   inFlight → ready      the lease ran out (`leaseExpired`); redelivered before new messages
 *   inFlight → dead       the lease ran out for the `maxDeliveries`-th time (`markDead`)
 *   dead → acked          the dead-letter queue took it, or there is none (`deadLettered`)
 */
export const MessageState = { inFlight: 0, ready: 1, dead: 2, acked: 3 } as const;
export type MessageState = (typeof MessageState)[keyof typeof MessageState];

export function migrateGroups(sql: SqlStorage): void {
  migrate(sql, GROUP_MIGRATIONS, "groups");
}

/** Most log entries one poll looks at past the cursor (bounds a poll's work under `ordered`). */
export const SCAN_LIMIT = 1000;
const READ_CHUNK = 100;

export interface GroupRow {
  name: string;
  topic: string;
  config: GroupConfig;
  createdAt: number;
  cursor: number;
}

export function loadGroup(sql: SqlStorage, name: string): GroupRow | null {
  const r = sql
    .exec<{ name: string; topic: string; config: string; created_at: number; cursor: number }>(
      "SELECT name, topic, config, created_at, cursor FROM grp WHERE name = ?", name,
    )
    .toArray()[0];
  return r ? { name: r.name, topic: r.topic, config: JSON.parse(r.config) as GroupConfig, createdAt: r.created_at, cursor: r.cursor } : null;
}

export function groupNames(sql: SqlStorage): string[] {
  return sql.exec<{ name: string }>("SELECT name FROM grp ORDER BY name").toArray().map((r) => r.name);
}

/** How many groups this partition has (the groups quota counts them at the home). */
export function groupCount(sql: SqlStorage): number {
  return sql.exec<{ n: number }>("SELECT count(*) AS n FROM grp").one().n;
}

export function insertGroup(sql: SqlStorage, g: GroupRow): void {
  sql.exec(
    "INSERT INTO grp (name, topic, config, created_at, cursor) VALUES (?, ?, ?, ?, ?)",
    g.name, g.topic, JSON.stringify(g.config), g.createdAt, g.cursor,
  );
}

export function saveConfig(sql: SqlStorage, name: string, config: GroupConfig): void {
  sql.exec("UPDATE grp SET config = ? WHERE name = ?", JSON.stringify(config), name);
}

export function saveCursor(sql: SqlStorage, name: string, cursor: number): void {
  sql.exec("UPDATE grp SET cursor = ? WHERE name = ?", cursor, name);
}

/** Forgets every group (the topic was deleted). */
export function clearGroups(sql: SqlStorage): void {
  sql.exec("DELETE FROM grp_msg");
  sql.exec("DELETE FROM grp");
}

// ---- delivered messages: one function per transition ----

/** A delivered message whose deadline passed: a lease that ran out, or a dead letter to move again. */
export interface DueRow {
  grp: string;
  offset: number;
  attempts: number;
  state: MessageState;
  /** Failed moves to the dead-letter queue so far. */
  moves: number;
}

/** The earliest lease end or dead-letter retry of any group here, or null. */
export function earliestDeadline(sql: SqlStorage): number | null {
  return sql.exec<{ at: number | null }>("SELECT MIN(deadline) AS at FROM grp_msg WHERE deadline IS NOT NULL").one().at;
}

/** Up to `limit` rows whose deadline is at or before `now`, earliest first. */
export function dueRows(sql: SqlStorage, now: number, limit: number): DueRow[] {
  return sql.exec<{ grp: string; offset: number; attempts: number; state: MessageState; moves: number }>(
    "SELECT grp, offset, attempts, state, moves FROM grp_msg WHERE deadline IS NOT NULL AND deadline <= ? ORDER BY deadline LIMIT ?",
    now, limit,
  ).toArray();
}

/** Leases the message at `offset` to a poll until `deadline` (its `attempts`-th delivery). */
export function lease(sql: SqlStorage, group: string, entry: LogEntry, leaseId: string, attempts: number, deadline: number): void {
  sql.exec(
    `INSERT OR REPLACE INTO grp_msg (grp, offset, key, state, lease, attempts, deadline) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    group, entry.offset, entry.key, MessageState.inFlight, leaseId, attempts, deadline,
  );
}

/** inFlight → acked, only with the live lease before it ran out. False when the receipt is not that. */
export function ackLease(sql: SqlStorage, group: string, offset: number, leaseId: string, now: number): boolean {
  return sql.exec(
    `UPDATE grp_msg SET state = ?, lease = NULL, deadline = NULL
     WHERE grp = ? AND offset = ? AND state = ? AND lease = ? AND deadline > ?`,
    MessageState.acked, group, offset, MessageState.inFlight, leaseId, now,
  ).rowsWritten > 0;
}

/**
 * A member handed the message back (nack): the lease ends at `until` (now, or after a
 * delay) exactly as if it had run out then, so the alarm and `select` redeliver (or
 * dead-letter) it the same way. Only the live lease before it ran out can do this. With
 * `attempted` false the member never ran the message (it was taken ahead of need and is
 * returned unrun), so this delivery is not counted in `attempts`.
 */
export function nackLease(sql: SqlStorage, group: string, offset: number, leaseId: string, now: number, until: number, attempted: boolean): boolean {
  return sql.exec(
    `UPDATE grp_msg SET lease = NULL, deadline = ?, attempts = CASE WHEN ? THEN attempts ELSE MAX(0, attempts - 1) END
     WHERE grp = ? AND offset = ? AND state = ? AND lease = ? AND deadline > ?`,
    until, attempted ? 1 : 0, group, offset, MessageState.inFlight, leaseId, now,
  ).rowsWritten > 0;
}

/** inFlight → ready: the lease ran out; the old receipt no longer acks. */
export function leaseExpired(sql: SqlStorage, group: string, offset: number): void {
  sql.exec("UPDATE grp_msg SET state = ?, lease = NULL, deadline = NULL WHERE grp = ? AND offset = ?", MessageState.ready, group, offset);
}

/** inFlight → dead: past maxDeliveries. The deadline (already due) stays, so a move is tried at once. */
export function markDead(sql: SqlStorage, group: string, offset: number): void {
  sql.exec("UPDATE grp_msg SET state = ?, lease = NULL WHERE grp = ? AND offset = ?", MessageState.dead, group, offset);
}

/** dead → acked: the dead-letter queue has it (or there is none to hand it to). */
export function deadLettered(sql: SqlStorage, group: string, offset: number): void {
  sql.exec(
    "UPDATE grp_msg SET state = ?, deadline = NULL WHERE grp = ? AND offset = ? AND state = ?",
    MessageState.acked, group, offset, MessageState.dead,
  );
}

/** A move of a dead row failed: it stays dead and is tried again at `retryAt`. */
export function moveFailed(sql: SqlStorage, group: string, offset: number, retryAt: number): void {
  sql.exec(
    "UPDATE grp_msg SET moves = moves + 1, deadline = ? WHERE grp = ? AND offset = ? AND state = ?",
    retryAt, group, offset, MessageState.dead,
  );
}

/** The message's row goes (it was compacted out of the log: nothing left to deliver). */
export function forgetMessage(sql: SqlStorage, group: string, offset: number): void {
  sql.exec("DELETE FROM grp_msg WHERE grp = ? AND offset = ?", group, offset);
}

/** Every row of the group goes (seek): leases out are void, their acks fail. */
export function forgetMessages(sql: SqlStorage, group: string): void {
  sql.exec("DELETE FROM grp_msg WHERE grp = ?", group);
}

/** Lowest unacked offset: below it every kept message of the partition is acked. */
export function committedOf(sql: SqlStorage, log: LogReader, g: GroupRow): number {
  const r = sql.exec<{ m: number | null }>("SELECT MIN(offset) AS m FROM grp_msg WHERE grp = ? AND state < ?", g.name, MessageState.acked).one();
  const lowest = r.m === null ? g.cursor : Math.min(g.cursor, r.m);
  return Math.max(lowest, log.first());
}

export function inFlightCount(sql: SqlStorage, group: string, now: number): number {
  return sql.exec<{ n: number }>(
    "SELECT COUNT(*) AS n FROM grp_msg WHERE grp = ? AND state = ? AND deadline > ?", group, MessageState.inFlight, now,
  ).one().n;
}

/**
 * Forgets what the log no longer holds (retention) and acked rows below the committed
 * offset; moves the cursor up to the first kept offset. Returns the committed offset.
 */
export function tidy(sql: SqlStorage, log: LogReader, g: GroupRow): number {
  const first = log.first();
  if (g.cursor < first) {
    g.cursor = first;
    saveCursor(sql, g.name, first);
  }
  sql.exec("DELETE FROM grp_msg WHERE grp = ? AND offset < ?", g.name, first);
  const committed = committedOf(sql, log, g);
  sql.exec("DELETE FROM grp_msg WHERE grp = ? AND state = ? AND offset < ?", g.name, MessageState.acked, committed);
  return committed;
}

export interface Pick {
  entry: LogEntry;
  /** Deliveries including this one. */
  attempts: number;
}

export interface Selection {
  picks: Pick[];
  /** Rows whose message was compacted away: nothing left to deliver. */
  vanished: number[];
  cursor: number;
}

/**
 * What a poll of `max` would deliver now: leases that ran out first (lowest offset first),
 * then new messages from the cursor. With `ordered`, a key with a message unacked (in
 * flight or awaiting redelivery) delivers nothing else until that one is acked.
 * Pure: the caller writes the leases.
 */
export function select(sql: SqlStorage, log: LogReader, g: GroupRow, now: number, max: number): Selection {
  const picks: Pick[] = [];
  const vanished: number[] = [];
  const ordered = g.config.ordered;
  const poison = g.config.maxDeliveries;
  const blocked = new Set<string>();
  if (ordered) {
    for (const r of sql.exec<{ key: string }>(
      "SELECT DISTINCT key FROM grp_msg WHERE grp = ? AND state = ? AND deadline > ? AND key IS NOT NULL", g.name, MessageState.inFlight, now,
    )) blocked.add(r.key);
  }
  const due = sql.exec<{ offset: number; key: string | null; state: number; attempts: number }>(
    `SELECT offset, key, state, attempts FROM grp_msg
     WHERE grp = ? AND (state = ? OR (state = ? AND deadline <= ?)) ORDER BY offset LIMIT ?`,
    g.name, MessageState.ready, MessageState.inFlight, now, SCAN_LIMIT,
  ).toArray();
  for (const r of due) {
    if (picks.length >= max) break;
    // Past maxDeliveries: the alarm moves it to the dead-letter queue; never redeliver it.
    if (r.state === MessageState.inFlight && poison > 0 && r.attempts >= poison) continue;
    if (ordered && r.key !== null) {
      const held = blocked.has(r.key);
      blocked.add(r.key);
      if (held) continue;
    }
    const entry = log.read(r.offset, 1)[0];
    if (!entry || entry.offset !== r.offset) {
      vanished.push(r.offset);
      continue;
    }
    picks.push({ entry, attempts: r.attempts + 1 });
  }
  if (ordered) {
    for (const r of sql.exec<{ key: string }>(
      "SELECT DISTINCT key FROM grp_msg WHERE grp = ? AND state < ? AND key IS NOT NULL", g.name, MessageState.acked,
    )) blocked.add(r.key);
  }
  // New messages. Rows past the cursor exist only where `ordered` delivered ahead.
  const ahead = new Set<number>();
  for (const r of sql.exec<{ offset: number }>("SELECT offset FROM grp_msg WHERE grp = ? AND offset >= ?", g.name, g.cursor)) {
    ahead.add(r.offset);
  }
  let cursor = g.cursor;
  let firstBlocked: number | null = null;
  let scanned = 0;
  let from = g.cursor;
  const end = log.next();
  scan: while (from < end && scanned < SCAN_LIMIT) {
    const chunk = log.read(from, READ_CHUNK);
    if (chunk.length === 0) {
      cursor = Math.max(cursor, end);
      break;
    }
    for (const entry of chunk) {
      scanned++;
      from = entry.offset + 1;
      if (ahead.has(entry.offset)) {
        if (firstBlocked === null) cursor = entry.offset + 1;
        continue;
      }
      if (picks.length >= max) break scan;
      if (ordered && entry.key !== null && blocked.has(entry.key)) {
        if (firstBlocked === null) firstBlocked = entry.offset;
        continue;
      }
      if (ordered && entry.key !== null) blocked.add(entry.key);
      picks.push({ entry, attempts: 1 });
      if (firstBlocked === null) cursor = entry.offset + 1;
    }
    if (chunk.length < READ_CHUNK && firstBlocked === null) cursor = Math.max(cursor, end);
  }
  return { picks, vanished, cursor: firstBlocked ?? cursor };
}
