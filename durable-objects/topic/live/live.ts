/**
 * Live subscribers of a partition: WebSocket (`/subscribe`, Hibernation API) and SSE
 * (`/events`).
 *
 * Delivery is in offset order with no gap and no duplicate, also across the seam between
 * history and live: a socket's `next` offset (in its attachment) is the only cursor, it
 * only moves forward, and a message goes out only when its offset is `>= next`. History
 * is sent synchronously at upgrade, so no append can slip between the read and going
 * live; an append while a socket is behind is read from the log instead of being pushed.
 * What one socket may have unconfirmed is bounded (topic-live-socket.ts); SSE streams are
 * pulled by the runtime (topic-live-sse.ts). Each appended message is serialised once
 * (topic-live-frames.ts), whatever the number of subscribers.
 */
import type { Env } from "../../env";
import { ErrorCodes, type ErrorCode } from "../../../protocol/errors";
import { migrate } from "../../shared/sql";
import type { PartitionHooks } from "../object";
import { FrameCache, toCached, wsGapFrame, wsMessageFrame, type CachedMessage } from "./frames";
import { handlePublishFrame } from "./publish-frames";
import { openSseStream, SSE_DEFAULTS, type SseHandle, type SseOptions } from "./sse";
import {
  confirm, fits, newSubscriber, recordSent, SEND_CHUNK_MESSAGES, skipTo, SLOW_GRACE_MS, slowReason, SUBSCRIBER_TAG,
  SUBSCRIBER_WINDOW, type SubscriberState, type Window,
} from "./socket";
import type { LogEntry, LogReader, PartitionModule, PartitionReporter } from "../types";
import { checkFrame, closeFor, CloseCodes, hasSocketRoom, socketLimitResponse } from "../../shared/socket-limits";

const MIGRATIONS = [
  // Sockets whose credential expires: the alarm closes them (CloseCodes.EXPIRED).
  `CREATE TABLE live_expiry (socket TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID`,
  `CREATE INDEX live_expiry_at ON live_expiry (at)`,
  // Paused sockets (window full) and when they are closed unless an ack frees the window.
  `CREATE TABLE live_slow (socket TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID`,
];

/** Internal headers the Worker sets on the request it forwards (never the client's). */
export const LIVE_HEADERS = {
  canPublish: "x-spool-can-publish",
  expiresAt: "x-spool-expires-at",
} as const;

const EXPIRED_REASON = "token expired; reconnect with a fresh token";

/** Extra bytes a `message` frame adds to the message JSON. */
const FRAME_OVERHEAD = 16;

type Start = { next: number; gapFrom: number | null } | { error: Response };

