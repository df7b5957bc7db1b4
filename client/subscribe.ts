/**
 * A live topic subscription as an async iterable:
 *
 *   const sub = spool.topic("chat").subscribe({ from: "earliest" });
 *   for await (const m of sub) render(m);
 *
 * The subscription owns its position (the offset after the last message it accepted), so
 * whatever happens to the connection — server restart, network loss, token expiry, the
 * server closing a slow subscriber — it reconnects with jittered backoff from exactly that
 * offset: no gap, and any message below it is dropped, so no duplicate. A `gap` from the
 * server (offsets removed by retention before we read them) goes to `onGap` when given and
 * otherwise ends the iteration with a `GapError`. Memory stays bounded both ways: over
 * WebSocket the subscription confirms to the server what the reader has taken, so the
 * server pauses a slow reader at its window; and when the reader falls `bufferSize`
 * messages behind anyway (SSE), the connection is closed and reopened once it catches up.
 */
import type { ReconnectOptions } from "./backoff";
import { Channel } from "./channel";
import { seg, type ClientContext } from "./context";
import { ConnectionError, GapError, type SpoolError } from "./errors";
import { connectionLoop, HEALTHY_CONNECTION_MS, type Session } from "./reconnect";
import type { StreamRef } from "./status";
import { transport, type StreamConnection, type StreamHandlers, type Transport, type TransportName } from "./transports";
import type { Gap, ReadResult, StartPosition, TopicMessage } from "./types";

/** Messages buffered for a slow reader before the stream pauses. */
export const SUBSCRIBE_BUFFER_MESSAGES = 1000;
/** Handshakes refused while HTTP works, in a row, before `transport: "auto"` switches to SSE. */
export const AUTO_FALLBACK_AFTER = 2;
/** How often the reader's progress is confirmed to the server (WebSocket flow control). */
export const SUBSCRIBE_CONFIRM_INTERVAL_MS = 50;

export interface SubscribeOptions {
  /** Partition to follow (0). */
  partition?: number;
  /** `"latest"` (default: messages published from now on), `"earliest"` or an offset. */
  from?: StartPosition;
  /** `"auto"` (default: WebSocket, switching to SSE when WebSockets are blocked), `"websocket"` or `"sse"`. */
  transport?: TransportName;
  /** Called when offsets were removed before the stream reached them; the stream goes on. Without it, iteration throws `GapError`. */
  onGap?: (gap: Gap) => void;
  reconnect?: ReconnectOptions;
  /** Messages buffered for a slow reader before the stream pauses (SUBSCRIBE_BUFFER_MESSAGES). */
  bufferSize?: number;
  /** Aborting it unsubscribes. */
  signal?: AbortSignal;
}

export class Subscription<T = unknown> implements AsyncIterable<TopicMessage<T>>, AsyncDisposable {
  readonly topic: string;
  readonly partition: number;
  /** Resolves when the subscription ends: undefined after `unsubscribe()`, or the error that ended it. */
  readonly closed: Promise<Error | undefined>;

  private position: StartPosition;
  private readonly channel: Channel<TopicMessage<T>>;
  private readonly stop = new AbortController();
  private transport: Transport;
  private ref: StreamRef;
  private blockedHandshakes = 0;
  private readonly bufferSize: number;
  private connection: StreamConnection | undefined;
  private taken = -1;
  private confirmTimer: ReturnType<typeof setTimeout> | undefined;
  private paused = false;
  private resume: (() => void) | undefined;
  private finish!: (error: Error | undefined) => void;
  private readonly untrack: () => void;

  constructor(private readonly ctx: ClientContext, topic: string, private readonly options: SubscribeOptions = {}) {
    this.topic = topic;
    this.partition = options.partition ?? 0;
    this.position = options.from ?? "latest";
    this.bufferSize = Math.max(1, options.bufferSize ?? SUBSCRIBE_BUFFER_MESSAGES);
    this.transport = transport(options.transport === "sse" ? "sse" : "websocket", ctx.http, topic, this.partition);
    this.ref = { kind: "subscribe", name: topic, partition: this.partition, transport: this.transport.name };
    this.channel = new Channel({
      onReturn: () => void this.unsubscribe(),
      onTake: (message, size) => {
        this.taken = message.offset;
        this.confirmTimer ??= setTimeout(() => {
          this.confirmTimer = undefined;
          this.connection?.confirm(this.taken);
        }, SUBSCRIBE_CONFIRM_INTERVAL_MS);
        if (this.paused && size <= this.bufferSize / 2) this.resume?.();
      },
    });
    this.closed = new Promise((resolve) => (this.finish = resolve));
    this.untrack = ctx.track(this);
    if (options.signal?.aborted) this.end(undefined);
    options.signal?.addEventListener("abort", () => void this.unsubscribe(), { once: true });
    void connectionLoop({
      stop: this.stop.signal,
      reconnect: options.reconnect,
      status: ctx.status,
      stream: () => this.ref,
      credentials: ctx.http.credentials,
      prepare: () => this.prepare(),
      session: (opened) => this.session(opened),
      verdict: () => (this.paused ? "quick" : undefined),
    }).then((error) => this.end(error));
  }

