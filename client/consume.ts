/**
 * The push consumer of a queue over its WebSocket (`/consume`):
 *
 *   const consumer = spool.queue("jobs").consume(async (job, { signal }) => { await work(job.body, signal); },
 *     { prefetch: 20, concurrency: 4 });
 *
 * Flow control is the server's credit window: the consumer asks for `prefetch` messages
 * and the server never has more unacked ones out to it. Each message is acked when its
 * handler resolves and nacked with exponential backoff when it throws.
 *
 * Leases are the server's: each message frame says how long its lease is
 * (`visibilityTimeout`, the queue's), and the consumer keeps the lease of every message it
 * holds (buffered or running) alive with an extend every third of it (leases.ts). When the
 * server says an extend failed, or the lease ran out before an extend was confirmed, the
 * lease is lost: the handler's `signal` aborts, the message is not acked (the server has
 * already made it visible to others), and `onError` hears a `ReceiptError`. When the
 * connection drops, the server makes everything it held visible again at once, so the
 * consumer drops what it had not started, aborts running handlers' signals, and reconnects.
 * An error that ends the consumer (a missing queue, a refused credential) reaches `onError`
 * and `closed`; with `waitForQueue` a missing queue is waited for instead.
 */
import { MAX_CREDIT, MAX_LEASE_SECONDS } from "../protocol/limits.js";
import type { ReconnectOptions } from "./backoff.js";
import { seg, type ClientContext } from "./context.js";
import { AuthError, errorFromFrame, NotFoundError, ReceiptError, type SpoolError } from "./errors.js";
import { ConsumerBase, HandlerPool, invoke, type MessageHandler } from "./handlers.js";
import { LeaseKeeper, type Delivery } from "./leases.js";
import { Outbox } from "./outbox.js";
import { connectionLoop, HEALTHY_CONNECTION_MS, type Session } from "./reconnect.js";
import { openSocket } from "./socket.js";
import type { StreamRef } from "./status.js";
import type { QueueMessage } from "./types.js";

export { DEFAULT_VISIBILITY_TIMEOUT_S, EXTEND_PER_LEASE } from "./leases.js";

/** Messages the server may push ahead of the handlers (the credit window). */
export const CONSUME_PREFETCH = 10;
/** How long `close()` waits for the server to answer the last acks before it closes anyway. */
export const STOP_SETTLE_TIMEOUT_MS = 5_000;
/** Longest nack delay the server accepts (12 h). */
const MAX_NACK_DELAY_S = MAX_LEASE_SECONDS;
/** Largest credit window the server accepts. */
export { MAX_CREDIT };
/** Handlers run at once. */
export const CONSUME_CONCURRENCY = 1;
/** Nack delay after the first failure, doubling per attempt up to NACK_MAX_DELAY_S. */
export const NACK_BASE_DELAY_S = 1;
export const NACK_MAX_DELAY_S = 300;

export interface ConsumeOptions<T = unknown> {
  /** Credit window: unacked messages the server may send ahead (CONSUME_PREFETCH, at least `concurrency`). */
  prefetch?: number | undefined;
  /** Handlers running at once (CONSUME_CONCURRENCY). */
  concurrency?: number | undefined;
  /**
   * @deprecated The server now says each message's lease length and the consumer follows it.
   * Used only with a server too old to say (DEFAULT_VISIBILITY_TIMEOUT_S otherwise).
   */
  visibilityTimeout?: number | undefined;
  /** Seconds before a failed message is visible again (default: exponential from NACK_BASE_DELAY_S). */
  nackDelay?: ((attempts: number, error: unknown) => number) | undefined;
  /**
   * Called with a handler's error (and its message), a lease that was lost or an ack that
   * failed (`ReceiptError`), and the error that ended the consumer (also in `closed`).
   */
  onError?: ((error: unknown, message?: QueueMessage<T>) => void) | undefined;
  /** Keep trying (with backoff) while the queue does not exist, instead of ending with `NotFoundError`. */
  waitForQueue?: boolean | undefined;
  reconnect?: ReconnectOptions | undefined;
  /** Aborting it closes the consumer (as `close()`). */
  signal?: AbortSignal | undefined;
}

