/**
 * When a subscription tries again after a failure. The position never moves past a message
 * that was not delivered (or dead-lettered), so a retry is only "when", decided here:
 *   - webhook retry backoff: exponential with jitter (shared/backoff.ts: about 1 s, doubling,
 *     at most 10 minutes), `maxAttempts` deliveries in all, then the dead-letter queue;
 *   - a target queue that refused or failed: the same backoff, capped at 30 s so a resent
 *     batch still falls inside the queue's (default 300 s) dedup window, and no sooner
 *     than the queue's Retry-After;
 *   - a dead-letter move that failed: the one mover's policy (shared/dead-letters.ts).
 * The forwarder records each failure with `store.fail(row, error, attempts, retryAt)`.
 */
import type { ErrorValue } from "../../../protocol/errors";
import { retryDelayMs } from "../../shared/backoff";
import { deadLetterRetryMs } from "../../shared/dead-letters";

/** Queue-target retries stay well inside a queue's default 300 s dedup window. */
export const QUEUE_RETRY_CAP_MS = 30_000;

/** Wait after a webhook's `failures`-th failed delivery of the same message. */
export function webhookRetryMs(failures: number): number {
  return retryDelayMs(failures);
}

/** Wait after a queue target's `failures`-th consecutive failure, honouring its Retry-After. */
export function queueRetryMs(failures: number, error: ErrorValue): number {
  const delay = Math.min(retryDelayMs(failures), QUEUE_RETRY_CAP_MS);
  if (error.retryAfter === undefined) return delay;
  return Math.min(Math.max(delay, error.retryAfter * 1000), QUEUE_RETRY_CAP_MS);
}

/**
 * Wait after a failed dead-letter move. A webhook row's `attempts` goes on counting past
 * `maxAttempts` while the move fails, so the moves that failed are the difference.
 */
export function deadLetterMoveRetryMs(attempts: number, maxAttempts: number): number {
  return deadLetterRetryMs(Math.max(1, attempts - maxAttempts));
}
