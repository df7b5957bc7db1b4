/**
 * The partition's side of relays: feeding every registered relay each message once.
 *
 * After an append the partition hands each relay the messages as the JSON text it already
 * serialised once (live/frames.ts): one RPC per relay, not one frame per socket. At most
 * one delivery is in flight per relay; appends that come meanwhile are sent together when
 * it returns (batched under load, in order), from the shared frame cache, or as a bare
 * position when the cache no longer holds them (the relay then reads them from the log).
 * A relay that cannot be reached is tried again by the alarm with backoff (its row says
 * when, so an evicted partition still does it); a relay never skips what it missed, it
 * reads it from the log (`read`).
 *
 * `subscribers` in `GET /v1/topics/{t}` asks the relays for their counts (`countSubscribers`),
 * so it is exact at the moment it is asked; a relay that does not answer counts what it
 * said last. Deleting the topic closes every relay's subscribers with 4004 (`closeAll`).
 */
import type { Env } from "../../env";
import { retryDelayMs } from "../../shared/backoff";
import { now } from "../../shared/clock";
import type { FrameCache } from "../live/frames";
import { toCached, type CachedMessage } from "../live/frames";
import type { LogReader } from "../types";
import { RelayStore } from "./registry-store";
import type { TopicRelay } from "./relay";
import type { PartitionPosition, RelayDelivery, RelayMessage, RelayRead } from "./types";

/** Most messages one delivery or read carries. */
export const RELAY_BATCH_MESSAGES = 1000;
/** And at most about this many bytes (a single larger message still goes alone). */
export const RELAY_BATCH_BYTES = 4 * 1024 * 1024;

interface RelayLink {
  name: string;
  inFlight: boolean;
  /** Appends came while a delivery was in flight. */
  dirty: boolean;
  /** The partition's next offset as of the last delivery sent. */
  sentThrough: number;
  /** What the relay said last about its subscribers. */
  subscribers: number;
}

