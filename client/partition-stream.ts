/**
 * One partition of a live subscription: its position, its connection and its reconnects.
 * A `Subscription` (subscribe.ts) runs one of these per partition it follows and merges
 * what they deliver into one iterable.
 *
 * The stream owns its position (the offset after the last message it accepted), so
 * whatever happens to the connection — server restart, network loss, token expiry, the
 * server closing a slow subscriber — it reconnects with jittered backoff from exactly that
 * offset: no gap, and any message below it is dropped, so no duplicate. "latest" is pinned
 * to an offset before the first connect, so a reconnect before the first message resumes
 * where the stream began rather than at a later "latest".
 */
import type { ReconnectOptions } from "./backoff.js";
import { seg, type ClientContext } from "./context.js";
import { ConnectionError, type SpoolError } from "./errors.js";
import { connectionLoop, HEALTHY_CONNECTION_MS, type Session } from "./reconnect.js";
import type { ConnectionStatus, StreamRef } from "./status.js";
import { transport, type StreamConnection, type StreamHandlers, type Transport, type TransportName } from "./transports.js";
import type { ReadResult, StartPosition, TopicMessage } from "./types.js";

/** Handshakes refused while HTTP works, in a row, before `transport: "auto"` switches to SSE. */
export const AUTO_FALLBACK_AFTER = 2;
/** How often the reader's progress is confirmed to the server (WebSocket flow control). */
export const SUBSCRIBE_CONFIRM_INTERVAL_MS = 50;

/** Where the stream's messages go and what it asks of the subscription that runs it. */
export interface PartitionSink {
  /** Accepts a message in offset order; true when the reader is so far behind that the stream should pause. */
  push(message: TopicMessage): boolean;
  gap(partition: number, from: number, to: number): void;
  status(status: ConnectionStatus): void;
}

export interface PartitionStreamOptions {
  topic: string;
  partition: number;
  from: StartPosition;
  transport: TransportName;
  reconnect: ReconnectOptions | undefined;
}

export class PartitionStream {
  readonly partition: number;
  /** Resolves when the stream ends: undefined when stopped, or the error that ended it. */
  readonly ended: Promise<Error | undefined>;

  private position: StartPosition;
  private transport: Transport;
  private ref: StreamRef;
  private blockedHandshakes = 0;
  private connection: StreamConnection | undefined;
  private taken = -1;
  private confirmTimer: ReturnType<typeof setTimeout> | undefined;
  private paused = false;
  private resumeNow: (() => void) | undefined;

  constructor(private readonly ctx: ClientContext, private readonly o: PartitionStreamOptions, private readonly sink: PartitionSink, private readonly stop: AbortSignal) {
    this.partition = o.partition;
    this.position = o.from;
    this.transport = transport(o.transport === "sse" ? "sse" : "websocket", ctx.http, o.topic, o.partition);
    this.ref = { kind: "subscribe", name: o.topic, partition: o.partition, transport: this.transport.name };
    stop.addEventListener("abort", () => {
      this.resumeNow?.();
      clearTimeout(this.confirmTimer);
      this.connection?.close();
    }, { once: true });
    this.ended = connectionLoop({
      stop,
      reconnect: o.reconnect,
      status: { emit: (s) => sink.status(s) },
      stream: () => this.ref,
      credentials: ctx.http.credentials,
      prepare: () => this.prepare(),
      session: (opened) => this.session(opened),
      verdict: () => (this.paused ? "quick" : undefined),
    });
  }

  /** The offset this stream resumes from (last delivered offset + 1), once known. */
  get resumeFrom(): number | undefined {
    return typeof this.position === "number" ? this.position : undefined;
  }

  get streamRef(): StreamRef {
    return this.ref;
  }

  /** The reader took a message of this partition: confirm it to the server (batched). */
  took(offset: number): void {
    this.taken = offset;
    this.confirmTimer ??= setTimeout(() => {
      this.confirmTimer = undefined;
      this.connection?.confirm(this.taken);
    }, SUBSCRIBE_CONFIRM_INTERVAL_MS);
  }

  /** The reader caught up: reconnect if this stream paused for it. */
  resume(): void {
    if (this.paused) this.resumeNow?.();
  }

  /** A gap the subscription decided to step over: go on from `to`. */
  skipTo(to: number): void {
    if (typeof this.position !== "number" || to > this.position) this.position = to;
  }

  private async prepare(): Promise<void> {
    if (this.paused) await new Promise<void>((r) => (this.resumeNow = r));
    this.paused = false;
    this.resumeNow = undefined;
    if (this.position === "latest" && !this.stop.aborted) this.position = await this.resolveLatest();
  }

  /** One connection, from open to close, accepting only messages at or past the position. */
  private async session(opened: () => void): Promise<Session> {
    let live = true;
    let delivered = 0;
    let error: SpoolError | undefined;
    const conn = await this.connect({
      message: (m) => {
        if (!live || this.stop.aborted) return;
        if (typeof this.position === "number" && m.offset < this.position) return; // already delivered
        this.position = m.offset + 1;
        delivered++;
        if (this.sink.push(m) && !this.paused) {
          this.paused = true;
          this.connection?.close();
        }
      },
      gap: (from, to) => {
        if (live) this.sink.gap(this.partition, from, to);
      },
      error: (e) => {
        if (live) error = e;
      },
    });
    this.connection = conn;
    if (this.stop.aborted) conn.close();
    // Say from the start that this client confirms, so a burst pauses it instead of closing it.
    if (typeof this.position === "number" && this.position > 0) conn.confirm(Math.max(this.taken, this.position - 1));
    const openedAt = Date.now();
    opened();
    const info = await conn.closed;
    live = false;
    return { ...info, error, healthy: delivered > 0 || Date.now() - openedAt >= HEALTHY_CONNECTION_MS };
  }

  /**
   * Connects with the current transport. With "auto", moves to SSE once WebSockets prove
   * blocked on the way, or at once in a runtime that has no WebSocket (Node 20).
   */
  private async connect(handlers: StreamHandlers): Promise<StreamConnection> {
    try {
      const conn = await this.transport.connect(this.position, handlers, this.stop);
      this.blockedHandshakes = 0;
      return conn;
    } catch (err) {
      const details = err instanceof ConnectionError ? err.details : undefined;
      const blocked = details?.httpReachable === true;
      this.blockedHandshakes = blocked ? this.blockedHandshakes + 1 : 0;
      const fallBack = details?.noWebSocket === true || this.blockedHandshakes >= AUTO_FALLBACK_AFTER;
      if (this.o.transport !== "auto" || this.transport.name !== "websocket" || !fallBack) throw err;
      this.transport = transport("sse", this.ctx.http, this.o.topic, this.partition);
      this.ref = { ...this.ref, transport: "sse" };
      return this.transport.connect(this.position, handlers, this.stop);
    }
  }

  /** The end of the log now: a `since` later than any message reads nothing and answers `next`. */
  private async resolveLatest(): Promise<number> {
    const res = await this.ctx.http.request<ReadResult>("GET", `/v1/topics/${seg(this.o.topic)}/messages`, {
      query: { partition: this.partition, since: 999_999_999_999_999, limit: 1 },
      signal: this.stop,
      idempotent: true,
    });
    return res.next;
  }
}
