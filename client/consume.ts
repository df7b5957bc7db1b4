/**
 * The push consumer of a queue over its WebSocket (`/consume`):
 *
 *   const consumer = spool.queue("jobs").consume(async (job) => { await work(job.body); },
 *     { prefetch: 20, concurrency: 4 });
 *
 * Flow control is the server's credit window: the consumer asks for `prefetch` messages
 * and the server never has more unacked ones out to it. Each message is acked when its
 * handler resolves and nacked with exponential backoff when it throws; the leases of
 * messages held (buffered or running) are extended every third of the visibility timeout. When the connection
 * drops, the server makes everything it held visible again at once, so the consumer drops
 * what it had not started, tells running handlers through their `signal`, and reconnects.
 */
import { MAX_CREDIT, MAX_LEASE_SECONDS } from "../protocol/limits";
import type { ReconnectOptions } from "./backoff";
import { seg, type ClientContext } from "./context";
import { AuthError, errorFromFrame, NotFoundError, ReceiptError, type SpoolError } from "./errors";
import { ConsumerBase, HandlerPool, invoke, type MessageHandler } from "./handlers";
import { Outbox } from "./outbox";
import { connectionLoop, HEALTHY_CONNECTION_MS, type Session } from "./reconnect";
import { openSocket, type Frame } from "./socket";
import type { StreamRef } from "./status";
import type { QueueMessage } from "./types";

/** Messages the server may push ahead of the handlers (the credit window). */
export const CONSUME_PREFETCH = 10;
/** How long `stop()` waits for the server to answer the last acks before it closes anyway. */
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
/** Extends sent per lease length, so one late or lost extend does not lose the lease. */
export const EXTEND_PER_LEASE = 3;
/** The lease the client assumes when not told the queue's `visibilityTimeout` (the API default). */
export const DEFAULT_VISIBILITY_TIMEOUT_S = 30;

export interface ConsumeOptions<T = unknown> {
  /** Credit window: unacked messages the server may send ahead (CONSUME_PREFETCH, at least `concurrency`). */
  prefetch?: number;
  /** Handlers running at once (CONSUME_CONCURRENCY). */
  concurrency?: number;
  /** The queue's lease in seconds (DEFAULT_VISIBILITY_TIMEOUT_S); every third of it, held messages get their lease extended by this much. */
  visibilityTimeout?: number;
  /** Seconds before a failed message is visible again (default: exponential from NACK_BASE_DELAY_S). */
  nackDelay?: (attempts: number, error: unknown) => number;
  /** Called with a handler's error (and its message), or a failed ack. */
  onError?: (error: unknown, message?: QueueMessage<T>) => void;
  reconnect?: ReconnectOptions;
  /** Aborting it stops the consumer (as `stop()`). */
  signal?: AbortSignal;
}

/** The default nack backoff: 1, 2, 4, … seconds by attempt, at most NACK_MAX_DELAY_S. */
export function defaultNackDelay(attempts: number): number {
  return Math.min(NACK_MAX_DELAY_S, NACK_BASE_DELAY_S * 2 ** Math.max(0, attempts - 1));
}

interface Delivery<T> {
  message: QueueMessage<T>;
  outbox: Outbox;
  signal: AbortSignal;
  /** Keeps the lease alive from arrival (waiting in the buffer counts) until acked or nacked. */
  extender?: ReturnType<typeof setInterval>;
}

/** Only leased messages can be handed back; at-most-once ones are already deleted, so they still run. */
const leased = <T>(d: Delivery<T>): boolean => d.message.receipt !== undefined;

export class Consumer<T = unknown> extends ConsumerBase {
  readonly closed: Promise<Error | undefined>;

  private readonly stopSignal = new AbortController();
  private readonly pool: HandlerPool<Delivery<T>>;
  private readonly prefetch: number;
  private readonly lease: number;
  private readonly ref: StreamRef;
  private outbox: Outbox | undefined;
  private closeSocket: (() => void) | undefined;
  private readonly untrack: () => void;

