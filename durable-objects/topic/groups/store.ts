/**
 * Consumer groups' tables in a partition and the choice of what a poll delivers.
 *
 * A group here is a `cursor` (the lowest offset never delivered) plus one row per message
 * delivered and not yet behind the committed offset: in flight (leased), ready (its lease
 * ran out; redelivered before new messages), dead (past maxDeliveries, on its way to the
 * dead-letter queue) or acked (kept only until every offset below
 * it is acked too). The committed offset is therefore the lowest of the cursor and the
 * unacked rows, and nothing ever counts the log.
 */
import type { GroupConfig } from "./types";
import type { LogEntry, LogReader } from "../types";

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
];

/** Row states of `grp_msg`; below ACKED is unacked. `deadline` is set only for the first and third. */
export const IN_FLIGHT = 0;
export const READY = 1;
/** Past maxDeliveries, waiting to be moved to the dead-letter queue (deadline: next try). */
export const DEAD = 2;
export const ACKED = 3;

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

/** Lowest unacked offset: below it every kept message of the partition is acked. */
export function committedOf(sql: SqlStorage, log: LogReader, g: GroupRow): number {
  const r = sql.exec<{ m: number | null }>("SELECT MIN(offset) AS m FROM grp_msg WHERE grp = ? AND state < ?", g.name, ACKED).one();
  const lowest = r.m === null ? g.cursor : Math.min(g.cursor, r.m);
  return Math.max(lowest, log.first());
}

export function inFlightCount(sql: SqlStorage, group: string, now: number): number {
  return sql.exec<{ n: number }>(
    "SELECT COUNT(*) AS n FROM grp_msg WHERE grp = ? AND state = ? AND deadline > ?", group, IN_FLIGHT, now,
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
  sql.exec("DELETE FROM grp_msg WHERE grp = ? AND state = ? AND offset < ?", g.name, ACKED, committed);
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
      "SELECT DISTINCT key FROM grp_msg WHERE grp = ? AND state = ? AND deadline > ? AND key IS NOT NULL", g.name, IN_FLIGHT, now,
    )) blocked.add(r.key);
  }
  const due = sql.exec<{ offset: number; key: string | null; state: number; attempts: number }>(
    `SELECT offset, key, state, attempts FROM grp_msg
     WHERE grp = ? AND (state = ? OR (state = ? AND deadline <= ?)) ORDER BY offset LIMIT ?`,
    g.name, READY, IN_FLIGHT, now, SCAN_LIMIT,
  ).toArray();
  for (const r of due) {
    if (picks.length >= max) break;
    // Past maxDeliveries: the alarm moves it to the dead-letter queue; never redeliver it.
    if (r.state === IN_FLIGHT && poison > 0 && r.attempts >= poison) continue;
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
      "SELECT DISTINCT key FROM grp_msg WHERE grp = ? AND state < ? AND key IS NOT NULL", g.name, ACKED,
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