/** The default nack backoff: 1, 2, 4, … seconds by attempt, at most NACK_MAX_DELAY_S. */
export function defaultNackDelay(attempts: number): number {
  return Math.min(NACK_MAX_DELAY_S, NACK_BASE_DELAY_S * 2 ** Math.max(0, attempts - 1));
}

/** Only leased messages can be handed back; at-most-once ones are already deleted, so they still run. */
const leased = <T>(d: Delivery<T>): boolean => d.message.receipt !== undefined;

export class Consumer<T = unknown> extends ConsumerBase {
  readonly closed: Promise<Error | undefined>;

  private readonly stopSignal = new AbortController();
  private readonly pool: HandlerPool<Delivery<T>>;
  private readonly prefetch: number;
  private readonly ref: StreamRef;
  private outbox: Outbox | undefined;
  private leases: LeaseKeeper<T> | undefined;
  private closeSocket: (() => void) | undefined;
  private readonly untrack: () => void;

  constructor(private readonly ctx: ClientContext, private readonly queue: string, private readonly handler: MessageHandler<QueueMessage<T>>, private readonly options: ConsumeOptions<T> = {}) {
    super();
    const concurrency = Math.min(MAX_CREDIT, Math.max(1, options.concurrency ?? CONSUME_CONCURRENCY));
    this.prefetch = Math.min(MAX_CREDIT, Math.max(concurrency, options.prefetch ?? CONSUME_PREFETCH));
    this.pool = new HandlerPool(concurrency, (d) => this.handle(d));
    this.ref = { kind: "consume", name: queue, transport: "websocket" };
    this.untrack = ctx.track(this);
    options.signal?.addEventListener("abort", () => void this.close(), { once: true });
    this.closed = connectionLoop({
      stop: this.stopSignal.signal,
      reconnect: options.reconnect,
      status: ctx.status,
      stream: () => this.ref,
      credentials: ctx.http.credentials,
      session: (opened) => this.session(opened),
      tolerate: (err) => options.waitForQueue === true && err instanceof NotFoundError,
    }).then((error) => {
      this.stopSignal.abort();
      this.untrack();
      ctx.status.emit({ type: "closed", stream: this.ref, error });
      if (error) this.options.onError?.(error);
      return error;
    });
  }

  /** Asks for no more, hands back what was not started, lets running handlers finish and ack, closes. */
  protected async shutdown(): Promise<void> {
    this.outbox?.sendNow({ type: "credit", n: 0 });
    this.nackAll(this.pool.drain(leased));
    await this.pool.idle();
    await this.outbox?.settled(STOP_SETTLE_TIMEOUT_MS); // the last acks are applied before the close
    this.stopSignal.abort();
    this.closeSocket?.();
    await this.closed;
  }

