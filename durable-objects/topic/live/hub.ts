/**
 * The subscriber side of live delivery, one implementation for every object that holds
 * live subscribers: a topic partition (live.ts) and its relays (../relay/relay.ts).
 * WebSocket subscribers (Hibernation API) and SSE streams, their flow-control window, pause
 * and `4000`, `gap` frames, credential expiry (`4001`) and swap (`auth`, `4003`), `publish`
 * frames (sent through the one publish path) and closing everyone (topic deleted).
 *
 * Delivery is in offset order with no gap and no duplicate, also across the seam between
 * history and live: a socket's `next` offset (in its attachment) is the only cursor, it
 * only moves forward, and a message goes out only when its offset is `>= next`
 * (socket.ts `sendFrom`). Where messages come from is the object's `LiveSource`: a
 * partition reads its log (and frame cache) synchronously, so its history goes out in the
 * upgrade's own turn; a relay has a bounded tail of recent messages and fetches older ones
 * from its partition's log (`fetch`, asynchronous): a socket that needs them waits for
 * that one fetch (never two at once) and goes on from its own `next` when it returns.
 *
 * A socket or stream ends with its credential: the alarm is armed at the earliest expiry
 * (socket rows in store.ts, whose sockets are checked against `ctx.getWebSockets()` first,
 * also when the object restarts: `reconcile`; and open SSE streams), closes expired sockets with 4001 and ends expired streams with an
 * error event; every path that sends checks the expiry first, so nothing goes out after it
 * even when the alarm is late.
 */
import type { Env } from "../../env";
import { earliestOf } from "../../shared/alarm";
import { now } from "../../shared/clock";
import { AUTH_RESULT } from "../../shared/token-verify";
import { judgeAuthFrame } from "./auth-frames";
import { wsGapFrame, type CachedMessage } from "./frames";
import { handlePublishFrame } from "./publish-frames";
import { ackOffset, errorFrame, errorResponse, parseFrame, type LiveAsk, type Start } from "./request";
import { SSE_DEFAULTS, SseStreams, type SseOptions } from "./sse";
import {
  closeSlow, confirm, newSubscriber, sendFrom, SLOW_GRACE_MS, SUBSCRIBER_TAG, SUBSCRIBER_WINDOW, type SendSource, type SubscriberState,
  type Window,
} from "./socket";
import { LiveStore } from "./store";
import {
  AUTH_REFUSED_REASON, checkFrame, closeFor, CloseCodes, credentialExpired, EXPIRED_REASON, hasSocketRoom, socketLimitResponse,
} from "../../shared/socket-limits";

export { LIVE_HEADERS, readLiveAsk, type LiveAsk } from "./request";

/** Where an object's subscribers read messages from. */
export interface LiveSource {
  /** Lowest kept offset of the partition (as far as this object knows). */
  first(): number;
  /** The offset after the newest message this object knows of. */
  next(): number;
  /** A source that can send from `offset` now, or null when the messages at `offset` must be fetched first. */
  readable(offset: number): SendSource | null;
  /** Fetches the messages from `offset` on (a relay reads its partition's log); covers at least `offset`. */
  fetch(offset: number): Promise<SendSource>;
}

/** What the hub asks of the object that holds it. */
export interface HubHooks {
  /** The alarm must fire by `deadline` (objects' clock). */
  alarmBy(deadline: number): Promise<void>;
  /** A subscriber came or went (a relay registers and unregisters on this). */
  changed?(): void;
}

