/**
 * Consumer groups of a topic: `topic.group("billing")`. Members of one group compete for
 * messages (each leased to one member); every group sees every message. `consume` runs a
 * long-poll loop over `receive`/`ack`/`nack`: a handler that resolves acks its message;
 * one that throws nacks it (redelivered after `nackDelay`).
 *
 * A member asks for no more messages than it has free handler slots, so nothing waits
 * unrun in a buffer. `close()` lets the receive in flight come back (at most `wait`
 * seconds) rather than abandoning it on the server, hands back at once whatever it brings
 * and whatever has not started (`nack` with `attempted: false`, so those deliveries do not
 * count in `attempts`), waits for running handlers and their acks, then ends.
 */
import { backoffDelay, RECONNECT_MAX_ATTEMPTS, sleep, type ReconnectOptions } from "./backoff.js";
import { defaultNackDelay } from "./consume.js";
import { seg, type ClientContext } from "./context.js";
import { ConnectionError, isTerminal, NotFoundError, ReceiptError } from "./errors.js";
import { ConsumerBase, HandlerPool, invoke, type MessageHandler } from "./handlers.js";
import type { StreamRef } from "./status.js";
import type {
  AckResult, GroupConfig, GroupCreated, GroupMessage, GroupStatus, NackResult, PollOptions, ReceiptLike, SeekOptions,
} from "./types.js";

/** Long-poll seconds of each receive a group consumer makes; also the longest `close()` waits for one in flight. */
export const GROUP_POLL_WAIT_S = 5;

export interface GroupConsumeOptions<T = unknown> {
  /** Handlers running at once (1); each receive asks for as many messages as there are free slots. */
  concurrency?: number | undefined;
  /** Only this partition (default: any). */
  partition?: number | undefined;
  /** Lease per message in seconds (the group's default when omitted). Known here, a finished handler's late ack is not sent. */
  visibilityTimeout?: number | undefined;
  /** Long-poll seconds per receive (GROUP_POLL_WAIT_S). */
  wait?: number | undefined;
  /** Seconds before a failed message is delivered again (default: exponential by attempts, as queue consumers). */
  nackDelay?: ((attempts: number, error: unknown) => number) | undefined;
  /** Called with a handler's error (and its message), an ack that failed, and the error that ended the consumer (also in `closed`). */
  onError?: ((error: unknown, message?: GroupMessage<T>) => void) | undefined;
  /** Keep trying (with backoff) while the topic does not exist, instead of ending with `NotFoundError`. */
  waitForTopic?: boolean | undefined;
  reconnect?: ReconnectOptions | undefined;
  signal?: AbortSignal | undefined;
}

export interface GroupNackOptions {
  /** Seconds until the messages are delivered again (0). */
  delay?: number | undefined;
  /** False when the messages were never run: these deliveries then do not count in `attempts` (true). */
  attempted?: boolean | undefined;
}

function toReceipts(receipts: ReceiptLike | ReceiptLike[]): string[] {
  return (Array.isArray(receipts) ? receipts : [receipts]).map((r) => (typeof r === "string" ? r : r.receipt ?? ""));
}

export class Group<T = unknown> {
  private readonly path: string;

  constructor(private readonly ctx: ClientContext, readonly topic: string, readonly name: string) {
    this.path = `/v1/topics/${seg(topic)}/groups/${seg(name)}`;
  }

  /** Creates or configures the group (optional: the first receive creates it with defaults). */
  configure(config: GroupConfig = {}): Promise<GroupCreated> {
    return this.ctx.http.request("PUT", this.path, { body: config, idempotent: true });
  }

  /** Per-partition committed offset, lag and messages in flight. */
  info(): Promise<GroupStatus> {
    return this.ctx.http.request("GET", this.path, { idempotent: true });
  }

  /** Leases up to `max` messages to this member (long-polling up to `wait` seconds), as `queue.receive` does. */
  async receive(options: PollOptions = {}): Promise<GroupMessage<T>[]> {
    const { signal, ...body } = options;
    const res = await this.ctx.http.request<{ messages: GroupMessage<T>[] }>("POST", `${this.path}/poll`, signal ? { body, signal } : { body });
    return res.messages;
  }

  /** @deprecated Use `receive()` (the same call; one name for queues and groups). Kept for one release. */
  poll(options: PollOptions = {}): Promise<GroupMessage<T>[]> {
    return this.receive(options);
  }

  /** Settles deliveries for good. Receipts that failed are listed, not thrown. */
  ack(receipts: ReceiptLike | ReceiptLike[]): Promise<AckResult> {
    return this.ctx.http.request("POST", `${this.path}/ack`, { body: { receipts: toReceipts(receipts) }, idempotent: true });
  }

  /** Hands deliveries back: their leases end now (or after `delay` seconds), as if they had run out. */
  nack(receipts: ReceiptLike | ReceiptLike[], options: GroupNackOptions = {}): Promise<NackResult> {
    const body: Record<string, unknown> = { receipts: toReceipts(receipts) };
    if (options.delay !== undefined) body.delay = options.delay;
    if (options.attempted !== undefined) body.attempted = options.attempted;
    return this.ctx.http.request("POST", `${this.path}/nack`, { body, idempotent: true });
  }

  /** Replays or skips: to an offset, `"earliest"`, `"latest"`, or a time (`since`). */
  async seek(options: SeekOptions): Promise<void> {
    await this.ctx.http.request("POST", `${this.path}/seek`, { body: options, idempotent: true });
  }

  /** Runs `handler` over this group's messages until closed. */
  consume(handler: MessageHandler<GroupMessage<T>>, options: GroupConsumeOptions<T> = {}): GroupConsumer<T> {
    return new GroupConsumer<T>(this.ctx, this, handler, options);
  }
}