  private async session(opened: () => void): Promise<Session> {
    const live = new AbortController();
    let delivered = 0;
    let error: SpoolError | undefined;
    let keeper: LeaseKeeper<T> | undefined;
    const socket = await openSocket(this.ctx.http, `/v1/queues/${seg(this.queue)}/consume`, {}, (frame) => {
      if (frame.type === "message") {
        delivered++;
        const { type: _type, visibilityTimeout, ...message } = frame;
        const lease = typeof visibilityTimeout === "number" && visibilityTimeout > 0 ? visibilityTimeout : undefined;
        const delivery = keeper!.take(message as unknown as QueueMessage<T>, lease, live.signal);
        if (this.isStopping && leased(delivery)) this.nackAll([delivery]);
        else this.pool.add(delivery);
      } else if (frame.type === "result" && frame.op !== "auth") { // auth results belong to the credential swap (swap.ts)
        keeper?.outbox.answered(frame);
      } else if (frame.type === "error") {
        keeper?.outbox.answered(frame); // a refused frame is answered with an error instead of a result
        error = errorFromFrame(frame);
        this.options.onError?.(error);
      }
    }, this.stopSignal.signal, () => this.explain());
    keeper = new LeaseKeeper<T>(socket, {
      fallbackLease: this.options.visibilityTimeout,
      lost: (d, why) => {
        this.counts.lost++;
        this.pool.drain((x) => x === d); // not started: it is someone else's now
        this.options.onError?.(why, d.message);
      },
      ackFailed: (why, d) => this.options.onError?.(why, d?.message),
    });
    this.leases = keeper;
    this.outbox = keeper.outbox;
    this.closeSocket = () => socket.close(1000, "consumer stopped");
    keeper.outbox.sendNow({ type: "credit", n: this.isStopping ? 0 : this.prefetch });
    const openedAt = Date.now();
    opened();
    const info = await socket.closed;
    live.abort(); // the server has already made what we held visible again
    this.pool.drain(leased);
    keeper.dispose();
    return { ...info, error, healthy: delivered > 0 || Date.now() - openedAt >= HEALTHY_CONNECTION_MS };
  }

  /**
   * Why a handshake failed: an ack of a receipt that cannot exist needs the same capability
   * as consuming and changes nothing, but answers 404 for a missing queue, 401/403 for a
   * credential that may not consume.
   */
  private async explain(): Promise<void> {
    try {
      await this.ctx.http.request("POST", `/v1/queues/${seg(this.queue)}/ack`, { body: { receipts: ["spool-client-probe"] } });
    } catch (err) {
      if (err instanceof NotFoundError || err instanceof AuthError) throw err;
    }
  }

  private async handle(d: Delivery<T>): Promise<void> {
    if (d.signal.aborted && leased(d)) return d.settle(); // lease lost or connection closed: redelivered elsewhere
    const receipt = d.message.receipt;
    try {
      await invoke(this.handler, d.message, { signal: d.signal });
      this.counts.processed++;
      if (receipt !== undefined && d.usable()) d.outbox.ack(receipt);
      else if (receipt !== undefined) this.reportLateFinish(d);
    } catch (err) {
      this.counts.failed++;
      this.options.onError?.(err, d.message);
      if (receipt !== undefined && d.usable()) d.outbox.nack(receipt, this.nackDelay(d.message.attempts, err));
    } finally {
      d.settle();
      // At-most-once: each push used up a unit of credit (nothing stays unacked), so grant
      // the window again minus what is still held here.
      if (receipt === undefined && !d.signal.aborted && !this.isStopping) d.outbox.credit(Math.max(0, this.prefetch - this.pool.pending - this.pool.active + 1));
    }
  }

  /** A handler finished after its message stopped being ours: say so rather than send an ack the server must refuse. */
  private reportLateFinish(d: Delivery<T>): void {
    if (d.lostReported) return; // the lost lease was reported when it was lost
    this.options.onError?.(new ReceiptError({
      code: "RECEIPT_INVALID", status: 400,
      message: `message ${d.message.id} finished after the connection that delivered it closed; not acked (it is redelivered)`,
      details: { id: d.message.id },
    }), d.message);
  }

  private nackDelay(attempts: number, err: unknown): number {
    const s = this.options.nackDelay ? this.options.nackDelay(attempts, err) : defaultNackDelay(attempts);
    return Math.min(MAX_NACK_DELAY_S, Math.max(0, Math.round(s)));
  }

  /**
   * Hands messages that will not be handled back to the queue at once. They were never
   * started, so the server does not count these deliveries (`attempted: false`).
   */
  private nackAll(deliveries: Delivery<T>[]): void {
    for (const d of deliveries) {
      if (d.message.receipt !== undefined && d.usable()) d.outbox.handBack(d.message.receipt);
      d.settle();
    }
  }
}
