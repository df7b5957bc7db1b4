/**
 * Leases: taking messages (receive and WebSocket pushes), ack, nack, extend, and lease
 * expiry: a lease that ends without an ack redelivers the message (visible again, with
 * attempts counted on the next delivery), or dead-letters it after `maxReceives` deliveries.
 * The alarm (and every receive) applies what time made due with `applyDue`.
 * Every function runs inside the caller's transaction.
 *
 * A receipt is `<seq>.<random>` and is stored on the message while it is in flight; a new
 * delivery stores a new one, so a receipt names exactly one delivery. A receipt is valid
 * only while its message is in flight with that receipt and the lease has not ended, which
 * makes acks definitive: once an ack succeeded the row is gone and cannot be redelivered.
 */
import type { QueueContext } from "./context";
import { moveToDeadLetters } from "./dead-letters";
import type { DeliverableRow, LeaseRef, MessageRow } from "./store/queue-store";
import type { AckResult, ExtendResult, NackResult, ReceiptFailure, ReceivedMessage } from "../../protocol/queues";

/** At most this many due rows are handled per call, so no transaction grows without bound. */
export const DUE_BATCH = 500;

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** A new receipt for each seq: `<seq>.<16 random hex digits>`, from one draw of random bytes for the batch. */
function newReceipts(seqs: readonly number[]): string[] {
  const bytes = crypto.getRandomValues(new Uint8Array(8 * seqs.length));
  return seqs.map((seq, i) => {
    let hex = "";
    for (let k = 8 * i; k < 8 * i + 8; k++) hex += HEX[bytes[k]!];
    return `${seq}.${hex}`;
  });
}

const RECEIPT = /^(\d{1,15})\.[0-9a-f]{16}$/;

/** Whether `receipt` has the form of a receipt at all (valid or not): the SQS API tells the two apart. */
export function isReceiptShaped(receipt: string): boolean {
  return RECEIPT.test(receipt);
}

/** The in-flight row a receipt names, if it is still that delivery's lease. */
function leased(q: QueueContext, receipt: unknown): MessageRow | undefined {
  if (typeof receipt !== "string") return undefined;
  const m = RECEIPT.exec(receipt);
  return m ? q.store.leased(Number(m[1]), receipt, q.now) : undefined;
}

/** A message as consumers and peek see it (without receipt or state). */
export function publicMessage(row: Pick<MessageRow, "id" | "seq" | "body" | "headers" | "attempts" | "sent_at" | "grp">): ReceivedMessage {
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

function toReceived(row: DeliverableRow, receipt: string | null, detail: boolean): ReceivedMessage {
  const out = publicMessage(row);
  if (receipt !== null) out.receipt = receipt;
  if (detail) {
    if (row.attr_types) out.attributeTypes = JSON.parse(row.attr_types) as Record<string, string>;
    if (row.first_received_at !== null) out.firstReceivedAt = row.first_received_at;
  }
  return out;
}

/**
 * Delivers up to `max` messages: leased for `visibilitySeconds` to `consumer` (a socket id,
 * or null for HTTP), or deleted as delivered in at-most-once mode. With `detail`, each
 * carries its attribute types and first delivery time (ReceiveOptions.detail).
 */
export function takeMessages(q: QueueContext, max: number, visibilitySeconds: number, consumer: string | null, detail = false): ReceivedMessage[] {
  const out: ReceivedMessage[] = [];
  const atMostOnce = q.config.delivery === "at-most-once";
  // FIFO yields one head per ready group per query; at-most-once frees the group at once,
  // so ask again until `max` is reached or nothing is ready.
  while (out.length < max) {
    const rows = q.store.deliverable(max - out.length);
    if (rows.length === 0) break;
    if (atMostOnce) {
      for (const row of rows) out.push(toReceived(q.store.deliverOnce(row, q.now), null, detail));
    } else {
      // One UPDATE for the batch, each message under its own new receipt.
      const receipts = newReceipts(rows.map((row) => row.seq));
      const leased = q.store.leaseMany(rows, receipts, q.now + visibilitySeconds * 1000, consumer, q.now);
      leased.forEach((row, i) => out.push(toReceived(row, receipts[i]!, detail)));
    }
    if (!atMostOnce || !q.store.fifo) break;
  }
  return out;
}

/** A lease ended without an ack: visible again (after `delayMs`), or dead-lettered (`maxReceives` 0: never). */
function endLease(q: QueueContext, row: MessageRow, delayMs = 0): void {
  if (q.config.maxReceives > 0 && row.attempts >= q.config.maxReceives) moveToDeadLetters(q, row);
  else q.store.release(row, delayMs > 0 ? q.now + delayMs : null);
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

/**
 * Acks with one lookup and one delete for the whole batch (every consumer's hot path), by
 * the rules of `eachLease` and in its order: a receipt named twice is acked once, and the
 * second fails as it would after the first deleted the row.
 */
export function ack(q: QueueContext, receipts: readonly string[]): AckResult {
  const seqs = receipts.map((r) => (typeof r === "string" ? RECEIPT.exec(r) : null)).map((m) => (m ? Number(m[1]) : null));
  const rows = q.store.leasedMany(seqs.filter((s): s is number => s !== null), q.now);
  const failed: ReceiptFailure[] = [];
  const acked: LeaseRef[] = [];
  receipts.forEach((receipt, i) => {
    const seq = seqs[i];
    const row = seq === null || seq === undefined ? undefined : rows.get(seq);
    if (!row || row.receipt !== receipt) {
      failed.push({ receipt: typeof receipt === "string" ? receipt : String(receipt), code: "RECEIPT_INVALID" });
      return;
    }
    rows.delete(row.seq);
    acked.push(row);
  });
  q.store.ackMany(acked);
  return { acked: acked.length, failed };
}

/**
 * Gives leased messages back, visible after `delaySeconds`. With `attempted` false the
 * consumer says it never ran them: they are visible at once and the delivery does not count
 * toward `attempts` (nor toward dead-lettering).
 */
export function nack(q: QueueContext, receipts: readonly string[], delaySeconds: number, attempted = true): NackResult {
  const { done, failed } = eachLease(q, receipts, (row) => (attempted ? endLease(q, row, delaySeconds * 1000) : q.store.handBack(row)));
  return { nacked: done, failed };
}

export function extend(q: QueueContext, receipts: readonly string[], visibilitySeconds: number): ExtendResult {
  // A zero timeout ends the lease now; the alarm (due immediately) makes it visible again.
  const { done, failed } = eachLease(q, receipts, (row) => q.store.extendLease(row, q.now + visibilitySeconds * 1000));
  return { extended: done, failed };
}

/** Ends every lease held by a WebSocket consumer (its socket closed); returns how many. */
export function releaseConsumer(q: QueueContext, consumer: string): number {
  const rows = q.store.leasesHeldBy(consumer);
  for (const row of rows) endLease(q, row);
  return rows.length;
}

/** Unacked messages a consumer holds now. */
export function heldBy(q: QueueContext, consumer: string): number {
  return q.store.countHeldBy(consumer);
}

/**
 * Applies what time made due: delayed messages become visible, and leases that ended
 * redeliver (or dead-letter) their messages. Returns true when something may have become
 * deliverable (wake long polls and sockets).
 */
export function applyDue(q: QueueContext): boolean {
  const promoted = q.store.promoteDelayed(q.now, DUE_BATCH);
  const expired = q.store.expiredLeases(q.now, DUE_BATCH);
  for (const row of expired) endLease(q, row);
  return promoted > 0 || expired.length > 0;
}
