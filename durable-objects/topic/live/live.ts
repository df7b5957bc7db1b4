/**
 * Live subscribers of a partition: WebSocket (`/subscribe`, Hibernation API) and SSE
 * (`/events`), held by the partition itself or by its relays.
 *
 * The subscribers this object holds are served by the shared hub (hub.ts: the window,
 * pause and 4000, gap frames, credential expiry and swap, publish frames), reading the log
 * synchronously: the socket's `next` offset is its only cursor and history goes out in the
 * upgrade's own turn. Each appended message is serialised once (frames.ts), whatever the
 * number of subscribers, and that text is what relays get too: after an append the
 * partition sends it once per relay (../relay/registry.ts), and a relay serves its own
 * sockets with the same hub. Under the `auto` policy the partition tells the Worker to use
 * a relay once it holds `directMax` subscribers itself (../relay/placement.ts).
 */
import type { Env } from "../../env";
import { earliestOf } from "../../shared/alarm";
import { FrameCache, toCached, type CachedMessage } from "./frames";
import { LIVE_HEADERS, readLiveAsk, SubscriberHub, type LiveSource } from "./hub";
import { errorResponse, resolveStart } from "./request";
import type { SendSource, Window } from "./socket";
import type { SseOptions } from "./sse";
import { directMax } from "../relay/placement";
import { RelayRegistry } from "../relay/registry";
import type { PartitionPosition, RelayRead } from "../relay/types";
import type { LogEntry, LogReader, PartitionHooks, PartitionModule, PartitionReporter } from "../types";
import { CloseCodes, hasSocketRoom } from "../../shared/socket-limits";

export { LIVE_HEADERS } from "./hub";

export class LiveSubscribers implements PartitionModule, PartitionReporter {
  /** The newest messages as JSON, shared by every subscriber and relay. */
  readonly frames = new FrameCache();
  /** The subscribers this object holds. */
  readonly hub: SubscriberHub;
  /** The relays that hold the others. */
  readonly relays: RelayRegistry;
  readonly #logSource: SendSource;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly log: LogReader,
    hooks: PartitionHooks,
  ) {
    this.#logSource = { first: () => log.first(), next: () => log.next(), readFrom: (o, max) => this.readFrom(o, max) };
    const source: LiveSource = {
      first: () => log.first(),
      next: () => log.next(),
      // Everything is readable here: the log is local.
      readable: () => this.#logSource,
      fetch: async () => this.#logSource,
    };
    this.hub = new SubscriberHub(ctx, env, source, { alarmBy: (d) => hooks.alarmBy(d) });
    this.relays = new RelayRegistry(ctx, env, log, this.frames, (d) => hooks.alarmBy(d));
  }

  /** Flow-control bound per socket; tests may lower it through runInDurableObject. */
  get window(): Window {
    return this.hub.window;
  }

  set window(w: Window) {
    this.hub.window = w;
  }

  get slowGraceMs(): number {
    return this.hub.slowGraceMs;
  }

  set slowGraceMs(ms: number) {
    this.hub.slowGraceMs = ms;
  }

  get sse(): SseOptions {
    return this.hub.sse;
  }

  migrate(): void {
    this.hub.migrate();
    this.relays.migrate();
  }

  /** The earliest socket or stream deadline, or relay retry. */
  nextDeadline(): number | null {
    return earliestOf(this.hub.nextDeadline(), this.relays.nextDeadline());
  }

  async onAlarm(at: number): Promise<void> {
    await this.hub.onAlarm(at);
    await this.relays.onAlarm(at);
  }

  /** Subscribers held here plus what the relays said last (PartitionReporter). */
  subscriberCount(): number {
    return this.hub.count() + this.relays.knownSubscribers();
  }

  /** Subscribers held here plus each relay's count as it answers now (`GET /v1/topics/{t}`). */
  async countSubscribers(): Promise<number> {
    return this.hub.count() + (await this.relays.countSubscribers());
  }

  /** Closes every subscriber held here (topic deleted) and forgets cached frames. */
  reset(code: number = CloseCodes.GONE, reason = "topic deleted"): void {
    this.hub.closeAll(code, reason);
    this.frames.clear();
  }

  /** Closes every relay's subscribers (topic deleted); call before the partition's state is wiped. */
  async closeRelays(code: number = CloseCodes.GONE, reason = "topic deleted"): Promise<void> {
    await this.relays.closeAll(code, reason);
  }

  /** After an append committed: once to each relay, then to caught-up sockets here; wake SSE streams. Never waits. */
  onAppend(entries: LogEntry[]): void {
    if (entries.length === 0) return;
    if (!this.hub.hasSubscribers() && this.relays.size === 0) {
      // Nobody to serialise for: a later subscriber reads from the log, and the cache must
      // stay a contiguous run, so drop it rather than leave a hole.
      this.frames.clear();
      return;
    }
    const appended = this.frames.append(entries);
    if (this.relays.size > 0) this.relays.deliver(appended);
    this.hub.pumpAll();
  }

  /** `/subscribe` (WebSocket upgrade) and `/events` (SSE), forwarded by the Worker. */
  async fetch(request: Request): Promise<Response> {
    if (!this.log.exists()) return errorResponse("NOT_FOUND", "topic not found");
    const ask = readLiveAsk(request);
    // `auto` placement: past its share (or its socket cap) the partition sends the subscriber to a relay.
    if (request.headers.get(LIVE_HEADERS.mayRelay) === "1") {
      const full = this.hub.count() >= directMax(this.env) || (ask.kind === "subscribe" && !hasSocketRoom(this.ctx, this.env));
      if (full) return new Response(null, { status: 204, headers: { [LIVE_HEADERS.useRelay]: "1" } });
    }
    return this.hub.serve(ask, (from) => resolveStart(this.log, from));
  }

  async onMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.hub.onMessage(ws, message);
  }

  async onClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    await this.hub.onClose(ws, code, reason);
  }

  // ---- relays (the object's RPC methods delegate here) ----

  /** A relay registers (its first subscriber came); null when the topic does not exist here. */
  attachRelay(name: string): PartitionPosition | null {
    return this.relays.attach(name);
  }

  /** A relay's last subscriber left. */
  detachRelay(name: string): void {
    this.relays.detach(name);
  }

  /** A relay's subscribers need messages from `from` on (older than its tail). */
  readForRelay(from: number, max: number): RelayRead {
    return this.relays.read(from, max, (o, m) => this.frames.from(o, m));
  }

  /** Messages from `offset` on: from the shared cache when it has them, else the log. */
  readFrom(offset: number, max: number): CachedMessage[] {
    const cached = this.frames.from(offset, max);
    return cached.length > 0 ? cached : this.log.read(offset, max).map(toCached);
  }
}
