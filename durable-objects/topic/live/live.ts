/**
 * Live subscribers of a partition: WebSocket (`/subscribe`, Hibernation API) and SSE
 * (`/events`).
 *
 * Delivery is in offset order with no gap and no duplicate, also across the seam between
 * history and live: a socket's `next` offset (in its attachment) is the only cursor, it
 * only moves forward, and a message goes out only when its offset is `>= next`. History
 * is sent synchronously at upgrade, so no append can slip between the read and going
 * live; an append while a socket is behind is read from the log instead of being pushed.
 * What one socket may have unconfirmed is bounded, and a socket paused too long is closed
 * with 4000 (socket.ts); socket deadlines live in store.ts; SSE streams are pulled by the
 * runtime (sse.ts); requests and client frames are checked in request.ts. Each appended
 * message is serialised once (frames.ts), whatever the number of subscribers.
 *
 * A socket or stream ends with its credential: the alarm is armed at the earliest expiry
 * (socket rows in store.ts, whose sockets are checked against `ctx.getWebSockets()` first,
 * and open SSE streams), closes expired sockets with 4001 and ends expired streams with an
 * error event; every path that sends checks the expiry first, so nothing goes out after it
 * even when the alarm is late. An `auth` frame swaps a socket's credential (auth-frames.ts).
 */
import type { Env } from "../../env";
import { earliestOf } from "../../shared/alarm";
import { now } from "../../shared/clock";
import { AUTH_RESULT } from "../../shared/token-verify";
import { judgeAuthFrame } from "./auth-frames";
import { FrameCache, toCached, wsGapFrame, type CachedMessage } from "./frames";
import { handlePublishFrame } from "./publish-frames";
import { ackOffset, errorFrame, errorResponse, parseFrame, resolveStart, sseFrom } from "./request";
import { SSE_DEFAULTS, SseStreams, type SseOptions } from "./sse";
import {
  closeSlow, confirm, newSubscriber, sendFrom, SLOW_GRACE_MS, SUBSCRIBER_TAG, SUBSCRIBER_WINDOW, type SubscriberState, type Window,
} from "./socket";
import { LiveStore } from "./store";
import type { LogEntry, LogReader, PartitionHooks, PartitionModule, PartitionReporter } from "../types";
import {
  AUTH_REFUSED_REASON, checkFrame, closeFor, CloseCodes, credentialExpired, credentialExpiresAt, EXPIRED_REASON, hasSocketRoom,
  socketLimitResponse,
} from "../../shared/socket-limits";

/**
 * Internal headers the Worker sets on the request it forwards (never the client's). The
 * credential's expiry travels on the one header every object reads, CREDENTIAL_EXPIRES_HEADER.
 */
export const LIVE_HEADERS = {
  canPublish: "x-spool-can-publish",
} as const;

