/**
 * TopicRelay: a Durable Object that holds live subscribers (WebSocket and SSE) of one topic
 * partition, named `"<topic>#<partition>@<region>/<shard>"` (placement.ts), so a partition's
 * audience is not limited to one object's sockets nor served from one place.
 *
 * Its subscribers are served by the same hub as the partition's own (live/hub.ts): same
 * frames, window, pause and 4000, gap frames, Last-Event-ID, credential expiry and swap,
 * publish frames through the one publish path. The difference is where messages come from:
 * the partition delivers each message once to the relay (`deliver`, registry.ts), the relay
 * keeps a bounded tail (tail.ts) and reads anything older from the partition's log
 * (`readForRelay`), coalescing the reads its sockets need. A relay that missed deliveries
 * (evicted, unreachable) sees the partition's next offset run ahead of its tail and reads
 * the rest from the log: it never skips.
 *
 * A relay registers with its partition when its first subscriber arrives and unregisters
 * when its last one leaves (or when a delivery finds nobody); its alarm only serves socket
 * deadlines, so an idle relay holds no alarm and hibernates at no cost. Deleting the topic
 * closes its subscribers with 4004 (`closeAll`, called by the partition).
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../env";
import { partitionStub } from "../../env";
import { AlarmScheduler } from "../../shared/alarm";
import { now, type DueReport, type RunDueOptions } from "../../shared/clock";
import { CloseCodes, hasSocketRoom, socketLimitResponse } from "../../shared/socket-limits";
import { LIVE_HEADERS, readLiveAsk, SubscriberHub, type LiveSource } from "../live/hub";
import { errorResponse, resolveStart, type Start } from "../live/request";
import type { SendSource } from "../live/socket";
import type { TopicPartition } from "../object";
import { ANY_REGION, relayObjectName } from "./placement";
import { RELAY_BATCH_MESSAGES } from "./registry";
import { RelayAddressStore } from "./store";
import { RelayTail, segmentSource } from "./tail";
import type { PartitionPosition, RelayAddress, RelayDelivery } from "./types";

export class TopicRelay extends DurableObject<Env> {
  readonly hub: SubscriberHub;
  readonly tail = new RelayTail();
  /** Reads from the partition's log (tests and the bench count them). */
  reads = 0;
  readonly #scheduler: AlarmScheduler;
  readonly #addresses: RelayAddressStore;
  #address: RelayAddress | null = null;
  /** Registered with the partition, as far as this instance knows. */
  #attached = false;
  #detaching = false;
  /** Attach and detach calls, one after another, so the partition sees them in order. */
  #registration: Promise<unknown> = Promise.resolve();
  /** Subscribers between registering and being accepted (the relay is not idle then). */
  #admitting = 0;
  /** Reads in flight by start offset: sockets that need the same messages share one. */
  readonly #reads = new Map<number, Promise<SendSource>>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#scheduler = new AlarmScheduler(ctx.storage);
    this.#addresses = new RelayAddressStore(ctx.storage.sql);
    const tail = this.tail;
    const source: LiveSource = {
      first: () => tail.first,
      next: () => tail.next,
      readable: (offset) => (tail.covers(offset) ? tail.source() : null),
      fetch: (offset) => this.#read(offset),
    };
    this.hub = new SubscriberHub(ctx, env, source, {
      alarmBy: (deadline) => this.#scheduler.armBy(deadline),
      changed: () => this.#changed(),
    });
    ctx.blockConcurrencyWhile(async () => {
      this.hub.migrate();
      this.#addresses.migrate();
      this.#address = this.#addresses.read();
      // After a crash the sockets are gone but their deadline rows are not: drop those and
      // re-arm the alarm for what remains (or clear it), instead of waking for nobody.
      if (this.hub.reconcile() > 0) await this.#scheduler.arm(this.hub.nextDeadline());
    });
  }

  // ---- RPC: from the partition ----

  /** New messages (or only the partition's position): into the tail, out to the sockets. */
  async deliver(d: RelayDelivery): Promise<{ subscribers: number }> {
    if (!this.#detaching) this.#attached = true; // the partition counts this relay in
    if (this.hub.idle() && this.#admitting === 0) {
      // Nobody here (sockets dropped without a close, by a restart): unregister.
      this.#changed();
      return { subscribers: 0 };
    }
    this.#learn(d);
    const m = d.messages;
    if (m.length > 0) this.tail.add(m[0]!.offset, m[m.length - 1]!.offset + 1, m);
    this.hub.pumpAll();
    return { subscribers: this.hub.count() };
  }

  /** WebSocket subscribers and open SSE streams here (`GET /v1/topics/{t}` adds them up). */
  subscriberCount(): number {
    return this.hub.count();
  }

  /** The topic was deleted: every subscriber here is closed (4004) and the tail forgotten. */
  async closeAll(code: number = CloseCodes.GONE, reason = "topic deleted"): Promise<void> {
    this.#attached = false; // the partition forgets its relays with the topic
    this.hub.closeAll(code, reason);
    this.tail.clear();
    await this.#scheduler.arm(this.hub.nextDeadline());
  }

  // ---- the Worker: `/subscribe` and `/events`, forwarded by topic/router/live.ts ----

  override async fetch(request: Request): Promise<Response> {
    const ask = readLiveAsk(request);
    if (!this.#address) {
      const url = new URL(request.url);
      this.#address = {
        topic: ask.topic, partition: ask.partition,
        region: url.searchParams.get("region") ?? ANY_REGION, shard: Number(url.searchParams.get("shard") ?? "0"),
      };
      this.#addresses.write(this.#address);
    }
    // Full: the Worker tries the next shard (before anything is asked of the partition).
    if (ask.kind === "subscribe" && ask.upgrade && !hasSocketRoom(this.ctx, this.env)) return shardFull(socketLimitResponse(this.env));
    this.#admitting++;
    try {
      if (!(await this.#attach())) return errorResponse("NOT_FOUND", "topic not found");
      const res = await this.hub.serve(ask, (from) => this.#resolve(from));
      return res.status === 429 ? shardFull(res) : res;
    } finally {
      this.#admitting--;
      this.#changed(); // a refused subscriber may leave the relay idle
    }
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // Woken after eviction: learn where the partition stands before anything is sent.
    if (!this.tail.known && !(await this.#attach())) return this.closeAll();
    await this.hub.onMessage(ws, message);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    await this.hub.onClose(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.hub.onClose(ws, 1011, "error");
  }

  override async alarm(): Promise<void> {
    this.#scheduler.fired();
    try {
      await this.hub.onAlarm(now());
    } finally {
      await this.#scheduler.arm(this.hub.nextDeadline());
    }
  }

  /**
   * The test kit's `advanceTime` (worker/test-control.ts; harmless anywhere, it does what the
   * alarm would): runs the sockets' due deadlines now if the objects' clock, which a test
   * moved, reached them; else re-arms the alarm for the moved clock.
   */
  async runDue(options: RunDueOptions = {}): Promise<DueReport> {
    const next = this.hub.nextDeadline();
    if (next === null || next > now()) {
      if (options.rearm !== false) await this.#scheduler.rearm(next);
      return { ran: false, next };
    }
    await this.#scheduler.takeOver();
    await this.alarm();
    return { ran: true, next: this.hub.nextDeadline() };
  }

  // ---- registration ----

  /** Registers with the partition unless this instance already is; null when the topic does not exist. */
  #attach(): Promise<PartitionPosition | null> {
    if (this.#attached && this.tail.known) return Promise.resolve(this.#position());
    const step = this.#registration.then(async () => {
      if (this.#attached && this.tail.known) return this.#position();
      const position = await this.#partition().attachRelay(this.#name());
      if (!position) return null;
      this.#attached = true;
      this.#learn(position);
      return position;
    });
    this.#registration = step.catch(() => undefined);
    return step;
  }

  /** A subscriber came or went: with none left (and none coming), unregister and drop the alarm. */
  #changed(): void {
    const idle = (): boolean => this.#attached && this.#admitting === 0 && this.hub.idle();
    if (!idle()) return;
    const step = this.#registration.then(async () => {
      if (!idle()) return;
      this.#attached = false;
      this.#detaching = true;
      this.tail.clear();
      try {
        await this.#partition().detachRelay(this.#name());
      } finally {
        this.#detaching = false;
      }
      await this.#scheduler.arm(this.hub.nextDeadline());
    });
    this.#registration = step.catch((err) => console.error("relay: unregistering failed", err));
    this.ctx.waitUntil(this.#registration);
  }

  /** Takes the partition's position; a new incarnation (the topic was deleted and created again) closes everyone. */
  #learn(p: PartitionPosition): void {
    if (!this.tail.learn(p)) this.hub.closeAll(CloseCodes.GONE, "topic deleted");
  }

  #position(): PartitionPosition {
    return { incarnation: this.tail.incarnation, first: this.tail.first, next: this.tail.next };
  }

  // ---- reading ----

  /** Where a subscriber starts; a `from` past what this relay has heard of is checked with the partition first. */
  #resolve(from: string | null): Start | Promise<Start> {
    const start = () => resolveStart({ first: () => this.tail.first, next: () => this.tail.next }, from);
    if (from === null || !/^\d+$/.test(from) || Number(from) <= this.tail.next) return start();
    return this.#partition().attachRelay(this.#name()).then((position) => {
      if (position) this.#learn(position);
      return start();
    });
  }

  /** Messages from `offset` on, read from the partition's log (one read per offset at a time) and kept in the tail. */
  #read(offset: number): Promise<SendSource> {
    const pending = this.#reads.get(offset);
    if (pending) return pending;
    const read = (async () => {
      this.reads++;
      const r = await this.#partition().readForRelay(offset, RELAY_BATCH_MESSAGES);
      this.#learn(r);
      this.tail.add(r.from, r.end, r.messages);
      return segmentSource(r.first, r.end, r.messages);
    })().finally(() => this.#reads.delete(offset));
    this.#reads.set(offset, read);
    return read;
  }

  #partition(): DurableObjectStub<TopicPartition> {
    const a = this.#address;
    if (!a) throw new Error("relay: no address (it never had a subscriber)");
    return partitionStub(this.env, a.topic, a.partition);
  }

  #name(): string {
    if (!this.#address) throw new Error("relay: no address (it never had a subscriber)");
    return relayObjectName(this.#address);
  }
}

/** A 429 that tells the Worker this shard is full (it tries the next one). */
function shardFull(res: Response): Response {
  const headers = new Headers(res.headers);
  headers.set(LIVE_HEADERS.relayFull, "1");
  return new Response(res.body, { status: res.status, headers });
}
