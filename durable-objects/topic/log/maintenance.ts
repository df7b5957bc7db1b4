/**
 * The log's alarm work: retention by time and by bytes, dedup expiry and compaction.
 * Nothing here runs on publish. Every pass works from an index or the head of the log
 * (offsets are the rowid and timestamps never decrease with offset), deletes in bounded
 * chunks, and reports what it freed so the caller can keep its counters.
 */
import type { LogState } from "./commit";

/** Rows one chunk deletes; an alarm keeps going until done or MAX_ROWS_PER_ALARM. */
const CHUNK_ROWS = 10_000;
export const MAX_ROWS_PER_ALARM = 200_000;

export interface Freed {
  rows: number;
  bytes: number;
}

/** Earliest time the log needs its alarm, from its state and two index seeks. */
export function logDeadline(sql: SqlStorage, state: LogState, now: number): number | null {
  const candidates: number[] = [];
  if (state.bytes > state.config.retentionBytes) candidates.push(now);
  if (state.compactDue !== null) candidates.push(state.compactDue);
  if (state.config.retention > 0) {
    const head = sql.exec<{ ts: number }>("SELECT ts FROM log_entries ORDER BY offset LIMIT 1").toArray()[0];
    if (head) candidates.push(head.ts + state.config.retention * 1000);
  }
  const dedup = sql.exec<{ e: number | null }>("SELECT MIN(expires_at) AS e FROM log_dedup").one().e;
  if (dedup !== null) candidates.push(dedup);
  return candidates.length ? Math.min(...candidates) : null;
}

/** Deletes up to `max` rows from the head of the log with offset < `before`. */
function deleteHead(sql: SqlStorage, before: number, max: number): Freed {
  const r = sql
    .exec<{ n: number; bytes: number | null; last: number | null }>(
      `SELECT COUNT(*) AS n, SUM(size) AS bytes, MAX(offset) AS last
       FROM (SELECT offset, size FROM log_entries WHERE offset < ? ORDER BY offset LIMIT ?)`,
      before, max,
    )
    .one();
  if (r.n === 0 || r.last === null) return { rows: 0, bytes: 0 };
  sql.exec("DELETE FROM log_entries WHERE offset <= ?", r.last);
  return { rows: r.n, bytes: r.bytes ?? 0 };
}

/** Removes messages older than the retention period (one chunk). */
export function expireByTime(sql: SqlStorage, state: LogState, now: number): Freed {
  if (state.config.retention <= 0) return { rows: 0, bytes: 0 };
  const cutoff = now - state.config.retention * 1000;
  const keep = sql
    .exec<{ offset: number }>("SELECT offset FROM log_entries WHERE ts >= ? ORDER BY ts LIMIT 1", cutoff)
    .toArray()[0];
  return deleteHead(sql, keep?.offset ?? state.next, CHUNK_ROWS);
}

/** Removes the oldest messages until the partition holds at most `retentionBytes` (one chunk). */
export function trimToBytes(sql: SqlStorage, state: LogState): Freed {
  const excess = state.bytes - state.config.retentionBytes;
  if (excess <= 0) return { rows: 0, bytes: 0 };
  // The smallest head prefix whose sizes add up to the excess.
  const r = sql
    .exec<{ offset: number }>(
      `SELECT offset FROM (
         SELECT offset, SUM(size) OVER (ORDER BY offset) AS running
         FROM (SELECT offset, size FROM log_entries ORDER BY offset LIMIT ?)
       ) WHERE running >= ? ORDER BY offset LIMIT 1`,
      CHUNK_ROWS, excess,
    )
    .toArray()[0];
  return deleteHead(sql, r ? r.offset + 1 : state.next, CHUNK_ROWS);
}

/** Forgets dedup records whose window has passed (one chunk). */
export function expireDedup(sql: SqlStorage, now: number): number {
  return sql.exec(
    "DELETE FROM log_dedup WHERE id IN (SELECT id FROM log_dedup WHERE expires_at <= ? LIMIT ?)",
    now, CHUNK_ROWS,
  ).rowsWritten;
}

/**
 * For keys written since the last pass, deletes every message but the newest (one chunk
 * of keys). Offsets stay as they are; the superseded ones simply disappear.
 * Returns the freed rows and bytes, and whether keys remain.
 */
export function compactKeys(sql: SqlStorage): Freed & { more: boolean } {
  const keys = sql
    .exec<{ key: string }>("SELECT key FROM log_compact LIMIT ?", 1000)
    .toArray()
    .map((r) => r.key);
  let rows = 0;
  let bytes = 0;
  for (const key of keys) {
    for (const r of sql.exec<{ size: number }>(
      `DELETE FROM log_entries
       WHERE key = ?1 AND offset < (SELECT MAX(offset) FROM log_entries WHERE key = ?1)
       RETURNING size`,
      key,
    )) {
      rows++;
      bytes += r.size;
    }
  }
  if (keys.length > 0) sql.exec("DELETE FROM log_compact WHERE key IN (SELECT value FROM json_each(?))", JSON.stringify(keys));
  const more = sql.exec("SELECT 1 FROM log_compact LIMIT 1").toArray().length > 0;
  return { rows, bytes, more };
}
