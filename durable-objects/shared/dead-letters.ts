/**
 * The one dead-letter mover: how a queue, a consumer group or a subscription hands a letter
 * to a dead-letter queue, with one move-key format and one retry policy.
 *
 * A move crosses two objects, so it cannot be one transaction. The source keeps the letter
 * in its own storage (a queue's outbox row, a group's DEAD row, a subscription's position)
 * until `sendDeadLetters` answered ok; the target records each move key in the same
 * transaction as the message, so a retry after a crash (the source cannot know whether the
 * first call landed) is skipped there. A letter is therefore always in exactly one place
 * that will deliver it. A move is never refused for the target's depth or dedup window.
 *
 * ```ts
 * const letter = { moveKey: moveKey(`${topic}#${p}/${group}`, incarnation, offset), id, body, attempts, origin };
 * const r = await sendDeadLetters(env, "orders.billing.dlq", [letter]);
 * if (!r.ok) retryAt = now() + deadLetterRetryMs(tries + 1); // keep the letter, try again by alarm
 * ```
 */
import type { Result } from "../../protocol/errors";
import type { DeadLetterInput, DeadLetterResult } from "../../protocol/queues";
import { queueStub, type Env } from "../env";
import { retryDelayMs } from "./backoff";
import { logThrown } from "./plain-errors";

/** How long a target remembers a move key: longer than any retry of the same move takes. */
export const MOVE_KEY_TTL_MS = 14 * 24 * 3600 * 1000;
/** Letters per call to the target. */
export const MOVE_CHUNK = 100;

/**
 * A move key, unique per move across every sender: where the letter was (`"jobs"`,
 * `"orders#0/billing"`, `"orders#0/hook"`), which incarnation of that source (so a source
 * deleted and created again never collides with its former moves), and its position there.
 */
export function moveKey(source: string, incarnation: string | number, position: string | number): string {
  return `${source}@${incarnation}#${position}`;
}

/**
 * Wait before retrying a failed move, after its `tries`-th failure: the same exponential
 * backoff with jitter as webhook retries (about 1 s, doubling, at most 10 minutes).
 */
export function deadLetterRetryMs(tries: number): number {
  return retryDelayMs(tries);
}

/**
 * Hands `letters` to the queue `target` (created with defaults if it does not exist) in
 * chunks. Never throws: a refused or failed call is an error result, logged as one plain
 * line, and the caller keeps the letters for a retry. A partial success can only be a
 * prefix of chunks; a retry of all of them is safe (the target skips keys it holds).
 */
export async function sendDeadLetters(env: Env, target: string, letters: readonly DeadLetterInput[]): Promise<Result<DeadLetterResult>> {
  const total: DeadLetterResult = { accepted: 0, skipped: 0 };
  for (let i = 0; i < letters.length; i += MOVE_CHUNK) {
    const chunk = letters.slice(i, i + MOVE_CHUNK);
    let r: Result<DeadLetterResult>;
    try {
      r = (await queueStub(env, target).receiveDeadLetter([...chunk])) as Result<DeadLetterResult>;
    } catch (err) {
      // The thrown text (a runtime reference, a stack overflow on a poison body) stays in the log.
      logThrown(`dead-letter move to '${target}'`, err);
      r = { ok: false, error: { code: "INTERNAL", message: `the dead-letter queue '${target}' did not answer; the move will be retried` } };
    }
    if (!r.ok) {
      console.warn(`dead-letter move to '${target}' failed, will retry: ${r.error.code} ${r.error.message}`);
      return r;
    }
    total.accepted += r.value.accepted;
    total.skipped += r.value.skipped;
  }
  return { ok: true, value: total };
}
