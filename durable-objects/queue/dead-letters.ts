/**
 * Dead letters and redrive: moving messages from this queue into another queue object,
 * through the one dead-letter mover (shared/dead-letters.ts: move keys, retry policy,
 * chunked sends) with an outbox here.
 *
 * A move crosses two objects, so it cannot be one transaction. It is made exactly-once with
 * an outbox row in the source and an idempotency key recorded in the target:
 *  1. The source transaction that ends the message's life here (the lease that reached
 *     `maxReceives`, or a redrive) deletes the message row and inserts an outbox row holding
 *     the letter and a move key unique to this move (`moveKey(queue, createdAt, seq)`).
 *     Both commit or neither does.
 *  2. After that commit, and again by alarm with backoff until it succeeds, the source sends
 *     the letters to the target's `receiveDeadLetter`. In one transaction the target inserts
 *     the message and records the key in `moves`; a key it already holds is skipped.
 *  3. Once that call returned ok, the source deletes the outbox row.
 * A restart before 2 leaves the outbox row and the alarm sends it; a restart between 2 and 3
 * leaves it too, the retry carries the same key, and the target skips it. So the message is
 * always in exactly one place that will deliver it: the source's messages, the source's
 * outbox, or the target.
 */
import type { Env } from "../env";
import type { Result } from "../../protocol/errors";
import { isValidName } from "../../protocol/names";
import { now } from "../shared/clock";
import { MOVE_KEY_TTL_MS, deadLetterRetryMs, moveKey, sendDeadLetters } from "../shared/dead-letters";
import type { QueueContext } from "./context";
import { messageBytes } from "./send";
import type { MessageRow, OutboxRow, QueueStore } from "./store/queue-store";
import type { DeadLetterInput, DeadLetterResult } from "../../protocol/queues";

/** Outbox rows sent per flush; leftovers are due at once, so the alarm comes back for them. */
const FLUSH_BATCH = 1000;
/** Move keys the alarm deletes per run. */
const EXPIRE_BATCH = 1000;

function letterOf(q: QueueContext, row: MessageRow, attempts: number, origin: string | null): DeadLetterInput {
  const letter: DeadLetterInput = {
    moveKey: moveKey(q.name, q.incarnation, row.seq),
    id: row.id,
    body: JSON.parse(row.body) as unknown,
    attempts,
    origin,
  };
  if (row.headers) letter.headers = JSON.parse(row.headers) as Record<string, string>;
  if (row.attr_types) letter.attributeTypes = JSON.parse(row.attr_types) as Record<string, string>;
  if (row.grp !== "") letter.group = row.grp;
  return letter;
}

/** The message was delivered `maxReceives` times: drop it (`deadLetterQueue: null`) or move it. */
export function moveToDeadLetters(q: QueueContext, row: MessageRow): void {
  const target = q.config.deadLetterQueue;
  if (target === null) return q.store.deadLetter(row, null, q.now);
  const letter = letterOf(q, row, row.attempts, q.name);
  q.store.deadLetter(row, { target, moveKey: letter.moveKey, letter: JSON.stringify(letter) }, q.now);
}

/** What a redrive did: letters moved, and (only when some) letters left because they need `to`. */
export interface RedriveOutcome {
  moved: number;
  needTo?: number;
}

/**
 * Takes up to `max` dead letters that are not in flight, oldest first, for a redrive to `to`
 * or, without `to`, each to the queue it came from. Letters that did not come from a queue
 * (from a consumer group, a subscription, or sent here directly) need `to`: without it they
 * stay, the answer counts them in `needTo`, and when nothing could move it is
 * VALIDATION_FAILED. A letter is never sent where no queue can take it.
 */