  constructor(private readonly ctx: ClientContext, private readonly queue: string, private readonly handler: MessageHandler<QueueMessage<T>>, private readonly options: ConsumeOptions<T> = {}) {
    super();
    const concurrency = Math.min(MAX_CREDIT, Math.max(1, options.concurrency ?? CONSUME_CONCURRENCY));
    this.prefetch = Math.min(MAX_CREDIT, Math.max(concurrency, options.prefetch ?? CONSUME_PREFETCH));
    this.lease = options.visibilityTimeout ?? DEFAULT_VISIBILITY_TIMEOUT_S;
    this.pool = new HandlerPool(concurrency, (d) => this.handle(d));
    this.ref = { kind: "consume", name: queue, transport: "websocket" };
    this.untrack = ctx.track(this);
    options.signal?.addEventListener("abort", () => void this.stop(), { once: true });
    this.closed = connectionLoop({
      stop: this.stopSignal.signal,
      reconnect: options.reconnect,
      status: ctx.status,
      stream: () => this.ref,
      credentials: ctx.http.credentials,
      session: (opened) => this.session(opened),
    }).then((error) => {
      this.stopSignal.abort();
      this.untrack();
      ctx.status.emit({ type: "closed", stream: this.ref, error });
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
    let outbox: Outbox | undefined;
    const socket = await openSocket(this.ctx.http, `/v1/queues/${seg(this.queue)}/consume`, {}, (frame) => {
      if (frame.type === "message") {
        delivered++;
        const { type: _type, ...message } = frame;
        const delivery: Delivery<T> = { message: message as unknown as QueueMessage<T>, outbox: outbox!, signal: live.signal };
        const receipt = delivery.message.receipt;
        if (receipt !== undefined) {
          delivery.extender = setInterval(() => {
            if (live.signal.aborted) clearInterval(delivery.extender);
            else delivery.outbox.extend(receipt, this.lease);
          }, (this.lease * 1000) / EXTEND_PER_LEASE);
        }
        if (this.isStopping && receipt !== undefined) this.nackAll([delivery]);
        else this.pool.add(delivery);
      } else if (frame.type === "result") {
        outbox?.answered();
        this.onResult(frame);
      } else if (frame.type === "error") {
        outbox?.answered(); // a refused frame is answered with an error instead of a result
        error = errorFromFrame(frame);
        this.options.onError?.(error);
      }
    }, this.stopSignal.signal, () => this.explain());
    outbox = new Outbox(socket);
    this.outbox = outbox;
    this.closeSocket = () => socket.close(1000, "consumer stopped");
    outbox.sendNow({ type: "credit", n: this.isStopping ? 0 : this.prefetch });
    const openedAt = Date.now();
    opened();
    const info = await socket.closed;
    live.abort(); // the server has already made what we held visible again
    for (const d of this.pool.drain(leased)) clearInterval(d.extender);
    outbox.dispose();
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
    if (d.signal.aborted && leased(d)) return clearInterval(d.extender); // its connection closed: redelivered elsewhere
    const receipt = d.message.receipt;
    try {
      await invoke(this.handler, d.message, { signal: d.signal });
      this.counts.processed++;
      if (receipt !== undefined && !d.signal.aborted) d.outbox.ack(receipt);
    } catch (err) {
      this.counts.failed++;
      this.options.onError?.(err, d.message);
      if (receipt !== undefined && !d.signal.aborted) d.outbox.nack(receipt, this.nackDelay(d.message.attempts, err));
    } finally {
      clearInterval(d.extender);
      // At-most-once: each push used up a unit of credit (nothing stays unacked), so grant
      // the window again minus what is still held here.
      if (receipt === undefined && !d.signal.aborted && !this.isStopping) d.outbox.credit(Math.max(0, this.prefetch - this.pool.pending - this.pool.active + 1));
    }
  }

  private nackDelay(attempts: number, err: unknown): number {
    const s = this.options.nackDelay ? this.options.nackDelay(attempts, err) : defaultNackDelay(attempts);
    return Math.min(MAX_NACK_DELAY_S, Math.max(0, Math.round(s)));
  }

  /** Hands messages that will not be handled back to the queue at once. */
  private nackAll(deliveries: Delivery<T>[]): void {
    for (const d of deliveries) {
      clearInterval(d.extender);
      if (d.message.receipt !== undefined && !d.signal.aborted) d.outbox.nack(d.message.receipt, 0);
    }
  }

  private onResult(frame: Frame): void {
    const failed = Array.isArray(frame.failed) ? frame.failed : [];
    for (const f of failed) {
      const code = typeof f?.code === "string" ? f.code : "RECEIPT_INVALID";
      this.options.onError?.(new ReceiptError({ code, status: 400, message: `${String(frame.op)} failed for receipt ${String(f?.receipt)}: ${code}`, details: { op: frame.op, receipt: f?.receipt } }));
    }
  }
}