export class LiveSubscribers implements PartitionModule, PartitionReporter {
  /** The newest messages as JSON, shared by every subscriber. */
  readonly frames = new FrameCache();
  /** Flow-control bound per socket; tests may lower it through runInDurableObject. */
  window: Window = SUBSCRIBER_WINDOW;
  slowGraceMs = SLOW_GRACE_MS;
  sse: SseOptions = { ...SSE_DEFAULTS };
  private readonly states = new WeakMap<WebSocket, SubscriberState>();
  private readonly streams = new Set<SseHandle>();
  private waiters = new Set<() => void>();
  /** A socket was paused since the alarm was last set: it needs the slow-socket deadline. */
  private alarmDue = false;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly log: LogReader,
    private readonly hooks: PartitionHooks,
  ) {}

  migrate(): void {
    migrate(this.ctx.storage.sql, MIGRATIONS, "live");
  }

  nextDeadline(): number | null {
    return this.ctx.storage.sql.exec<{ at: number | null }>(
      "SELECT MIN(at) AS at FROM (SELECT at FROM live_expiry UNION ALL SELECT at FROM live_slow)",
    ).one().at;
  }

  /** Closes sockets whose credential expired, and paused sockets that never acked in time. */
  async onAlarm(now: number): Promise<void> {
    const sql = this.ctx.storage.sql;
    for (const { socket } of sql.exec<{ socket: string }>("SELECT socket FROM live_expiry WHERE at <= ?", now).toArray()) {
      for (const ws of this.ctx.getWebSockets(socket)) closeQuietly(ws, CloseCodes.EXPIRED, EXPIRED_REASON);
      sql.exec("DELETE FROM live_expiry WHERE socket = ?", socket);
    }
    for (const { socket } of sql.exec<{ socket: string }>("SELECT socket FROM live_slow WHERE at <= ?", now).toArray()) {
      for (const ws of this.ctx.getWebSockets(socket)) {
        const s = this.state(ws);
        if (s && s.pausedAt !== null) closeQuietly(ws, CloseCodes.SLOW_SUBSCRIBER, slowReason(s));
      }
      sql.exec("DELETE FROM live_slow WHERE socket = ?", socket);
    }
  }

  /** WebSocket subscribers plus open SSE streams (PartitionReporter, for `GET /v1/topics/{t}`). */
  subscriberCount(): number {
    return this.ctx.getWebSockets(SUBSCRIBER_TAG).length + this.streams.size;
  }

  /** Closes every subscriber (topic deleted) and forgets cached frames. */
  reset(code: number = CloseCodes.GONE, reason = "topic deleted"): void {
    for (const ws of this.ctx.getWebSockets(SUBSCRIBER_TAG)) closeQuietly(ws, code, reason);
    for (const s of this.streams) s.end();
    this.wake();
    this.frames.clear();
    this.ctx.storage.sql.exec("DELETE FROM live_expiry");
    this.ctx.storage.sql.exec("DELETE FROM live_slow");
  }

  /** After an append committed: push to caught-up sockets, wake SSE streams. Never waits. */
  onAppend(entries: LogEntry[]): void {
    if (entries.length === 0) return;
    const sockets = this.ctx.getWebSockets(SUBSCRIBER_TAG);
    if (sockets.length === 0 && this.streams.size === 0) {
      // Nobody to serialise for: a later subscriber reads from the log, and the cache must
      // stay a contiguous run, so drop it rather than leave a hole.
      this.frames.clear();
      return;
    }
    this.frames.append(entries);
    const now = Date.now();
    for (const ws of sockets) {
      const s = this.state(ws);
      if (!s || ws.readyState !== WebSocket.OPEN) continue;
      if (s.limits.expiresAt !== null && now >= s.limits.expiresAt) {
        closeQuietly(ws, CloseCodes.EXPIRED, EXPIRED_REASON);
        continue;
      }
      if (this.pump(ws, s)) ws.serializeAttachment(s);
    }
    this.wake();
    if (this.alarmDue) this.armAlarm().catch((err) => console.error("live: setting the alarm failed", err));
  }

  /** `/subscribe` (WebSocket upgrade) and `/events` (SSE), forwarded by the Worker. */
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (!this.log.exists()) return errorResponse("NOT_FOUND", "topic not found");
    const partition = Number(url.searchParams.get("partition") ?? "0");
    if (url.pathname.endsWith("/events")) {
      const lastId = request.headers.get("last-event-id");
      const from = lastId !== null && /^\d+$/.test(lastId.trim()) ? String(Number(lastId.trim()) + 1) : url.searchParams.get("from");
      const start = this.start(from);
      if ("error" in start) return start.error;
      return this.openSse(start.next, start.gapFrom);
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return errorResponse("UPGRADE_REQUIRED", "expected a WebSocket upgrade");
    }
    if (!hasSocketRoom(this.ctx, this.env)) return socketLimitResponse(this.env);
    const start = this.start(url.searchParams.get("from"));
    if ("error" in start) return start.error;
    const topic = url.searchParams.get("topic") ?? "";
    const expires = request.headers.get(LIVE_HEADERS.expiresAt) ?? "";
    const expiresAt = /^\d{1,16}$/.test(expires) ? Number(expires) : null;
    const now = Date.now();
    const s = newSubscriber(partition, start.next, request.headers.get(LIVE_HEADERS.canPublish) === "1", expiresAt, now);
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [SUBSCRIBER_TAG, s.id, `topic:${topic}`]);
    this.states.set(server, s);
    if (start.gapFrom !== null) server.send(wsGapFrame(start.gapFrom, start.next));
    // History goes out now, in this same turn: nothing can be appended in between.
    this.pump(server, s);
    server.serializeAttachment(s);
    if (expiresAt !== null) {
      this.ctx.storage.sql.exec("INSERT OR REPLACE INTO live_expiry (socket, at) VALUES (?, ?)", s.id, expiresAt);
      this.alarmDue = true;
    }
    if (this.alarmDue) await this.armAlarm();
    return new Response(null, { status: 101, webSocket: client });
  }

  async onMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const s = this.state(ws);
    // Frames still in flight after we closed the socket: sending on it would throw.
    if (!s || ws.readyState !== WebSocket.OPEN) return;
    const verdict = checkFrame(message, s.limits, Date.now());
    ws.serializeAttachment(s); // the frame budget moved
    if (!verdict.ok) return closeFor(ws, verdict);
    const frame = parseFrame(message);
    if (frame?.type === "ack") {
      if (typeof frame.offset !== "number" || !Number.isSafeInteger(frame.offset) || frame.offset < 0) {
        ws.send(errorFrame("VALIDATION_FAILED", "ack needs a non-negative integer offset"));
        return;
      }
      if (confirm(s, frame.offset)) {
        if (s.pausedAt !== null) {
          s.pausedAt = null;
          this.ctx.storage.sql.exec("DELETE FROM live_slow WHERE socket = ?", s.id);
        }
        this.pump(ws, s);
      }
      ws.serializeAttachment(s);
      if (this.alarmDue) await this.armAlarm();
      return;
    }
    if (frame?.type === "publish") {
      if (!s.canPublish) {
        ws.send(errorFrame("FORBIDDEN", "this socket's credential lacks 'publish' on the topic"));
        return;
      }
      const topic = this.ctx.getTags(ws).find((t) => t.startsWith("topic:"))?.slice("topic:".length) ?? "";
      const reply = await handlePublishFrame(this.env, topic, frame);
      if (ws.readyState === WebSocket.OPEN) ws.send(reply);
      return;
    }
    closeQuietly(ws, CloseCodes.BAD_FRAME, "expected a JSON frame of type 'ack' or 'publish'");
  }

  async onClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    const s = this.state(ws);
    if (s) {
      this.ctx.storage.sql.exec("DELETE FROM live_expiry WHERE socket = ?", s.id);
      this.ctx.storage.sql.exec("DELETE FROM live_slow WHERE socket = ?", s.id);
    }
    this.states.delete(ws);
    // 1005/1006 describe a close without a code; they cannot be sent back.
    closeQuietly(ws, code === 1005 || code === 1006 ? CloseCodes.NORMAL : code, reason);
  }

  /**
   * Sends `s.next` onwards as far as the window allows. Returns whether the state changed.
   * A message that does not fit pauses the socket until an ack frees the window; the alarm
   * closes it if none comes within the grace period.
   */
  private pump(ws: WebSocket, s: SubscriberState): boolean {
    const before = s.next;
    const sentBefore = s.sentCount;
    const pausedBefore = s.pausedAt;
    for (;;) {
      const first = this.log.first();
      if (s.next < first) {
        ws.send(wsGapFrame(s.next, first));
        skipTo(s, first);
      }
      const end = this.log.next();
      if (s.next >= end) break;
      const batch = this.readFrom(s.next, SEND_CHUNK_MESSAGES);
      if (batch.length === 0) {
        skipTo(s, end); // the rest was compacted away
        break;
      }
      let count = 0;
      let bytes = 0;
      let full = false;
      for (const m of batch) {
        const size = m.bytes + FRAME_OVERHEAD;
        if (!fits(s, count + 1, bytes + size, this.window)) {
          full = true;
          break;
        }
        ws.send((m.frame ??= wsMessageFrame(m.json)));
        count++;
        bytes += size;
        s.next = m.offset + 1;
      }
      recordSent(s, s.next, count, bytes);
      if (full) {
        if (s.pausedAt === null) {
          s.pausedAt = Date.now();
          this.ctx.storage.sql.exec("INSERT OR REPLACE INTO live_slow (socket, at) VALUES (?, ?)", s.id, s.pausedAt + this.slowGraceMs);
          this.alarmDue = true;
        }
        break;
      }
    }
    return s.next !== before || s.sentCount !== sentBefore || s.pausedAt !== pausedBefore;
  }

  /** Messages from `offset` on: from the shared cache when it has them, else the log. */
  readFrom(offset: number, max: number): CachedMessage[] {
    const cached = this.frames.from(offset, max);
    return cached.length > 0 ? cached : this.log.read(offset, max).map(toCached);
  }

  /** Resolves where a subscription starts: `latest`, `earliest` or an offset. */
  private start(from: string | null): Start {
    const first = this.log.first();
    const next = this.log.next();
    if (from === null || from === "" || from === "latest") return { next, gapFrom: null };
    if (from === "earliest") return { next: first, gapFrom: null };
    const n = Number(from);
    if (!/^\d+$/.test(from) || !Number.isSafeInteger(n)) {
      return { error: errorResponse("VALIDATION_FAILED", "from must be 'latest', 'earliest' or an offset", { field: "from" }) };
    }
    if (n > next) {
      return { error: errorResponse("VALIDATION_FAILED", `from ${n} is past the end of the partition (next is ${next})`, { field: "from", next }) };
    }
    return n < first ? { next: first, gapFrom: n } : { next: n, gapFrom: null };
  }

  private openSse(next: number, gapFrom: number | null): Response {
    const source = {
      first: () => this.log.first(),
      next: () => this.log.next(),
      readFrom: (offset: number, max: number) => this.readFrom(offset, max),
      waitForAppend: (ms: number) => this.waitForAppend(ms),
    };
    // The stream may end (and call back) before openSseStream has even returned.
    let ended = false;
    let handle: SseHandle | null = null;
    handle = openSseStream(source, next, gapFrom, this.sse, () => {
      ended = true;
      if (handle) this.streams.delete(handle);
    });
    if (!ended) this.streams.add(handle);
    return new Response(handle.stream, {
      headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache, no-transform" },
    });
  }

  private async armAlarm(): Promise<void> {
    this.alarmDue = false;
    await this.hooks.scheduleAlarm();
  }

  private waitForAppend(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        resolve(false);
      }, ms);
      this.waiters.add(wake);
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const w of waiters) w();
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

type Frame = { type: "ack"; offset?: unknown } | { type: "publish"; messages?: unknown; ref?: unknown };

function parseFrame(message: string | ArrayBuffer): Frame | null {
  if (typeof message !== "string") return null;
  try {
    const v: unknown = JSON.parse(message);
    if (typeof v === "object" && v !== null && "type" in v && (v.type === "ack" || v.type === "publish")) return v as Frame;
  } catch {
    // not JSON
  }
  return null;
}

function errorFrame(code: ErrorCode, message: string): string {
  return JSON.stringify({ type: "error", code, message });
}

function errorResponse(code: ErrorCode, message: string, details?: Record<string, unknown>): Response {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (ErrorCodes[code] === 429) headers["retry-after"] = "1";
  return new Response(JSON.stringify({ error: { code, message, ...(details ? { details } : {}) } }), { status: ErrorCodes[code], headers });
}

function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  closeFor(ws, { code, reason });
}