export class SubscriberHub {
  /** Flow-control bound per socket; tests may lower it through runInDurableObject. */
  window: Window = SUBSCRIBER_WINDOW;
  slowGraceMs = SLOW_GRACE_MS;
  readonly sse: SseOptions = { ...SSE_DEFAULTS };
  readonly #states = new WeakMap<WebSocket, SubscriberState>();
  readonly #streams: SseStreams;
  readonly #store: LiveStore;
  /** Sockets waiting for a fetch (by id): one at a time each. */
  readonly #fetching = new Set<string>();
  /** The earliest socket deadline a synchronous step created, handed to the alarm after it. */
  #deadline: number | null = null;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly source: LiveSource,
    private readonly hooks: HubHooks,
  ) {
    this.#store = new LiveStore(ctx.storage.sql);
    this.#streams = new SseStreams(this.sse, () => this.hooks.changed?.());
  }

  migrate(): void {
    this.#store.migrate();
  }

  /** The earliest socket or stream deadline; first forgets the rows of sockets that are gone. */
  nextDeadline(): number | null {
    this.reconcile();
    return earliestOf(this.#store.nextDeadline(), this.#streams.nextExpiry());
  }

  /**
   * Forgets the deadline rows of sockets that are gone (one pass over the rows): a restart
   * drops sockets without a close event, while a wake from hibernation keeps them (they are
   * still listed by `ctx.getWebSockets`). Returns how many sockets' rows were dropped, so an
   * object's constructor re-arms its alarm only when something changed.
   */
  reconcile(): number {
    let dropped = 0;
    for (const socket of this.#store.sockets()) {
      if (this.ctx.getWebSockets(socket).some((ws) => ws.readyState === WebSocket.OPEN)) continue;
      this.#store.closed(socket);
      dropped++;
    }
    return dropped;
  }

  /** Closes sockets whose credential expired, ends such streams, and closes paused sockets that never acked in time. */
  async onAlarm(at: number): Promise<void> {
    this.#streams.endExpired(at);
    for (const socket of this.#store.takeExpired(at)) {
      for (const ws of this.ctx.getWebSockets(socket)) closeQuietly(ws, CloseCodes.EXPIRED, EXPIRED_REASON);
    }
    for (const socket of this.#store.takeStalled(at)) {
      for (const ws of this.ctx.getWebSockets(socket)) {
        const s = this.#state(ws);
        if (s) closeSlow(ws, s);
      }
    }
  }

  /** WebSocket subscribers plus open SSE streams. */
  count(): number {
    return this.ctx.getWebSockets(SUBSCRIBER_TAG).length + this.#streams.count;
  }

  /** Whether anyone is here to deliver to. */
  hasSubscribers(): boolean {
    return this.#streams.count > 0 || this.ctx.getWebSockets(SUBSCRIBER_TAG).length > 0;
  }

  /** Whether no stream and no open socket is left (a socket being closed no longer counts). */
  idle(): boolean {
    return this.#streams.count === 0 && !this.ctx.getWebSockets(SUBSCRIBER_TAG).some((ws) => ws.readyState === WebSocket.OPEN);
  }

  /** Closes every subscriber (topic deleted) and forgets their deadlines. */
  closeAll(code: number = CloseCodes.GONE, reason = "topic deleted"): void {
    for (const ws of this.ctx.getWebSockets(SUBSCRIBER_TAG)) closeQuietly(ws, code, reason);
    this.#streams.endAll();
    this.#store.clear();
  }

  /** New messages are known (an append, a relay delivery): push to sockets, wake SSE streams. Never waits. */
  pumpAll(): void {
    const at = now();
    for (const ws of this.ctx.getWebSockets(SUBSCRIBER_TAG)) {
      const s = this.#state(ws);
      if (!s || ws.readyState !== WebSocket.OPEN) continue;
      if (credentialExpired(s.limits, at)) {
        closeQuietly(ws, CloseCodes.EXPIRED, EXPIRED_REASON);
        continue;
      }
      if (this.#pump(ws, s)) ws.serializeAttachment(s);
    }
    this.#streams.wake();
    this.#armDeadline().catch((err) => console.error("live: setting the alarm failed", err));
  }

  /**
   * Serves a live request whose object is known to follow the topic: an SSE stream, or a
   * WebSocket upgrade (refused past the socket cap). `resolve` turns `from` into the start.
   */
  async serve(ask: LiveAsk, resolve: (from: string | null) => Start | Promise<Start>): Promise<Response> {
    // Expired on the objects' clock (a moved test clock, or a slow hop): nothing is sent.
    if (ask.expiresAt !== null && ask.expiresAt <= now()) return errorResponse("UNAUTHORIZED", "the token has expired");
    if (ask.kind === "events") {
      const start = await resolve(ask.from);
      if ("error" in start) return start.error;
      const res = this.#streams.respond(this.#sseSource(), start.next, start.gapFrom, ask.expiresAt);
      if (ask.expiresAt !== null) await this.hooks.alarmBy(ask.expiresAt);
      return res;
    }
    if (!ask.upgrade) return errorResponse("UPGRADE_REQUIRED", "expected a WebSocket upgrade");
    if (!hasSocketRoom(this.ctx, this.env)) return socketLimitResponse(this.env);
    const resolved = resolve(ask.from);
    const start = resolved instanceof Promise ? await resolved : resolved;
    if ("error" in start) return start.error;
    // Checked again when the start took a wait: other upgrades may have filled the object meanwhile.
    if (resolved instanceof Promise && !hasSocketRoom(this.ctx, this.env)) return socketLimitResponse(this.env);
    const s = newSubscriber(ask.partition, start.next, ask.canPublish, ask.expiresAt, now());
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [SUBSCRIBER_TAG, s.id, `topic:${ask.topic}`]);
    this.#states.set(server, s);
    if (start.gapFrom !== null) server.send(wsGapFrame(start.gapFrom, start.next));
    // History goes out now, in this same turn, as far as it can be read here; nothing can
    // be appended in between (the cursor would cover it anyway).
    this.#pump(server, s);
    server.serializeAttachment(s);
    if (ask.expiresAt !== null) {
      this.#store.expiresAt(s.id, ask.expiresAt);
      this.#want(ask.expiresAt);
    }
    await this.#armDeadline();
    this.hooks.changed?.();
    return new Response(null, { status: 101, webSocket: client });
  }

  async onMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const s = this.#state(ws);
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
          this.#store.resumed(s.id);
        }
        this.#pump(ws, s);
      }
      ws.serializeAttachment(s);
      await this.#armDeadline();
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
    if (frame?.type === "auth") return this.#swapCredential(ws, s, frame.token);
    closeQuietly(ws, CloseCodes.BAD_FRAME, "expected a JSON frame of type 'ack', 'publish' or 'auth'");
  }

  async onClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    const s = this.#state(ws);
    if (s) {
      this.#store.closed(s.id);
      this.#fetching.delete(s.id);
    }
    this.#states.delete(ws);
    // 1005/1006 describe a close without a code; they cannot be sent back.
    closeQuietly(ws, code === 1005 || code === 1006 ? CloseCodes.NORMAL : code, reason);
    this.hooks.changed?.();
  }

  /** `{"type":"auth","token"}`: the socket goes on under the new token, or is closed with 4003. */
  async #swapCredential(ws: WebSocket, s: SubscriberState, token: unknown): Promise<void> {
    const verdict = await judgeAuthFrame(this.env, topicOf(this.ctx, ws), token, now());
    if (ws.readyState !== WebSocket.OPEN) return; // closed (or expired) while the token was verified
    if (verdict.type === "invalid") return ws.send(errorFrame("VALIDATION_FAILED", verdict.message));
    if (verdict.type === "refused") {
      this.#store.closed(s.id);
      return closeQuietly(ws, CloseCodes.AUTH_REFUSED, AUTH_REFUSED_REASON);
    }
    // `s` is the socket's one state object: frames handled meanwhile changed it in place.
    s.canPublish = verdict.canPublish;
    s.limits.expiresAt = verdict.expiresAt;
    ws.serializeAttachment(s);
    this.#store.expiresAt(s.id, verdict.expiresAt);
    // An earlier alarm for the old expiry finds no row due and re-arms for the new one.
    this.#want(verdict.expiresAt);
    await this.#armDeadline();
    ws.send(JSON.stringify(AUTH_RESULT));
  }

  /**
   * Sends `s.next` onwards as far as the window allows (socket.ts `sendFrom`) from what can
   * be read here now; when the messages at `s.next` must be fetched first, starts that
   * fetch (which sends and pumps again when it returns). Returns whether the state changed.
   * A socket that paused gets its slow-close deadline here.
   */
  #pump(ws: WebSocket, s: SubscriberState): boolean {
    let changed = false;
    // A relay's tail may end before what it knows exists: the rest is then fetched.
    for (;;) {
      if (s.next >= this.source.next()) return changed; // caught up (first <= next: no gap to announce either)
      const source = this.source.readable(s.next);
      if (source === null) {
        this.#fetchFor(ws, s);
        return changed;
      }
      const before = s.next;
      changed = this.#sendFrom(ws, s, source) || changed;
      if (s.pausedAt !== null || s.next <= before) return changed;
    }
  }

  #sendFrom(ws: WebSocket, s: SubscriberState, source: SendSource): boolean {
    const sent = sendFrom(ws, s, source, this.window, this.slowGraceMs, now());
    if (sent.closeAt !== null) {
      this.#store.paused(s.id, sent.closeAt);
      this.#want(sent.closeAt);
    }
    return sent.changed;
  }

  /** Reads what `s.next` needs from afar, then sends it and pumps on; one fetch per socket at a time. */
  #fetchFor(ws: WebSocket, s: SubscriberState): void {
    if (this.#fetching.has(s.id)) return;
    this.#fetching.add(s.id);
    const from = s.next;
    const run = async (): Promise<void> => {
      let source: SendSource;
      try {
        source = await this.source.fetch(from);
      } catch (err) {
        this.#fetching.delete(s.id);
        if (ws.readyState !== WebSocket.OPEN) return;
        console.error("live: fetching from the partition failed", err);
        // Resumable like a slow subscriber: the client reconnects where it stopped.
        return closeQuietly(ws, CloseCodes.SLOW_SUBSCRIBER, JSON.stringify({ resumeFrom: s.next, lastOffset: s.next - 1 }));
      }
      this.#fetching.delete(s.id);
      if (ws.readyState !== WebSocket.OPEN) return;
      if (credentialExpired(s.limits, now())) return closeQuietly(ws, CloseCodes.EXPIRED, EXPIRED_REASON);
      const before = s.next;
      let changed = this.#sendFrom(ws, s, source);
      // Go on from the new position (the tail, or the next fetch) unless nothing moved.
      if (s.pausedAt === null && s.next > before) changed = this.#pump(ws, s) || changed;
      if (changed) ws.serializeAttachment(s);
      await this.#armDeadline();
    };
    this.ctx.waitUntil(run());
  }

  /** What an SSE stream reads: the same source, a fetch awaited when needed. */
  #sseSource(): { first(): number; next(): number; readFrom(o: number, max: number): CachedMessage[] | Promise<CachedMessage[]> } {
    return {
      first: () => this.source.first(),
      next: () => this.source.next(),
      readFrom: (offset, max) => {
        const here = this.source.readable(offset);
        return here ? here.readFrom(offset, max) : this.source.fetch(offset).then((s) => s.readFrom(offset, max));
      },
    };
  }

  /** Notes a socket deadline created by a synchronous step (#armDeadline hands it on). */
  #want(deadline: number): void {
    if (this.#deadline === null || deadline < this.#deadline) this.#deadline = deadline;
  }

  /** Makes sure the alarm fires by the earliest socket deadline created since the last call. */
  async #armDeadline(): Promise<void> {
    const d = this.#deadline;
    if (d === null) return;
    this.#deadline = null;
    await this.hooks.alarmBy(d);
  }

  #state(ws: WebSocket): SubscriberState | null {
    let s = this.#states.get(ws);
    if (!s) {
      const a = ws.deserializeAttachment() as SubscriberState | null;
      if (!a || a.v !== 1) return null;
      s = a;
      this.#states.set(ws, s);
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