export class RelayRegistry {
  readonly #store: RelayStore;
  #links: Map<string, RelayLink> | null = null;
  /** Deliveries sent and messages in them (tests and the bench prove once-per-relay with these). */
  deliveries = 0;
  messagesSent = 0;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly log: LogReader,
    private readonly frames: FrameCache,
    private readonly alarmBy: (deadline: number) => Promise<void>,
  ) {
    this.#store = new RelayStore(ctx.storage.sql);
  }

  migrate(): void {
    this.#store.migrate();
    this.#links = null;
  }

  /** Registered relays. */
  get size(): number {
    return this.#all().size;
  }

  names(): string[] {
    return [...this.#all().keys()];
  }

  nextDeadline(): number | null {
    return this.#store.nextRetry();
  }

  /** Deliveries waiting for their relay's answer. */
  inFlight(): number {
    let n = 0;
    for (const l of this.#all().values()) if (l.inFlight) n++;
    return n;
  }

  /** Tries again the relays whose delivery failed and whose retry is due. */
  async onAlarm(at: number): Promise<void> {
    for (const name of this.#store.takeDue(at)) {
      const link = this.#all().get(name);
      if (link && !link.inFlight) this.#send(link, this.#catchUpMessages(link));
    }
  }

  /** A relay registers (again); answers where the log stands, or null when the topic does not exist here. */
  attach(name: string): PartitionPosition | null {
    if (!this.log.exists()) return null;
    this.#store.register(name);
    const links = this.#all();
    if (!links.has(name)) links.set(name, newLink(name, this.log.next()));
    return this.position();
  }

  /** A relay with no subscribers left unregisters. */
  detach(name: string): void {
    this.#store.unregister(name);
    this.#all().delete(name);
  }

  position(): PartitionPosition {
    return { incarnation: this.log.incarnation?.() ?? null, first: this.log.first(), next: this.log.next() };
  }

  /** Messages from `from` on for a relay (from the frame cache when it reaches the end, else the log). */
  read(from: number, max: number, readCached: (offset: number, max: number) => CachedMessage[]): RelayRead {
    const limit = Math.max(1, Math.min(max, RELAY_BATCH_MESSAGES));
    const position = this.position();
    const start = Math.max(from, position.first);
    let messages = readCached(start, limit);
    const last = messages.at(-1);
    // The cache is trusted only when it runs to the end of the log (or fills the batch).
    if (messages.length === 0 || (messages.length < limit && last!.offset + 1 !== position.next)) {
      messages = this.log.read(start, limit).map(toCached);
    }
    const kept = withinBytes(messages);
    const end = kept.length < messages.length || messages.length === limit ? kept.at(-1)!.offset + 1 : position.next;
    return { ...position, from, end: Math.max(end, start), messages: kept.map(wire) };
  }

  /** After an append: each relay gets the new messages now, or with the next batch if one is in flight. */
  deliver(messages: readonly CachedMessage[]): void {
    for (const link of this.#all().values()) {
      if (link.inFlight) link.dirty = true;
      else this.#send(link, messages);
    }
  }

  /** Subscribers on every relay, as each says now (what it said last if it does not answer). */
  async countSubscribers(): Promise<number> {
    const links = [...this.#all().values()];
    const counts = await Promise.allSettled(links.map((l) => this.#stub(l.name).subscriberCount()));
    let total = 0;
    counts.forEach((c, i) => {
      if (c.status === "fulfilled") links[i]!.subscribers = c.value;
      total += links[i]!.subscribers;
    });
    return total;
  }

  /** What the relays said last (no call). */
  knownSubscribers(): number {
    let total = 0;
    for (const l of this.#all().values()) total += l.subscribers;
    return total;
  }

  /** The topic is deleted: every relay closes its subscribers (and then unregisters; the rows go with the wipe). */
  async closeAll(code: number, reason: string): Promise<void> {
    const names = this.names();
    const results = await Promise.allSettled(names.map((n) => this.#stub(n).closeAll(code, reason)));
    results.forEach((r, i) => {
      if (r.status === "rejected") console.error(`relay ${names[i]}: closing its subscribers failed`, r.reason);
    });
    this.#links = new Map();
  }

  #send(link: RelayLink, messages: readonly CachedMessage[]): void {
    const delivery: RelayDelivery = { ...this.position(), messages: messages.map(wire) };
    link.inFlight = true;
    link.dirty = false;
    link.sentThrough = delivery.next;
    this.deliveries++;
    this.messagesSent += messages.length;
    const done = this.#stub(link.name).deliver(delivery).then(
      (answer) => {
        link.subscribers = answer.subscribers;
        if (this.#store.failures(link.name) > 0) this.#store.reached(link.name);
      },
      (err) => this.#failed(link, delivery, err),
    ).finally(() => {
      link.inFlight = false;
      // Still registered, and appends came meanwhile: send them together.
      if (link.dirty && this.#links?.get(link.name) === link) this.#send(link, this.#catchUpMessages(link));
    });
    this.ctx.waitUntil(done);
  }

  /** The messages a relay has not been sent, from the frame cache; none when it does not hold them all. */
  #catchUpMessages(link: RelayLink): CachedMessage[] {
    const next = this.log.next();
    if (link.sentThrough >= next) return [];
    const from = Math.max(link.sentThrough, next - RELAY_BATCH_MESSAGES);
    const cached = this.frames.from(from, RELAY_BATCH_MESSAGES);
    return cached.length > 0 && cached[0]!.offset === from && cached.at(-1)!.offset + 1 === next ? withinBytes(cached) : [];
  }

  async #failed(link: RelayLink, delivery: RelayDelivery, err: unknown): Promise<void> {
    if (this.#links?.get(link.name) !== link) return; // unregistered meanwhile
    // What it did not get goes again with the retry (from the cache while it holds them).
    link.sentThrough = Math.min(link.sentThrough, delivery.messages[0]?.offset ?? link.sentThrough);
    const failures = this.#store.failures(link.name) + 1;
    const at = now() + retryDelayMs(failures);
    console.warn(`relay ${link.name}: delivery failed (${failures} in a row), trying again`, err);
    this.#store.failed(link.name, at, failures);
    await this.alarmBy(at);
  }

  #stub(name: string): DurableObjectStub<TopicRelay> {
    return this.env.TOPIC_RELAYS!.getByName(name);
  }

  #all(): Map<string, RelayLink> {
    if (!this.#links) {
      const next = this.log.next();
      this.#links = new Map(this.#store.names().map((n) => [n, newLink(n, next)]));
    }
    return this.#links;
  }
}

function newLink(name: string, next: number): RelayLink {
  return { name, inFlight: false, dirty: false, sentThrough: next, subscribers: 0 };
}

function wire(m: CachedMessage): RelayMessage {
  return { offset: m.offset, json: m.json, bytes: m.bytes };
}

/** The longest prefix within RELAY_BATCH_BYTES (at least one message). */
function withinBytes<T extends { bytes: number }>(messages: readonly T[]): T[] {
  let bytes = 0;
  for (let i = 0; i < messages.length; i++) {
    bytes += messages[i]!.bytes;
    if (bytes > RELAY_BATCH_BYTES && i > 0) return messages.slice(0, i);
  }
  return messages as T[];
}
