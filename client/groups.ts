/**
 * Consumer groups of a topic: `topic.group("billing")`. Members of one group compete for
 * messages (each leased to one member); every group sees every message. `consume` runs a
 * long-poll loop over `poll`/`ack`: a handler that resolves acks its message; one that
 * throws leaves it unacked, so it is redelivered when its lease (`visibilityTimeout`) ends —
 * groups have no nack.
 */
import { backoffDelay, RECONNECT_MAX_ATTEMPTS, sleep, type ReconnectOptions } from "./backoff";
import { seg, type ClientContext } from "./context";
import { ConnectionError, isTerminal } from "./errors";
import { ConsumerBase, HandlerPool, invoke, type MessageHandler } from "./handlers";
import type { StreamRef } from "./status";
import type { AckResult, GroupConfig, GroupCreated, GroupMessage, GroupStatus, PollOptions, ReceiptLike, SeekOptions } from "./types";

/** Long-poll seconds of each `poll` a group consumer makes (the API's maximum). */
export const GROUP_POLL_WAIT_S = 20;

export interface GroupConsumeOptions<T = unknown> {
  /** Handlers running at once (1); each poll asks for as many messages as there are free slots. */
  concurrency?: number;
  /** Only this partition (default: any). */
  partition?: number;
  /** Lease per message in seconds (the group's default when omitted). */
  visibilityTimeout?: number;
  /** Long-poll seconds per poll (GROUP_POLL_WAIT_S). */
  wait?: number;
  onError?: (error: unknown, message?: GroupMessage<T>) => void;
  reconnect?: ReconnectOptions;
  signal?: AbortSignal;
}

export class Group<T = unknown> {
  private readonly path: string;

  constructor(private readonly ctx: ClientContext, readonly topic: string, readonly name: string) {
    this.path = `/v1/topics/${seg(topic)}/groups/${seg(name)}`;
  }

  /** Creates or configures the group (optional: the first poll creates it with defaults). */
  configure(config: GroupConfig = {}): Promise<GroupCreated> {
    return this.ctx.http.request("PUT", this.path, { body: config, idempotent: true });
  }

  /** Per-partition committed offset, lag and messages in flight. */
  info(): Promise<GroupStatus> {
    return this.ctx.http.request("GET", this.path, { idempotent: true });
  }

  /** Leases up to `max` messages to this member. */
  async poll(options: PollOptions = {}): Promise<GroupMessage<T>[]> {
    const { signal, ...body } = options;
    const res = await this.ctx.http.request<{ messages: GroupMessage<T>[] }>("POST", `${this.path}/poll`, { body, signal });
    return res.messages;
  }

  ack(receipts: ReceiptLike | ReceiptLike[]): Promise<AckResult> {
    const list = (Array.isArray(receipts) ? receipts : [receipts]).map((r) => (typeof r === "string" ? r : r.receipt ?? ""));
    return this.ctx.http.request("POST", `${this.path}/ack`, { body: { receipts: list }, idempotent: true });
  }

  /** Replays or skips: to an offset, `"earliest"`, `"latest"`, or a time (`since`). */
  async seek(options: SeekOptions): Promise<void> {
    await this.ctx.http.request("POST", `${this.path}/seek`, { body: options, idempotent: true });
  }

  /** Runs `handler` over this group's messages until stopped. */
  consume(handler: MessageHandler<GroupMessage<T>>, options: GroupConsumeOptions<T> = {}): GroupConsumer<T> {
    return new GroupConsumer<T>(this.ctx, this, handler, options);
  }
}

export class GroupConsumer<T = unknown> extends ConsumerBase {
  readonly closed: Promise<Error | undefined>;
  private readonly stopSignal = new AbortController();
  private readonly pool: HandlerPool<GroupMessage<T>>;
  private readonly concurrency: number;
  private readonly ref: StreamRef;

  constructor(private readonly ctx: ClientContext, private readonly group: Group<T>, private readonly handler: MessageHandler<GroupMessage<T>>, private readonly options: GroupConsumeOptions<T>) {
    super();
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.pool = new HandlerPool(this.concurrency, (m) => this.handle(m));
    this.ref = { kind: "group", name: group.topic, group: group.name, transport: "http" };
    const untrack = ctx.track(this);
    options.signal?.addEventListener("abort", () => void this.stop(), { once: true });
    this.closed = this.loop().then(async (error) => {
      this.stopSignal.abort();
      await this.pool.idle();
      untrack();
      ctx.status.emit({ type: "closed", stream: this.ref, error });
      return error;
    });
  }

  /** Stops polling and waits for running handlers (and their acks). */
  protected async shutdown(): Promise<void> {
    this.stopSignal.abort();
    await this.closed;
  }

  private async loop(): Promise<Error | undefined> {
    const stop = this.stopSignal.signal;
    const maxAttempts = this.options.reconnect?.maxAttempts ?? RECONNECT_MAX_ATTEMPTS;
    let attempt = 0;
    let connected = false;
    this.ctx.status.emit({ type: "connecting", stream: this.ref, attempt: 1 });
    while (!stop.aborted) {
      await this.pool.slot();
      if (stop.aborted) break;
      try {
        const messages = await this.group.poll({
          max: Math.min(100, this.concurrency - this.pool.active),
          wait: this.options.wait ?? GROUP_POLL_WAIT_S,
          partition: this.options.partition,
          visibilityTimeout: this.options.visibilityTimeout,
          signal: stop,
        });
        if (!connected) this.ctx.status.emit({ type: "connected", stream: this.ref });
        connected = true;
        attempt = 0;
        for (const m of messages) this.pool.add(m);
      } catch (err) {
        if (stop.aborted) break;
        if (isTerminal(err)) return err as Error;
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

  private async handle(m: GroupMessage<T>): Promise<void> {
    try {
      await invoke(this.handler, m, { signal: this.stopSignal.signal });
      this.counts.processed++;
    } catch (err) {
      this.counts.failed++;
      this.options.onError?.(err, m);
      return; // unacked: redelivered when the lease ends
    }
    try {
      await this.group.ack(m.receipt);
    } catch (err) {
      this.options.onError?.(err, m);
    }
  }
}