export function takeForRedrive(q: QueueContext, to: string | null, max: number): Result<RedriveOutcome> {
  const rows = q.store.redrivable(to, max);
  for (const row of rows) {
    const letter = letterOf(q, row, 0, null);
    q.store.moveOut(row, (to ?? row.origin)!, letter.moveKey, JSON.stringify(letter), q.now);
  }
  const needTo = to === null ? q.store.countWithoutQueueOrigin() : 0;
  if (rows.length === 0 && needTo > 0) {
    return {
      ok: false,
      error: {
        code: "VALIDATION_FAILED",
        message: `to: ${needTo} letter(s) here came from a consumer group or a subscription (or were sent here directly) and need a target queue; nothing was moved`,
        details: { field: "to", needTo },
      },
    };
  }
  return { ok: true, value: needTo > 0 ? { moved: rows.length, needTo } : { moved: rows.length } };
}

/**
 * Writes letters moved in from elsewhere, skipping move keys already accepted. Moves are not
 * subject to dedup or to the space limits: refusing them would only keep them in the
 * sender's outbox, and a dead letter must never be lost.
 */
export function acceptLetters(q: QueueContext, letters: readonly DeadLetterInput[]): DeadLetterResult {
  let accepted = 0;
  for (const l of letters) {
    const body = JSON.stringify(l.body ?? null);
    const headers = l.headers && Object.keys(l.headers).length > 0 ? JSON.stringify(l.headers) : null;
    const message = {
      id: l.id, body, headers, grp: l.group ?? "", bytes: messageBytes(body, headers),
      sentAt: q.now, visibleAt: null, attempts: l.attempts, origin: l.origin ?? null,
      attrTypes: l.attributeTypes && Object.keys(l.attributeTypes).length > 0 ? JSON.stringify(l.attributeTypes) : null,
    };
    if (q.store.acceptLetter(l.moveKey, message, q.now + MOVE_KEY_TTL_MS)) accepted++;
  }
  return { accepted, skipped: letters.length - accepted };
}

/**
 * An outbox letter whose target is no queue name: a redrive of a group's letter to its
 * origin `"topic/group"`, as versions before this rule made. No queue can ever take it, so
 * it comes back here as a message without an origin (a redrive of it then needs `to`).
 */
function returnStranded(store: QueueStore, row: OutboxRow): void {
  const l = JSON.parse(row.letter) as DeadLetterInput;
  const body = JSON.stringify(l.body ?? null);
  const headers = l.headers && Object.keys(l.headers).length > 0 ? JSON.stringify(l.headers) : null;
  const at = now();
  store.acceptLetter(row.move_key, {
    id: l.id, body, headers, grp: l.group ?? "", bytes: messageBytes(body, headers),
    sentAt: at, visibleAt: null, attempts: l.attempts, origin: null,
  }, at + MOVE_KEY_TTL_MS);
  store.outbox.delivered([row.move_key]);
}

/** Deletes move keys old enough that no retry of their move can still come (by alarm). */
export function expireMoveKeys(q: QueueContext): void {
  q.store.moveKeys.expire(q.now, EXPIRE_BATCH);
}

/**
 * Sends due outbox rows to their targets; rows whose send failed back off and stay. Safe to
 * call concurrently with itself (a row sent twice is skipped by its key in the target).
 * `transact` runs one SQL transaction. Returns true when every due row went out.
 */
export async function flushOutbox(store: QueueStore, env: Env, transact: <T>(fn: () => T) => T): Promise<boolean> {
  const byTarget = new Map<string, OutboxRow[]>();
  for (const r of store.outbox.due(now(), FLUSH_BATCH)) {
    if (!isValidName(r.target)) {
      transact(() => returnStranded(store, r));
      continue;
    }
    const rows = byTarget.get(r.target);
    if (rows) rows.push(r);
    else byTarget.set(r.target, [r]);
  }
  let allSent = true;
  for (const [target, rows] of byTarget) {
    const sent = await sendDeadLetters(env, target, rows.map((r) => JSON.parse(r.letter) as DeadLetterInput));
    allSent &&= sent.ok;
    transact(() => {
      // On failure every row waits, also those of chunks that landed: their retry is skipped there.
      if (sent.ok) store.outbox.delivered(rows.map((r) => r.move_key));
      else for (const r of rows) store.outbox.retryAt(r.move_key, now() + deadLetterRetryMs(r.tries + 1));
    });
  }
  return allSent;
}
