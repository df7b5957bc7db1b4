/**
 * The dedup window: a message whose `id` was accepted within the queue's
 * `deduplicationWindow` is not enqueued again, and the sender is told the original `seq`.
 * Each accepted id leaves a record until the window ends; the alarm deletes expired records
 * (bounded per run), after which the id is accepted again. A window of 0 keeps no records.
 * Moves into a queue (dead letters, redrives) are not subject to it (dead-letters.ts).
 */
import type { QueueContext } from "./context";

/** Records the alarm deletes per run; leftovers keep the next deadline in the past. */
const EXPIRE_BATCH = 1000;

/** The seq under which `id` was accepted within the window, or null (also when dedup is off). */
export function acceptedWithinWindow(q: QueueContext, id: string): number | null {
  return q.config.deduplicationWindow > 0 ? q.store.dedup.find(id, q.now) : null;
}

/** Opens the window for an id just accepted as `seq`. */
export function rememberAccepted(q: QueueContext, id: string, seq: number): void {
  if (q.config.deduplicationWindow > 0) q.store.dedup.remember(id, seq, q.now + q.config.deduplicationWindow * 1000);
}

/** Deletes records whose window has ended (by alarm). */
export function expireDedupRecords(q: QueueContext): void {
  q.store.dedup.expire(q.now, EXPIRE_BATCH);
}
