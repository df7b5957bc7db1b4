/**
 * The dedup window: a message whose `id` was accepted within the queue's
 * `deduplicationWindow` is not enqueued again, and the sender is told the original `seq`.
 * Each accepted id leaves a record until the window ends; the alarm deletes expired records
 * (bounded per run), after which the id is accepted again. A window of 0 keeps no records.
 * Moves into a queue (dead letters, redrives) are not subject to it (dead-letters.ts).
 * The records are bounded: `dedupRecordsFull` refuses a send that would keep too many.
 */
import type { ErrorValue } from "../../protocol/errors";
import { DEDUP_RECORDS_PER_MAX_MESSAGE } from "../../protocol/limits";
import type { QueueContext } from "./context";

/** Records the alarm deletes per run; leftovers keep the next deadline in the past. */
const EXPIRE_BATCH = 1000;

/** The ids of a batch accepted within the window, with the seq each was accepted as (empty when dedup is off); one lookup. */
export function acceptedWithinWindowMany(q: QueueContext, ids: readonly string[]): Map<string, number> {
  return q.config.deduplicationWindow > 0 ? q.store.dedup.findMany(ids, q.now) : new Map();
}

/** Opens the window for a batch of distinct ids just accepted (`[id, seq]`). */
export function rememberAcceptedMany(q: QueueContext, accepted: ReadonlyArray<readonly [string, number]>): void {
  if (q.config.deduplicationWindow > 0) q.store.dedup.rememberMany(accepted, q.now + q.config.deduplicationWindow * 1000);
}

/** Deletes records whose window has ended (by alarm). */
export function expireDedupRecords(q: QueueContext): void {
  q.store.dedup.expire(q.now, EXPIRE_BATCH);
}

/**
 * Dedup records are bounded (API.md, Conventions → Quotas): a queue keeps at most
 * `10 × maxMessages`, so a long window with a high send rate cannot grow storage without
 * bound while `messages` stays small. Past that, a send of new ids is QUEUE_FULL until
 * records expire; `Retry-After` says when the first one does.
 */
export function dedupRecordsFull(q: QueueContext, newRecords: number, minRetryAfter: number): ErrorValue | null {
  if (q.config.deduplicationWindow === 0) return null;
  const limit = DEDUP_RECORDS_PER_MAX_MESSAGE * q.config.maxMessages;
  const records = q.store.dedup.count();
  if (records + newRecords <= limit) return null;
  const nextExpiry = q.store.dedup.nextExpiry() ?? q.now;
  return {
    code: "QUEUE_FULL",
    message: `queue keeps ${records} dedup records, the most its maxMessages allows (${limit}); new ids are refused until records expire; nothing of this batch was written`,
    details: { dedupRecords: records, maxDedupRecords: limit },
    retryAfter: Math.max(minRetryAfter, Math.ceil((nextExpiry - q.now) / 1000)),
  };
}
