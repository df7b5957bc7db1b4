/**
 * The leases a queue consumer holds, kept alive and watched on the client side. The server
 * owns each lease: its length comes in the message frame (`visibilityTimeout`), and only
 * the server's answer to an extend says whether the lease still holds. So, per message:
 *   - an extend goes out every 1/EXTEND_PER_LEASE of the lease, for as long as the
 *     message is held (waiting in the buffer counts);
 *   - the lease is believed to end at its deadline: arrival plus the lease (less
 *     ARRIVAL_MARGIN, as the lease began before the frame arrived), moved on only by an
 *     extend the server confirmed (to the time that extend was sent plus the lease);
 *   - a failed extend, or a deadline that passes, means the lease is lost: the handler's
 *     `signal` aborts and the receipt is never acked (the message is someone else's now).
 */
import { ReceiptError } from "./errors.js";
import { Outbox, type SentFrame } from "./outbox.js";
import type { Frame, Socket } from "./socket.js";
import type { QueueMessage } from "./types.js";

/** Extends sent per lease length, so one late or lost extend does not lose the lease. */
export const EXTEND_PER_LEASE = 3;
/** The lease assumed when a server too old to say it is not told (the API default). */
export const DEFAULT_VISIBILITY_TIMEOUT_S = 30;
/** Share of a lease assumed gone before its message arrived (the lease starts on the server). */
export const ARRIVAL_MARGIN = 0.1;

/** One message held by the consumer, from arrival until acked, nacked or dropped. */
export interface Delivery<T> {
  message: QueueMessage<T>;
  outbox: Outbox;
  /** Aborts when the lease is lost or the connection that delivered it closed. */
  signal: AbortSignal;
  /** True while an ack or nack of this receipt can still succeed (the lease is believed held). */
  usable(): boolean;
  /** Stops keeping the lease (the message was acked, nacked or dropped). */
  settle(): void;
  /** The loss of its lease was reported already. */
  lostReported: boolean;
}

export interface LeaseHooks<T> {
  /** Lease length when the server does not say (deprecated `visibilityTimeout` option). */
  fallbackLease: number | undefined;
  lost(delivery: Delivery<T>, error: ReceiptError): void;
  /** An ack or nack the server refused. */
  ackFailed(error: ReceiptError, delivery: Delivery<T> | undefined): void;
}

interface Held<T> {
  delivery: Delivery<T>;
  controller: AbortController;
  lease: number;
  deadline: number;
  timer: ReturnType<typeof setInterval> | undefined;
  done: boolean;
}

export class LeaseKeeper<T> {
  readonly outbox: Outbox;
  private readonly held = new Map<string, Held<T>>();

  constructor(socket: Socket, private readonly hooks: LeaseHooks<T>) {
    this.outbox = new Outbox(socket, (sent, failed, refused) => this.answered(sent, failed, refused));
  }

  /** A message arrived with a lease of `leaseSeconds` (as the server said; else the fallback). */
  take(message: QueueMessage<T>, leaseSeconds: number | undefined, live: AbortSignal): Delivery<T> {
    const controller = new AbortController();
    const onDrop = (): void => controller.abort(live.reason);
    if (live.aborted) onDrop();
    else live.addEventListener("abort", onDrop, { once: true });
    const lease = leaseSeconds ?? this.hooks.fallbackLease ?? DEFAULT_VISIBILITY_TIMEOUT_S;
    const receipt = message.receipt;
    const h: Held<T> = {
      controller, lease, deadline: Date.now() + lease * 1000 * (1 - ARRIVAL_MARGIN), timer: undefined, done: false,
      delivery: {
        message, outbox: this.outbox, signal: controller.signal, lostReported: false,
        usable: () => this.usable(h),
        settle: () => this.settle(h),
      },
    };
    if (receipt === undefined) return h.delivery; // at-most-once: no lease to keep
    this.held.set(receipt, h);
    h.timer = setInterval(() => {
      if (controller.signal.aborted) return this.settle(h);
      if (Date.now() >= h.deadline) return this.lose(h, "its lease ran out before an extend was confirmed");
      this.outbox.extend(receipt, h.lease);
    }, (lease * 1000) / EXTEND_PER_LEASE);
    return h.delivery;
  }

  /** The connection closed: stop every timer (the signals abort through `live`). */
  dispose(): void {
    for (const h of this.held.values()) clearInterval(h.timer);
    this.held.clear();
    this.outbox.dispose();
  }

  private usable(h: Held<T>): boolean {
    if (h.done || h.controller.signal.aborted) return false;
    if (h.delivery.message.receipt === undefined) return true;
    if (Date.now() >= h.deadline) {
      this.lose(h, "its lease ran out before an extend was confirmed");
      return false;
    }
    return true;
  }

  private settle(h: Held<T>): void {
    h.done = true;
    clearInterval(h.timer);
    if (h.delivery.message.receipt !== undefined) this.held.delete(h.delivery.message.receipt);
  }

  private lose(h: Held<T>, why: string): void {
    if (h.done) return;
    const m = h.delivery.message;
    const error = new ReceiptError({
      code: "RECEIPT_INVALID", status: 400,
      message: `lease of message ${m.id} lost: ${why}; it will not be acked (it is redelivered)`,
      details: { id: m.id, receipt: m.receipt, lease: h.lease },
    });
    this.settle(h);
    h.controller.abort(error);
    h.delivery.lostReported = true;
    this.hooks.lost(h.delivery, error);
  }

  private answered(sent: SentFrame, failed: ReadonlySet<string>, refused: Frame | undefined): void {
    for (const receipt of sent.receipts) {
      const h = this.held.get(receipt);
      const bad = refused !== undefined || failed.has(receipt);
      if (sent.op === "extend") {
        if (!h) continue;
        if (bad) this.lose(h, refused ? `the server refused the extend (${String(refused.code)})` : "the server says it is no longer held");
        else h.deadline = Math.max(h.deadline, sent.sentAt + (sent.arg ?? h.lease) * 1000);
      } else if (bad) {
        const code = refused ? String(refused.code) : "RECEIPT_INVALID";
        this.hooks.ackFailed(new ReceiptError({
          code, status: 400, message: `${sent.op} failed for receipt ${receipt}: ${code}`, details: { op: sent.op, receipt },
        }), h?.delivery);
      }
    }
  }
}
