/**
 * A live topic subscription as an async iterable:
 *
 *   const sub = spool.topic("orders").subscribe({ from: "earliest" });
 *   for await (const m of sub) render(m);              // every partition, merged
 *
 * By default it follows every partition of the topic (their count comes from
 * `GET /v1/topics/{t}/partitions`, which a `subscribe` token may call): one stream per
 * partition (partition-stream.ts), each in offset order with no gap and no duplicate and
 * each resuming from its own position, merged into one iterable with one lifetime
 * (`closed`) and one connection state (`state`). `partition` narrows it to one partition.
 * Order holds within a partition; between partitions, messages interleave as they arrive.
 *
 * A `gap` from the server (offsets removed by retention before we read them) goes to
 * `onGap` when given and otherwise ends the iteration with a `GapError`. Memory stays
 * bounded: over WebSocket the subscription confirms to the server what the reader has
 * taken, so the server pauses a slow reader at its window; and when the reader falls
 * `bufferSize` messages behind anyway, streams close and reopen once it catches up.
 * Partitions added to the topic after the subscription started are not followed by it.
 */
import { backoffDelay, RECONNECT_MAX_ATTEMPTS, sleep, type ReconnectOptions } from "./backoff.js";
import { Channel } from "./channel.js";
import { seg, type ClientContext } from "./context.js";
import { ConnectionError, GapError, isTerminal } from "./errors.js";
import { PartitionStream } from "./partition-stream.js";
import type { ConnectionStatus, StreamRef } from "./status.js";
import type { TransportName } from "./transports.js";
import type { Gap, StartPosition, TopicMessage } from "./types.js";

export { AUTO_FALLBACK_AFTER, SUBSCRIBE_CONFIRM_INTERVAL_MS } from "./partition-stream.js";

/** Messages buffered for a slow reader before the streams pause. */
export const SUBSCRIBE_BUFFER_MESSAGES = 1000;

/** A resume point per partition: `{0: 17, 1: 5}` (what `subscription.positions` gives). */
export type Positions = Readonly<Record<number, number>>;

/** One state for the whole subscription: `connected` only while every partition is. */
export type SubscriptionState = "connecting" | "connected" | "reconnecting" | "closed";

export interface SubscribeOptions {
  /** Follow only this partition (default: every partition of the topic). */
  partition?: number | undefined;
  /**
   * `"latest"` (default: messages published from now on), `"earliest"`, an offset (in every
   * partition followed), or saved `positions` (partitions they do not name start at `"earliest"`).
   */
  from?: StartPosition | Positions | undefined;
  /** `"auto"` (default: WebSocket, switching to SSE when WebSockets are blocked or missing), `"websocket"` or `"sse"`. */
  transport?: TransportName | undefined;
  /** Called when offsets were removed before the stream reached them; the stream goes on. Without it, iteration throws `GapError`. */
  onGap?: ((gap: Gap) => void) | undefined;
  reconnect?: ReconnectOptions | undefined;
  /** Messages buffered for a slow reader before the streams pause (SUBSCRIBE_BUFFER_MESSAGES). */
  bufferSize?: number | undefined;
  /** Aborting it closes the subscription. */
  signal?: AbortSignal | undefined;
}

export class Subscription<T = unknown> implements AsyncIterable<TopicMessage<T>>, AsyncDisposable {
  readonly topic: string;
  /** The one partition followed, or undefined when the subscription follows every partition. */
  readonly partition: number | undefined;
  /** Resolves when the subscription ends: undefined after `close()`, or the error that ended it. */
  readonly closed: Promise<Error | undefined>;

  private readonly channel: Channel<TopicMessage<T>>;
  private readonly stop = new AbortController();
  private readonly streams = new Map<number, PartitionStream>();
  private readonly states = new Map<number, ConnectionStatus["type"]>();
  /** One per stream: settles once the stream ended and reported it. */
  private readonly woundDown: Promise<void>[] = [];
  private readonly bufferSize: number;
  private ended = false;
  private finish!: (error: Error | undefined) => void;
  private readonly untrack: () => void;

  constructor(private readonly ctx: ClientContext, topic: string, private readonly options: SubscribeOptions = {}) {
    this.topic = topic;
    this.partition = options.partition;
    this.bufferSize = Math.max(1, options.bufferSize ?? SUBSCRIBE_BUFFER_MESSAGES);
    this.channel = new Channel({
      onReturn: () => void this.close(),
      onTake: (message, size) => {
        this.streams.get(message.partition)?.took(message.offset);
        if (size <= this.bufferSize / 2) for (const s of this.streams.values()) s.resume();
      },
    });
    this.closed = new Promise((resolve) => (this.finish = resolve));
    this.untrack = ctx.track(this);
    if (options.signal?.aborted) this.end(undefined);
    options.signal?.addEventListener("abort", () => void this.close(), { once: true });
    if (!this.ended) void this.start();
  }

  /** The partitions followed, once known. */
  get partitions(): number[] {
    return [...this.streams.keys()];
  }