  /** The offset this subscription resumes from (last delivered offset + 1), once known. */
  get resumeFrom(): number | undefined {
    return typeof this.position === "number" ? this.position : undefined;
  }

  [Symbol.asyncIterator](): AsyncIterator<TopicMessage<T>> {
    return this.channel;
  }

  /** Stops the stream; a running `for await` ends (messages not yet taken are dropped). */
  async unsubscribe(): Promise<void> {
    this.end(undefined);
    await this.closed;
  }

  close(): Promise<void> {
    return this.unsubscribe();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.unsubscribe();
  }

  private end(error: Error | undefined): void {
    if (this.stop.signal.aborted) return;
    this.stop.abort();
    this.resume?.();
    clearTimeout(this.confirmTimer);
    this.connection?.close();
    if (error) this.channel.fail(error);
    else this.channel.end();
    this.untrack();
    this.ctx.status.emit({ type: "closed", stream: this.ref, error });
    this.finish(error);
  }

  private async prepare(): Promise<void> {
    if (this.paused) await new Promise<void>((r) => (this.resume = r));
    this.paused = false;
    this.resume = undefined;
    if (this.position === "latest" && !this.stop.signal.aborted) this.position = await this.resolveLatest();
  }

  /** One connection, from open to close, accepting only messages at or past the position. */
  private async session(opened: () => void): Promise<Session> {
    let live = true;
    let delivered = 0;
    let error: SpoolError | undefined;
    const conn = await this.connect({
      message: (m) => {
        if (!live || this.stop.signal.aborted) return;
        if (typeof this.position === "number" && m.offset < this.position) return; // already delivered
        this.position = m.offset + 1;
        delivered++;
        this.channel.push(m as TopicMessage<T>);
        if (this.channel.size >= this.bufferSize && !this.paused) {
          this.paused = true;
          this.connection?.close();
        }
      },
      gap: (from, to) => {
        if (live) this.onGap(from, to);
      },
      error: (e) => {
        if (live) error = e;
      },
    });
    this.connection = conn;
    if (this.stop.signal.aborted) conn.close();
    // Say from the start that this client confirms, so a burst pauses it instead of closing it.
    if (typeof this.position === "number" && this.position > 0) conn.confirm(Math.max(this.taken, this.position - 1));
    const openedAt = Date.now();
    opened();
    const info = await conn.closed;
    live = false;
    return { ...info, error, healthy: delivered > 0 || Date.now() - openedAt >= HEALTHY_CONNECTION_MS };
  }

  /** Connects with the current transport; with "auto", moves to SSE once WebSockets prove blocked. */
  private async connect(handlers: StreamHandlers): Promise<StreamConnection> {
    try {
      const conn = await this.transport.connect(this.position, handlers, this.stop.signal);
      this.blockedHandshakes = 0;
      return conn;
    } catch (err) {
      const blocked = err instanceof ConnectionError && err.details?.httpReachable === true;
      this.blockedHandshakes = blocked ? this.blockedHandshakes + 1 : 0;
      if ((this.options.transport ?? "auto") !== "auto" || this.transport.name !== "websocket" || this.blockedHandshakes < AUTO_FALLBACK_AFTER) throw err;
      this.transport = transport("sse", this.ctx.http, this.topic, this.partition);
      this.ref = { ...this.ref, transport: "sse" };
      return this.transport.connect(this.position, handlers, this.stop.signal);
    }
  }

  private onGap(from: number, to: number): void {
    this.ctx.status.emit({ type: "gap", stream: this.ref, from, to });
    if (typeof this.position !== "number" || to > this.position) this.position = to;
    if (this.options.onGap) this.options.onGap({ partition: this.partition, from, to });
    else this.end(new GapError(this.partition, from, to));
  }

  /**
   * Pins "latest" to an offset before the first connect, so a reconnect before the first
   * message resumes where the subscription began rather than at a later "latest".
   */
  private async resolveLatest(): Promise<number> {
    const res = await this.ctx.http.request<ReadResult>("GET", `/v1/topics/${seg(this.topic)}/messages`, {
      // `since` later than any message: no messages, and `next` is the end of the log.
      query: { partition: this.partition, since: 999_999_999_999_999, limit: 1 },
      signal: this.stop.signal,
      idempotent: true,
    });
    return res.next;
  }
}