interface Held<T> {
  message: GroupMessage<T>;
  /** When the lease ends by this machine's clock, when the consumer knows the lease length. */
  deadline: number | undefined;
}

export class GroupConsumer<T = unknown> extends ConsumerBase {
  readonly closed: Promise<Error | undefined>;
  /** Aborted by `close()`: running handlers see it through their `signal`. */
  private readonly stopping = new AbortController();
  private readonly pool: HandlerPool<Held<T>>;
  private readonly concurrency: number;
  private readonly ref: StreamRef;

  constructor(private readonly ctx: ClientContext, private readonly group: Group<T>, private readonly handler: MessageHandler<GroupMessage<T>>, private readonly options: GroupConsumeOptions<T>) {
    super();
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.pool = new HandlerPool(this.concurrency, (m) => this.handle(m));
    this.ref = { kind: "group", name: group.topic, group: group.name, transport: "http" };
    const untrack = ctx.track(this);
    options.signal?.addEventListener("abort", () => void this.close(), { once: true });
    this.closed = this.loop().then(async (error) => {
      this.stopping.abort();
      await this.handBack(this.pool.drain().map((h) => h.message));
      await this.pool.idle();
      untrack();
      ctx.status.emit({ type: "closed", stream: this.ref, error });
      if (error) this.options.onError?.(error);
      return error;
    });
  }

  /** Takes no more, hands back what it holds unstarted, waits for running handlers (and their acks). */
  protected async shutdown(): Promise<void> {
    this.stopping.abort();
    await this.closed;
  }

  private async loop(): Promise<Error | undefined> {
    const stop = this.stopping.signal;
    const maxAttempts = this.options.reconnect?.maxAttempts ?? RECONNECT_MAX_ATTEMPTS;
    let attempt = 0;
    let connected = false;
    const stopped = new Promise((r) => stop.addEventListener("abort", r, { once: true }));
    this.ctx.status.emit({ type: "connecting", stream: this.ref, attempt: 1 });
    while (!stop.aborted) {
      await Promise.race([this.pool.slot(), stopped]);
      if (stop.aborted) break;
      try {
        // No abort signal: a receive abandoned mid-flight would still lease on the server.
        const messages = await this.group.receive({
          max: Math.min(100, this.concurrency - this.pool.active),
          wait: this.options.wait ?? GROUP_POLL_WAIT_S,
          partition: this.options.partition,
          visibilityTimeout: this.options.visibilityTimeout,
        });
        if (!connected) this.ctx.status.emit({ type: "connected", stream: this.ref });
        connected = true;
        attempt = 0;
        if (stop.aborted) {
          await this.handBack(messages);
          break;
        }
        const lease = this.options.visibilityTimeout;
        for (const message of messages) this.pool.add({ message, deadline: lease === undefined ? undefined : Date.now() + lease * 1000 });
      } catch (err) {
        if (stop.aborted) break;
        const tolerated = this.options.waitForTopic === true && err instanceof NotFoundError;
        if (isTerminal(err) && !tolerated) return err as Error;
        const error = err instanceof Error ? err : new Error(String(err));
        connected = false;
        if (++attempt > maxAttempts) return new ConnectionError({ code: "CONNECTION_FAILED", status: 0, message: `gave up after ${maxAttempts} attempts`, cause: error });
        const delayMs = backoffDelay(attempt, this.options.reconnect);
        this.ctx.status.emit({ type: "reconnecting", stream: this.ref, attempt, delayMs, error });
        await sleep(delayMs, stop);
      }
    }
    return undefined;
  }

  /** Gives back messages no handler ran: at once, and not counted as attempts. */
  private async handBack(messages: GroupMessage<T>[]): Promise<void> {
    if (messages.length === 0) return;
    try {
      await this.group.nack(messages, { attempted: false });
    } catch (err) {
      this.options.onError?.(err); // they come back when their leases end
    }
  }

  private async handle(h: Held<T>): Promise<void> {
    const m = h.message;
    if (this.stopping.signal.aborted) return this.handBack([m]);
    try {
      await invoke(this.handler, m, { signal: this.stopping.signal });
      this.counts.processed++;
    } catch (err) {
      this.counts.failed++;
      this.options.onError?.(err, m);
      if (!this.leaseGone(h)) await this.settle(() => this.group.nack(m, { delay: this.nackDelay(m.attempts, err) }), m);
      return;
    }
    if (!this.leaseGone(h)) await this.settle(() => this.group.ack(m), m);
  }

  /** True (and reported) when the lease is known to have ended: an ack now would only be refused. */
  private leaseGone(h: Held<T>): boolean {
    if (h.deadline === undefined || Date.now() < h.deadline) return false;
    this.counts.lost++;
    this.options.onError?.(new ReceiptError({
      code: "RECEIPT_INVALID", status: 400,
      message: `lease of message ${h.message.partition}:${h.message.offset} ended before its handler finished; not acked (it is redelivered)`,
      details: { partition: h.message.partition, offset: h.message.offset },
    }), h.message);
    return true;
  }

  private async settle(call: () => Promise<AckResult | NackResult>, m: GroupMessage<T>): Promise<void> {
    try {
      const res = await call();
      for (const f of res.failed) {
        this.options.onError?.(new ReceiptError({ code: f.code, status: 400, message: `receipt ${f.receipt} failed: ${f.code}`, details: { receipt: f.receipt } }), m);
      }
    } catch (err) {
      this.options.onError?.(err, m);
    }
  }

  private nackDelay(attempts: number, err: unknown): number {
    const s = this.options.nackDelay ? this.options.nackDelay(attempts, err) : defaultNackDelay(attempts);
    return Math.max(0, Math.round(s));
  }
}