  /** Where each partition resumes (last delivered offset + 1), for those whose position is known: save it and pass it as `from` later. */
  get positions(): Record<number, number> {
    const out: Record<number, number> = {};
    for (const [p, s] of this.streams) if (s.resumeFrom !== undefined) out[p] = s.resumeFrom;
    return out;
  }

  /** The offset a one-partition subscription resumes from, once known (see `positions` for several). */
  get resumeFrom(): number | undefined {
    return this.streams.size === 1 ? [...this.streams.values()][0]!.resumeFrom : undefined;
  }

  /** The subscription's one connection state. */
  get state(): SubscriptionState {
    if (this.ended) return "closed";
    const states = [...this.states.values()];
    if (states.length === 0 || states.length < this.streams.size || this.streams.size === 0) return "connecting";
    if (states.every((s) => s === "connected" || s === "gap")) return "connected";
    return states.some((s) => s === "reconnecting" || s === "disconnected") ? "reconnecting" : "connecting";
  }

  [Symbol.asyncIterator](): AsyncIterator<TopicMessage<T>> {
    return this.channel;
  }

  /** Stops every stream; a running `for await` ends (messages not yet taken are dropped). */
  async close(): Promise<void> {
    this.end(undefined);
    await this.closed;
  }

  /** @deprecated Use `close()` (or `await using`); kept for one release. */
  unsubscribe(): Promise<void> {
    return this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async start(): Promise<void> {
    const list = this.options.partition !== undefined ? [this.options.partition] : await this.partitionList();
    if (list === undefined || this.ended) return;
    for (const partition of list) {
      const stream = new PartitionStream(this.ctx, {
        topic: this.topic,
        partition,
        from: this.startOf(partition),
        transport: this.options.transport ?? "auto",
        reconnect: this.options.reconnect,
      }, {
        push: (m) => {
          this.channel.push(m as TopicMessage<T>);
          return this.channel.size >= this.bufferSize;
        },
        gap: (p, from, to) => this.onGap(p, from, to),
        status: (s) => {
          if (s.type !== "gap" && s.stream.partition !== undefined) this.states.set(s.stream.partition, s.type);
          this.ctx.status.emit(s);
        },
      }, this.stop.signal);
      this.streams.set(partition, stream);
      this.woundDown.push(stream.ended.then((error) => {
        this.ctx.status.emit({ type: "closed", stream: stream.streamRef, error });
        this.end(error); // one partition's end is the subscription's end
      }));
    }
  }

  private startOf(partition: number): StartPosition {
    const from = this.options.from ?? "latest";
    if (typeof from !== "object") return from;
    return from[partition] ?? "earliest";
  }

  /** The topic's partitions: asked of the server, retried while it is unreachable; undefined once ended. */
  private async partitionList(): Promise<number[] | undefined> {
    const ref: StreamRef = { kind: "subscribe", name: this.topic, transport: this.options.transport === "sse" ? "sse" : "websocket" };
    const maxAttempts = this.options.reconnect?.maxAttempts ?? RECONNECT_MAX_ATTEMPTS;
    for (let attempt = 1; !this.ended; attempt++) {
      try {
        const { partitions } = await this.ctx.http.request<{ partitions: number }>("GET", `/v1/topics/${seg(this.topic)}/partitions`, {
          signal: this.stop.signal,
          idempotent: true,
        });
        return Array.from({ length: partitions }, (_, i) => i);
      } catch (err) {
        if (this.ended) return undefined;
        if (isTerminal(err) || attempt >= maxAttempts) {
          this.end(isTerminal(err) ? (err as Error) : new ConnectionError({ code: "CONNECTION_FAILED", status: 0, message: `gave up after ${maxAttempts} attempts`, cause: err }));
          return undefined;
        }
        const delayMs = backoffDelay(attempt, this.options.reconnect);
        this.ctx.status.emit({ type: "reconnecting", stream: ref, attempt, delayMs, error: err instanceof Error ? err : undefined });
        await sleep(delayMs, this.stop.signal);
      }
    }
    return undefined;
  }

  private onGap(partition: number, from: number, to: number): void {
    const stream = this.streams.get(partition);
    if (stream) this.ctx.status.emit({ type: "gap", stream: stream.streamRef, from, to });
    stream?.skipTo(to);
    if (this.options.onGap) this.options.onGap({ partition, from, to });
    else this.end(new GapError(partition, from, to));
  }

  private end(error: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.stop.abort();
    if (error) this.channel.fail(error);
    else this.channel.end();
    this.untrack();
    // Each partition's stream reports its own end; before any existed, the subscription does.
    if (this.streams.size === 0) {
      this.ctx.status.emit({ type: "closed", stream: { kind: "subscribe", name: this.topic, partition: this.partition, transport: this.options.transport === "sse" ? "sse" : "websocket" }, error });
    }
    // Closed once every stream has wound down (and said so on the status stream).
    void Promise.all(this.woundDown).then(() => this.finish(error));
  }
}
