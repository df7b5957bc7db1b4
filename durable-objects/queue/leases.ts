/**
 * Leases: taking messages (receive and WebSocket pushes), ack, nack, extend, and what
 * happens when a lease ends (visible again, or dead-lettered after `maxReceives`).
 * Every function runs inside the caller's transaction.
 *
 * A receipt is `<seq>.<random>` and is stored on the message while it is in flight; a new
 * delivery stores a new one, so a receipt names exactly one delivery. A receipt is valid
 * only while its message is in flight with that receipt and the lease has not ended, which
 * makes acks definitive: once an ack succeeded the row is gone and cannot be redelivered.
 */
import { moveToDeadLetters } from "./dead-letters";
import { DELAYED, INFLIGHT, VISIBLE, type MessageRow, type QueueStore } from "./store";
import type { AckResult, ExtendResult, NackResult, QueueConfig, ReceiptFailure, ReceivedMessage } from "../../protocol/queues";

/** What the lease functions need to know about the queue at the moment of the call. */
export interface QueueContext {
  store: QueueStore;
  config: QueueConfig;
  name: string;
  /** Distinguishes this queue from an earlier one of the same name (its createdAt). */
  incarnation: number;
  now: number;
}

/** At most this many due rows are handled per call, so no transaction grows without bound. */
export const DUE_BATCH = 500;

function newReceipt(seq: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `${seq}.${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

const RECEIPT = /^(\d{1,15})\.[0-9a-f]{16}$/;

/** The in-flight row a receipt names, if it is still that delivery's lease. */
function leased(q: QueueContext, receipt: unknown): MessageRow | undefined {
  if (typeof receipt !== "string") return undefined;
  const m = RECEIPT.exec(receipt);
  if (!m) return undefined;
  const row = q.store.get(Number(m[1]));
  if (!row || row.state !== INFLIGHT || row.receipt !== receipt || row.due_at <= q.now) return undefined;
  return row;
}

/** A message as consumers and peek see it (without receipt or state). */
export function publicMessage(row: MessageRow): ReceivedMessage {
  const out: ReceivedMessage = {
    id: row.id,
    seq: row.seq,
    body: JSON.parse(row.body) as unknown,
    headers: row.headers ? (JSON.parse(row.headers) as Record<string, string>) : {},
    attempts: row.attempts,
    sentAt: row.sent_at,
  };
  if (row.grp !== "") out.group = row.grp;
  return out;
}

function toReceived(row: MessageRow, receipt: string | null): ReceivedMessage {
  const out = publicMessage(row);
  if (receipt !== null) out.receipt = receipt;
  return out;
}

/**
 * Delivers up to `max` messages: leased for `visibilitySeconds` to `consumer` (a socket id,
 * or null for HTTP), or deleted as delivered in at-most-once mode.
 */
export function takeMessages(q: QueueContext, max: number, visibilitySeconds: number, consumer: string | null): ReceivedMessage[] {
  const out: ReceivedMessage[] = [];
  const atMostOnce = q.config.delivery === "at-most-once";
  // FIFO yields one head per ready group per query; at-most-once frees the group at once,
  // so ask again until `max` is reached or nothing is ready.
  while (out.length < max) {
    const rows = q.store.deliverable(max - out.length);
    if (rows.length === 0) break;
    for (const row of rows) {
      row.attempts += 1;
      if (atMostOnce) {
        q.store.remove(row);
        out.push(toReceived(row, null));
      } else {
        const receipt = newReceipt(row.seq);
        q.store.lease(row, q.now + visibilitySeconds * 1000, receipt, consumer);
        out.push(toReceived(row, receipt));
      }
    }
    if (!atMostOnce || !q.store.fifo) break;
  }
  q.store.bump("received", out.length);
  return out;
}

/** A lease ended without an ack: visible again (after `delayMs`), or dead-lettered. */
export function endLease(q: QueueContext, row: MessageRow, delayMs = 0): void {
  if (row.attempts >= q.config.maxReceives) {
    moveToDeadLetters(q, row);
    return;
  }
  if (delayMs > 0) q.store.setState(row, DELAYED, q.now + delayMs);
  else q.store.setState(row, VISIBLE, 0);
}

/** Applies `fn` to the lease of each valid receipt; the others fail with RECEIPT_INVALID. */
function eachLease(q: QueueContext, receipts: readonly string[], fn: (row: MessageRow) => void): { done: number; failed: ReceiptFailure[] } {
  const failed: ReceiptFailure[] = [];
  let done = 0;
  for (const receipt of receipts) {
    const row = leased(q, receipt);
    if (!row) {
      failed.push({ receipt: typeof receipt === "string" ? receipt : String(receipt), code: "RECEIPT_INVALID" });
      continue;
    }
    fn(row);
    done++;
  }
  return { done, failed };
}

export function ack(q: QueueContext, receipts: readonly string[]): AckResult {
  const { done, failed } = eachLease(q, receipts, (row) => q.store.remove(row));
  q.store.bump("acked", done);
  return { acked: done, failed };
}

export function nack(q: QueueContext, receipts: readonly string[], delaySeconds: number): NackResult {
  const { done, failed } = eachLease(q, receipts, (row) => endLease(q, row, delaySeconds * 1000));
  return { nacked: done, failed };
}

export function extend(q: QueueContext, receipts: readonly string[], visibilitySeconds: number): ExtendResult {
  // A zero timeout ends the lease now; the alarm (due immediately) makes it visible again.
  const { done, failed } = eachLease(q, receipts, (row) =>
    q.store.sql.exec("UPDATE messages SET due_at = ? WHERE seq = ?", q.now + visibilitySeconds * 1000, row.seq),
  );
  return { extended: done, failed };
}

/** Ends every lease held by a WebSocket consumer (its socket closed); returns how many. */
export function releaseConsumer(q: QueueContext, consumer: string): number {
  const rows = q.store.sql.exec<MessageRow>("SELECT * FROM messages WHERE consumer = ? AND state = ?", consumer, INFLIGHT).toArray();
  for (const row of rows) endLease(q, row);
  return rows.length;
}

/** Unacked messages a consumer holds now. */
export function heldBy(q: QueueContext, consumer: string): number {
  return q.store.sql.exec<{ n: number }>("SELECT count(*) AS n FROM messages WHERE consumer = ? AND state = ?", consumer, INFLIGHT).one().n;
}

/**
 * Applies what time made due: delayed messages become visible, expired leases end.
 * Returns true when something may have become deliverable (wake waiters and sockets).
 */
export function tick(q: QueueContext): boolean {
  let changed = false;
  for (const row of q.store.due(DELAYED, q.now, DUE_BATCH)) {
    q.store.setState(row, VISIBLE, 0);
    changed = true;
  }
  for (const row of q.store.due(INFLIGHT, q.now, DUE_BATCH)) {
    endLease(q, row);
    changed = true;
  }
  return changed;
}