export class LiveSubscribers implements PartitionModule, PartitionReporter {
  /** The newest messages as JSON, shared by every subscriber. */
  readonly frames = new FrameCache();
  /** Flow-control bound per socket; tests may lower it through runInDurableObject. */
  window: Window = SUBSCRIBER_WINDOW;
  slowGraceMs = SLOW_GRACE_MS;
  readonly sse: SseOptions = { ...SSE_DEFAULTS };
  private readonly states = new WeakMap<WebSocket, SubscriberState>();
  private readonly streams = new SseStreams(this.sse);
  private readonly store: LiveStore;
  /** The earliest socket deadline a synchronous step created, handed to the alarm after it. */
  private deadline: number | null = null;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly log: LogReader,
    private readonly hooks: PartitionHooks,
  ) {
    this.store = new LiveStore(ctx.storage.sql);
  }

  migrate(): void {
    this.store.migrate();
  }

  /** The earliest socket or stream deadline; first forgets the rows of sockets that are gone. */
  nextDeadline(): number | null {
    for (const socket of this.store.sockets()) {
      if (!this.ctx.getWebSockets(socket).some((ws) => ws.readyState === WebSocket.OPEN)) this.store.closed(socket);
    }
    return earliestOf(this.store.nextDeadline(), this.streams.nextExpiry());
  }

  /** Closes sockets whose credential expired, ends such streams, and closes paused sockets that never acked in time. */
  async onAlarm(at: number): Promise<void> {
    this.streams.endExpired(at);
    for (const socket of this.store.takeExpired(at)) {
      for (const ws of this.ctx.getWebSockets(socket)) closeQuietly(ws, CloseCodes.EXPIRED, EXPIRED_REASON);
    }
    for (const socket of this.store.takeStalled(at)) {
      for (const ws of this.ctx.getWebSockets(socket)) {
        const s = this.state(ws);
        if (s) closeSlow(ws, s);
      }
    }
  }

  /** WebSocket subscribers plus open SSE streams (PartitionReporter, for `GET /v1/topics/{t}`). */
  subscriberCount(): number {
    return this.ctx.getWebSockets(SUBSCRIBER_TAG).length + this.streams.count;
  }

  /** Closes every subscriber (topic deleted) and forgets cached frames. */
  reset(code: number = CloseCodes.GONE, reason = "topic deleted"): void {
    for (const ws of this.ctx.getWebSockets(SUBSCRIBER_TAG)) closeQuietly(ws, code, reason);
    this.streams.endAll();
    this.frames.clear();
    this.store.clear();
  }

  /** After an append committed: push to caught-up sockets, wake SSE streams. Never waits. */
  onAppend(entries: LogEntry[]): void {
    if (entries.length === 0) return;
    const sockets = this.ctx.getWebSockets(SUBSCRIBER_TAG);
    if (sockets.length === 0 && this.streams.count === 0) {
      // Nobody to serialise for: a later subscriber reads from the log, and the cache must
      // stay a contiguous run, so drop it rather than leave a hole.
      this.frames.clear();
      return;
    }
    this.frames.append(entries);
    const at = now();
    for (const ws of sockets) {
      const s = this.state(ws);
      if (!s || ws.readyState !== WebSocket.OPEN) continue;
      if (credentialExpired(s.limits, at)) {
        closeQuietly(ws, CloseCodes.EXPIRED, EXPIRED_REASON);
        continue;
      }
      if (this.pump(ws, s)) ws.serializeAttachment(s);
    }
    this.streams.wake();
    this.armDeadline().catch((err) => console.error("live: setting the alarm failed", err));
  }

  /** `/subscribe` (WebSocket upgrade) and `/events` (SSE), forwarded by the Worker. */
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (!this.log.exists()) return errorResponse("NOT_FOUND", "topic not found");
    const partition = Number(url.searchParams.get("partition") ?? "0");
    const expiresAt = credentialExpiresAt(request);
    // Expired on the objects' clock (a moved test clock, or a slow hop): nothing is sent.
    if (expiresAt !== null && expiresAt <= now()) return errorResponse("UNAUTHORIZED", "the token has expired");
    if (url.pathname.endsWith("/events")) {
      const start = resolveStart(this.log, sseFrom(request, url));
      if ("error" in start) return start.error;
      const log = { first: () => this.log.first(), next: () => this.log.next() };
      const res = this.streams.respond({ ...log, readFrom: (o: number, max: number) => this.readFrom(o, max) }, start.next, start.gapFrom, expiresAt);
      if (expiresAt !== null) await this.hooks.alarmBy(expiresAt);
      return res;
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return errorResponse("UPGRADE_REQUIRED", "expected a WebSocket upgrade");
    }
    if (!hasSocketRoom(this.ctx, this.env)) return socketLimitResponse(this.env);
    const start = resolveStart(this.log, url.searchParams.get("from"));
    if ("error" in start) return start.error;
    const topic = url.searchParams.get("topic") ?? "";
    const s = newSubscriber(partition, start.next, request.headers.get(LIVE_HEADERS.canPublish) === "1", expiresAt, now());
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [SUBSCRIBER_TAG, s.id, `topic:${topic}`]);
    this.states.set(server, s);
    if (start.gapFrom !== null) server.send(wsGapFrame(start.gapFrom, start.next));
    // History goes out now, in this same turn: nothing can be appended in between.
    this.pump(server, s);
    server.serializeAttachment(s);
    if (expiresAt !== null) {
      this.store.expiresAt(s.id, expiresAt);
      this.want(expiresAt);
    }
    await this.armDeadline();
    return new Response(null, { status: 101, webSocket: client });
  }

  async onMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const s = this.state(ws);
    // Frames still in flight after we closed the socket: sending on it would throw.
    if (!s || ws.readyState !== WebSocket.OPEN) return;
    const verdict = checkFrame(message, s.limits, now());
    ws.serializeAttachment(s); // the frame budget moved
    if (!verdict.ok) return closeFor(ws, verdict);
    const frame = parseFrame(message);
    if (frame?.type === "ack") {
      const offset = ackOffset(frame);
      if (offset === null) {
        ws.send(errorFrame("VALIDATION_FAILED", "ack needs a non-negative integer offset"));
        return;
      }
      if (confirm(s, offset)) {
        if (s.pausedAt !== null) {
          s.pausedAt = null;
          this.store.resumed(s.id);
        }
        this.pump(ws, s);
      }
      ws.serializeAttachment(s);
      await this.armDeadline();
      return;
    }
    if (frame?.type === "publish") {
      if (!s.canPublish) {
        ws.send(errorFrame("FORBIDDEN", "this socket's credential lacks 'publish' on the topic"));
        return;
      }
      const reply = await handlePublishFrame(this.env, topicOf(this.ctx, ws), frame);
      if (ws.readyState !== WebSocket.OPEN) return;
      // The credential may have expired while the publish ran: the answer is not sent then.
      if (credentialExpired(s.limits, now())) return closeQuietly(ws, CloseCodes.EXPIRED, EXPIRED_REASON);
      ws.send(reply);
      return;
    }
    if (frame?.type === "auth") return this.swapCredential(ws, s, frame.token);
    closeQuietly(ws, CloseCodes.BAD_FRAME, "expected a JSON frame of type 'ack', 'publish' or 'auth'");
  }

  /** `{"type":"auth","token"}`: the socket goes on under the new token, or is closed with 4003. */
  private async swapCredential(ws: WebSocket, s: SubscriberState, token: unknown): Promise<void> {
    const verdict = await judgeAuthFrame(this.env, topicOf(this.ctx, ws), token, now());
    if (ws.readyState !== WebSocket.OPEN) return; // closed (or expired) while the token was verified
    if (verdict.type === "invalid") return ws.send(errorFrame("VALIDATION_FAILED", verdict.message));
    if (verdict.type === "refused") {
      this.store.closed(s.id);
      return closeQuietly(ws, CloseCodes.AUTH_REFUSED, AUTH_REFUSED_REASON);
    }
    // `s` is the socket's one state object: frames handled meanwhile changed it in place.
    s.canPublish = verdict.canPublish;
    s.limits.expiresAt = verdict.expiresAt;
    ws.serializeAttachment(s);
    this.store.expiresAt(s.id, verdict.expiresAt);
    // An earlier alarm for the old expiry finds no row due and re-arms for the new one.
    this.want(verdict.expiresAt);
    await this.armDeadline();
    ws.send(JSON.stringify(AUTH_RESULT));
  }

  async onClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    const s = this.state(ws);
    if (s) this.store.closed(s.id);
    this.states.delete(ws);
    // 1005/1006 describe a close without a code; they cannot be sent back.
    closeQuietly(ws, code === 1005 || code === 1006 ? CloseCodes.NORMAL : code, reason);
  }

  /**
   * Sends `s.next` onwards as far as the window allows (socket.ts `sendFrom`). Returns
   * whether the state changed. A socket that paused gets its slow-close deadline here.
   */
  private pump(ws: WebSocket, s: SubscriberState): boolean {
    const source = { first: () => this.log.first(), next: () => this.log.next(), readFrom: (o: number, max: number) => this.readFrom(o, max) };
    const sent = sendFrom(ws, s, source, this.window, this.slowGraceMs, now());
    if (sent.closeAt !== null) {
      this.store.paused(s.id, sent.closeAt);
      this.want(sent.closeAt);
    }
    return sent.changed;
  }

  /** Messages from `offset` on: from the shared cache when it has them, else the log. */
  readFrom(offset: number, max: number): CachedMessage[] {
    const cached = this.frames.from(offset, max);
    return cached.length > 0 ? cached : this.log.read(offset, max).map(toCached);
  }

  /** Notes a socket deadline created by a synchronous step (armDeadline hands it on). */
  private want(deadline: number): void {
    if (this.deadline === null || deadline < this.deadline) this.deadline = deadline;
  }

  /** Makes sure the alarm fires by the earliest socket deadline created since the last call. */
  private async armDeadline(): Promise<void> {
    const d = this.deadline;
    if (d === null) return;
    this.deadline = null;
    await this.hooks.alarmBy(d);
  }

  private state(ws: WebSocket): SubscriberState | null {
    let s = this.states.get(ws);
    if (!s) {
      const a = ws.deserializeAttachment() as SubscriberState | null;
      if (!a || a.v !== 1) return null;
      s = a;
      this.states.set(ws, s);
    }
    return s;
  }
}

function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  closeFor(ws, { code, reason });
}

/** The topic a subscription socket follows (a tag set at upgrade). */
function topicOf(ctx: DurableObjectState, ws: WebSocket): string {
  return ctx.getTags(ws).find((t) => t.startsWith("topic:"))?.slice("topic:".length) ?? "";
}
