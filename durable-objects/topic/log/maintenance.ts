/**
 * The log's alarm work: retention by time and by bytes, dedup expiry and compaction, and
 * when the log needs its alarm. Nothing here runs on publish. Every pass (store.ts) works
 * from an index or the head of the log (offsets are the rowid and timestamps never decrease
 * with offset) and deletes one bounded chunk; this file decides which passes are due and
 * keeps the counters in step with what they freed.
 */
import type { Freed, LogState, LogStore } from "./store";

/** Rows one alarm run removes at most; the rest waits for the next run (set for now). */
export const MAX_ROWS_PER_ALARM = 200_000;

/** Earliest time the log needs its alarm, from its state and two index seeks. */
export function logDeadline(store: LogStore, state: LogState, now: number): number | null {
  const candidates: number[] = [];
  if (state.bytes > state.config.retentionBytes) candidates.push(now);
  if (state.compactDue !== null) candidates.push(state.compactDue);
  if (state.config.retention > 0) {
    const head = store.headTimestamp();
    if (head !== null) candidates.push(head + state.config.retention * 1000);
  }
  const dedup = store.earliestDedupExpiry();
  if (dedup !== null) candidates.push(dedup);
  return candidates.length ? Math.min(...candidates) : null;
}

/**
 * The earliest deadline a commit at `at` may have added (its messages' retention and dedup
 * expiry, a trim it made due, compaction): the log asks for the alarm by then, and the
 * scheduler leaves an earlier alarm alone, so a publish costs no query here.
 */
export function commitDeadline(s: LogState, at: number): number | null {
  const candidates: number[] = [];
  if (s.bytes > s.config.retentionBytes) candidates.push(at);
  if (s.compactDue !== null) candidates.push(s.compactDue);
  if (s.config.retention > 0) candidates.push(at + s.config.retention * 1000);
  if (s.config.deduplicationWindow > 0) candidates.push(at + s.config.deduplicationWindow * 1000);
  return candidates.length ? Math.min(...candidates) : null;
}

/**
 * Runs every pass that is due at `now`, each chunk in its own transaction, until done or
 * MAX_ROWS_PER_ALARM rows are gone. `s` follows each committed chunk. Returns whether any
 * message was removed (the first kept offset may have moved).
 */
export function runMaintenance(store: LogStore, s: LogState, now: number, transaction: <T>(fn: () => T) => T): boolean {
  let budget = MAX_ROWS_PER_ALARM;
  let removed = false;
  const run = (pass: () => Freed): boolean => {
    const freed = transaction(() => {
      const f = pass();
      if (f.rows > 0) store.saveCounters(s.bytes - f.bytes);
      return f;
    });
    if (freed.rows > 0) {
      s.bytes -= freed.bytes;
      removed = true;
    }
    budget -= freed.rows;
    return budget > 0 && freed.rows > 0;
  };
  if (s.config.retention > 0) {
    const cutoff = now - s.config.retention * 1000;
    while (run(() => store.expireBefore(cutoff, s.next)));
  }
  while (s.bytes > s.config.retentionBytes && run(() => store.trimBytes(s.bytes - s.config.retentionBytes, s.next)));
  if (s.compactDue !== null) {
    let more = true;
    while (more && budget > 0) {
      const r = transaction(() => {
        const f = store.compactKeys();
        s.compactDue = f.more ? now : null;
        store.saveCounters(s.bytes - f.bytes, s.compactDue);
        return f;
      });
      s.bytes -= r.bytes;
      if (r.rows > 0) removed = true;
      budget -= Math.max(1, r.rows);
      more = r.more;
    }
  }
  while (budget > 0) {
    const n = store.expireDedup(now);
    budget -= n;
    if (n === 0) break;
  }
  return removed;
}
