/**
 * Dead letters and redrive: moving messages from this queue into another queue object.
 *
 * A move crosses two objects, so it cannot be one transaction. It is made exactly-once with
 * an outbox row in the source and an idempotency key recorded in the target:
 *  1. The source transaction that ends the message's life here (the lease that reached
 *     `maxReceives`, or a redrive) deletes the message row and inserts an outbox row holding
 *     the letter and a move key unique to this move (`<queue>@<createdAt>#<seq>`). Both
 *     commit or neither does.
 *  2. After that commit, and again by alarm with backoff until it succeeds, the source calls
 *     the target's `receiveDeadLetter` with the key. In one transaction the target inserts
 *     the message and records the key in `moves`; a key it already holds is skipped.
 *  3. Once that call returned ok, the source deletes the outbox row.
 * A restart before 2 leaves the outbox row and the alarm sends it; a restart between 2 and 3
 * leaves it too, the retry carries the same key, and the target skips it. So the message is
 * always in exactly one place that will deliver it: the source's messages, the source's
 * outbox, or the target.
 */
import type { Env } from "../env";
import type { Result } from "../../protocol/errors";
import { queueStub } from "../env";
import type { QueueContext } from "./leases";
import type { MessageRow, QueueStore } from "./store";
import { INFLIGHT } from "./store";
import type { DeadLetterInput, DeadLetterResult } from "../../protocol/queues";

/** How long a target remembers a move key (longer than any outbox retry takes). */
export const MOVE_KEY_TTL_MS = 14 * 24 * 3600 * 1000;
/** Outbox retry backoff: 1 s doubling to 10 min. */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 600_000;
/** Letters per receiveDeadLetter call. */
const MOVE_CHUNK = 100;

type OutboxRow = { move_key: string; target: string; letter: string; tries: number; next_at: number };

function letterOf(q: QueueContext, row: MessageRow, attempts: number, origin: string | null): DeadLetterInput {
  const letter: DeadLetterInput = {
    moveKey: `${q.name}@${q.incarnation}#${row.seq}`,
    id: row.id,
    body: JSON.parse(row.body) as unknown,
    attempts,
    origin,
  };
  if (row.headers) letter.headers = JSON.parse(row.headers) as Record<string, string>;
  if (row.grp !== "") letter.group = row.grp;
  return letter;
}

function toOutbox(q: QueueContext, target: string, letter: DeadLetterInput): void {
  q.store.sql.exec(
    "INSERT INTO outbox (move_key, target, letter, next_at) VALUES (?, ?, ?, ?) ON CONFLICT (move_key) DO NOTHING",
    letter.moveKey, target, JSON.stringify(letter), q.now,
  );
}

/** The message was delivered `maxReceives` times: drop it (`deadLetterQueue: null`) or move it. */
export function moveToDeadLetters(q: QueueContext, row: MessageRow): void {
  q.store.remove(row);
  q.store.bump("deadLettered", 1);
  const target = q.config.deadLetterQueue;
  if (target !== null) toOutbox(q, target, letterOf(q, row, row.attempts, q.name));
}

/**
 * Takes up to `max` dead letters that are not in flight, oldest first, for a redrive to `to`
 * (or each letter's origin). Letters without an origin stay when no `to` is given.
 */
export function takeForRedrive(q: QueueContext, to: string | null, max: number): number {
  const rows = q.store.sql
    .exec<MessageRow>(
      `SELECT * FROM messages WHERE state != ${INFLIGHT} AND (? IS NOT NULL OR origin IS NOT NULL) ORDER BY seq LIMIT ?`,
      to, max,
    )
    .toArray();
  for (const row of rows) {
    q.store.remove(row);
    toOutbox(q, (to ?? row.origin)!, letterOf(q, row, 0, null));
  }
  return rows.length;
}

/**
 * Writes letters moved in from elsewhere, skipping move keys already accepted. Moves are not
 * subject to dedup or to the space limits: refusing them would only keep them in the
 * sender's outbox, and a dead letter must never be lost.
 */
export function acceptLetters(q: QueueContext, letters: readonly DeadLetterInput[]): DeadLetterResult {
  let accepted = 0;
  let skipped = 0;
  for (const l of letters) {
    const seen = q.store.sql.exec("SELECT 1 FROM moves WHERE move_key = ?", l.moveKey).toArray().length > 0;
    if (seen) {
      skipped++;
      continue;
    }
    const body = JSON.stringify(l.body ?? null);
    const headers = l.headers && Object.keys(l.headers).length > 0 ? JSON.stringify(l.headers) : null;
    q.store.insert({
      id: l.id, body, headers, grp: l.group ?? "", bytes: messageBytes(body, headers),
      sentAt: q.now, visibleAt: 0, attempts: l.attempts, origin: l.origin ?? null,
    });
    q.store.sql.exec("INSERT INTO moves (move_key, expires_at) VALUES (?, ?)", l.moveKey, q.now + MOVE_KEY_TTL_MS);
    accepted++;
  }
  q.store.bump("sent", accepted);
  return { accepted, skipped };
}

/** Stored size of a message: its body and headers as JSON, in UTF-8 bytes. */
export function messageBytes(body: string, headers: string | null): number {
  const enc = new TextEncoder();
  return enc.encode(body).byteLength + (headers ? enc.encode(headers).byteLength : 0);
}

/**
 * Sends due outbox rows to their targets; rows whose call failed back off and stay. Safe to
 * call concurrently with itself (a row sent twice is skipped by its key in the target).
 * `transact` runs one SQL transaction. Returns true when every due row went out.
 */
export async function flushOutbox(store: QueueStore, env: Env, transact: <T>(fn: () => T) => T): Promise<boolean> {
  const now = Date.now();
  const rows = store.sql.exec<OutboxRow>("SELECT * FROM outbox WHERE next_at <= ? ORDER BY next_at LIMIT 1000", now).toArray();
  const byTarget = new Map<string, OutboxRow[]>();
  for (const r of rows) byTarget.set(r.target, [...(byTarget.get(r.target) ?? []), r]);
  let allSent = true;
  for (const [target, group] of byTarget) {
    for (let i = 0; i < group.length; i += MOVE_CHUNK) {
      const chunk = group.slice(i, i + MOVE_CHUNK);
      let ok = false;
      try {
        const letters = chunk.map((r) => JSON.parse(r.letter) as DeadLetterInput);
        const result = (await queueStub(env, target).receiveDeadLetter(letters)) as Result<DeadLetterResult>;
        ok = result.ok;
        if (!result.ok) console.warn(`dead-letter move to '${target}' refused: ${result.error.code} ${result.error.message}`);
      } catch (err) {
        console.warn(`dead-letter move to '${target}' failed; will retry`, err);
      }
      allSent &&= ok;
      transact(() => {
        for (const r of chunk) {
          if (ok) store.sql.exec("DELETE FROM outbox WHERE move_key = ?", r.move_key);
          else {
            const wait = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** r.tries);
            store.sql.exec("UPDATE outbox SET tries = tries + 1, next_at = ? WHERE move_key = ?", Date.now() + wait, r.move_key);
          }
        }
      });
    }
  }
  return allSent;
}
