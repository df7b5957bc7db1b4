/**
 * Delivery from Spool topics to one MQTT connection.
 *
 * The connection follows every partition of each Spool topic its filters name, through the
 * one live path every subscriber uses (topic/router/live.ts: a `/subscribe` WebSocket from
 * this object to the partition, or to its relay), starting at the offset its session kept.
 * So order, no gap and no duplicate, history after a reconnect and slow-subscriber handling
 * are the partition's, and per-MQTT-topic order holds because one MQTT topic is one key,
 * one partition. Each message is matched against the filters of its topic and sent once,
 * at the highest QoS granted among them capped by the QoS it was published with.
 *
 * QoS 1 deliveries are kept (the packet itself) until PUBACK; at most `receiveMaximum` of
 * them (and a byte bound) are out at once, and a message that must wait holds back the
 * ones after it on its partition (order). The partition's window is freed with `ack`
 * frames only for messages passed on, so a slow MQTT client slows its feed, which the
 * partition eventually closes (4000) and this object reopens from its position.
 *
 * Positions and QoS 1 deliveries in flight live in memory and reach SQLite only at a
 * checkpoint, never per message: a Durable Object's output gate holds every outgoing frame
 * until the writes before it commit, so a write per message made each delivery wait for a
 * disk commit. A clean session (session expiry 0) outlives nothing, so its checkpoints are
 * only where the object could hibernate: a feed closed and waiting to reopen (while a feed
 * socket is open the object cannot hibernate, and a restart ends the client's socket too,
 * and with it the session). A persistent session also checkpoints with every `ack` to the
 * partition (each ACK_EVERY_MESSAGES or ACK_EVERY_BYTES per feed), and hands over exactly
 * what memory holds at disconnect or takeover; after a crash the session resumes from its
 * last checkpoint, so up to that many messages per partition are delivered again (QoS 1
 * ones in flight at the checkpoint with DUP, later ones as new deliveries).
 *
 * MQTT 5: a message larger than the client's Maximum Packet Size is skipped as if sent
 * (limits-out.ts); a No Local subscription skips the connection's own publishes (no-local.ts).
 */
import type { Env } from "../env";
import { now } from "../shared/clock";
import { asApiError } from "../shared/errors";
import { connectLive } from "../topic/router/live";
import { encodePublish, withDup } from "./codec";
import { Inflight } from "./inflight";
import { fitsClient } from "./limits-out";
import { OwnPublishes, type Landed } from "./no-local";
import { outgoingProperties, payloadOf, publishedQos } from "./payload";
import type { ConnectionRecord, ConnectionStore, FeedRow, SessionState, SubscriptionRow } from "./store";
import { mqttTopicOf, topicMatches } from "./topics";
import type { MqttProperties } from "./properties";

/** Most QoS 1 deliveries out at once, whatever the client's Receive Maximum. */
export const MAX_INFLIGHT = 32;
/** And at most this many bytes of them (the session's stored state stays small). */
export const MAX_INFLIGHT_BYTES = 1024 * 1024;
/**
 * Confirm to the partition after this many messages passed on (well inside its window and
 * frame rate); a persistent session checkpoints then too, so a crash delivers at most this
 * many messages of a partition again.
 */
export const ACK_EVERY_MESSAGES = 100;
export const ACK_EVERY_BYTES = 256 * 1024;
/** How soon a feed that failed to open or closed is tried again. */
export const FEED_RETRY_MS = 1000;

export interface DeliveryHost {
  readonly env: Env;
  readonly store: ConnectionStore;
  record(): ConnectionRecord | null;
  /** Sends bytes to the MQTT client; false once the socket is gone. */
  send(bytes: Uint8Array): boolean;
  /** The alarm must fire by `at` (a feed to retry). */
  wantAlarm(at: number): void;
}

/** A `message` frame of the live subscription (API.md, WebSocket subscription frames). */
interface LiveMessage {
  type: "message";
  partition: number;
  offset: number;
  key: string | null;
  body: unknown;
  headers: Record<string, string>;
  bytes: number;
}

interface Feed {
  topic: string;
  partition: number;
  next: number;
  /** The position the store holds (written at a checkpoint). */
  saved: number;
  ws: WebSocket | null;
  opening: boolean;
  pending: LiveMessage[];
  unackedCount: number;
  unackedBytes: number;
  lastPassed: number;
  retryAt: number | null;
}

export class Delivery {
  readonly #feeds = new Map<string, Feed>();
  #subs: Map<string, SubscriptionRow[]> | null = null;
  /** Unacknowledged QoS 1 deliveries. */
  readonly #inflight: Inflight;
  #stopped = false;
  readonly #own = new OwnPublishes();

  constructor(private readonly host: DeliveryHost) {
    this.#inflight = new Inflight(host.store);
  }

  /** Loads the positions and deliveries in flight the store holds (after CONNECT or a wake); sockets open with `start`. */
  load(): void {
    this.#inflight.reload();
    for (const f of this.host.store.feeds()) {
      const key = feedKey(f.topic, f.partition);
      if (!this.#feeds.has(key)) this.#feeds.set(key, newFeed(f.topic, f.partition, f.next));
    }
  }

  /**
   * The session as it stands (what goes to the client id's MqttSession when the connection
   * ends): positions and deliveries in flight from memory, where the store's checkpoint may
   * be behind; what memory never loaded (an object restarted since) as the store holds it.
   */
  session(): SessionState {
    const feeds = new Map<string, FeedRow>(this.host.store.feeds().map((f) => [feedKey(f.topic, f.partition), f]));
    for (const [key, f] of this.#feeds) feeds.set(key, { topic: f.topic, partition: f.partition, next: f.next });
    return { subscriptions: this.host.store.subscriptions(), feeds: [...feeds.values()], inflight: this.#inflight.rows() };
  }

  /** Subscriptions changed: match against the store's again. */
  subscriptionsChanged(): void {
    this.#subs = null;
  }

  /** Resends every unacknowledged QoS 1 delivery with DUP, oldest first (§4.4, on a resumed session). */
  resendInflight(): void {
    const record = this.host.record();
    for (const row of this.#inflight.rows()) {
      // Kept for an earlier connection with a larger Maximum Packet Size: too large now, it
      // is discarded as if sent and acknowledged (§3.1.2.11.4 [MQTT-3.1.2-25]).
      if (fitsClient(record, row.packet)) this.host.send(withDup(row.packet));
      else this.#inflight.forget(row.packetId);
    }
  }

  /** This connection submitted a publish of `mqttTopic` to `topic` (No Local). */
  ownPublishing(topic: string, mqttTopic: string): void {
    this.#own.begin(topic, mqttTopic);
  }

  /** It was answered (where it landed, or null when not written): feeds waiting on it go on. */
  ownPublished(topic: string, mqttTopic: string, landed: Landed | null): void {
    this.#own.settle(topic, mqttTopic, landed);
    this.#pumpAll();
  }

  /** Follows partitions of `topic` from the given offsets (new subscriptions; existing positions stay). */
  follow(topic: string, nextByPartition: number[]): void {
    nextByPartition.forEach((next, partition) => {
      const key = feedKey(topic, partition);
      if (this.#feeds.has(key)) return;
      this.host.store.setFeed(topic, partition, next);
      this.#feeds.set(key, newFeed(topic, partition, next));
    });
  }

  /** Whether the connection already follows `topic`. */
  follows(topic: string): boolean {
    for (const f of this.#feeds.values()) if (f.topic === topic) return true;
    return false;
  }

  /** Stops following `topic` (its last subscription went): its positions are forgotten. */
  unfollow(topic: string): void {
    for (const [key, f] of this.#feeds) {
      if (f.topic !== topic) continue;
      closeQuietly(f.ws);
      this.#feeds.delete(key);
    }
    this.host.store.deleteFeeds(topic);
  }

  /** Opens every feed not open yet. */
  start(): void {
    for (const f of this.#feeds.values()) if (!f.ws && !f.opening) void this.#open(f);
  }

  /** The connection ended: every feed closes; nothing more is sent. */
  stop(): void {
    this.#stopped = true;
    for (const f of this.#feeds.values()) {
      closeQuietly(f.ws);
      f.ws = null;
    }
    this.#feeds.clear();
  }

  /** Feeds due for another try; answers the next retry time, or null. */
  onAlarm(at: number): number | null {
    let next: number | null = null;
    for (const f of this.#feeds.values()) {
      if (f.ws || f.opening) continue;
      if (f.retryAt === null || f.retryAt <= at) void this.#open(f);
      else next = next === null ? f.retryAt : Math.min(next, f.retryAt);
    }
    return next;
  }

  /** PUBACK: the delivery is done; waiting messages may go. */
  acknowledged(packetId: number): void {
    if (this.#inflight.forget(packetId)) this.#pumpAll();
  }

  /**
   * Sends one message (a feed's, or a retained one on SUBSCRIBE) to the client at `qos`,
   * keeping a QoS 1 packet until PUBACK. False when it must wait for room. A packet over the
   * client's Maximum Packet Size is discarded and counts as sent (true): no packet id is
   * kept for it, so its partition moves on (§3.1.2.11.4 [MQTT-3.1.2-25]).
   */
  sendMessage(mqttTopic: string, payload: Uint8Array, qos: 0 | 1, retain: boolean, properties: MqttProperties | undefined, force = false): boolean {
    const record = this.host.record();
    if (!record) return false;
    const version = record.version;
    if (qos === 0) {
      const packet = encodePublish(version, { topic: mqttTopic, payload, qos: 0, retain, dup: false, packetId: null, properties });
      if (fitsClient(record, packet)) this.host.send(packet);
      return true;
    }
    const inflight = this.#inflight;
    const limit = Math.min(record.receiveMaximum, MAX_INFLIGHT);
    const roomy = inflight.count < limit && (inflight.count === 0 || inflight.bytes + payload.length <= MAX_INFLIGHT_BYTES);
    if (!roomy && !force) return false;
    const packetId = inflight.allocate();
    if (packetId === null) return false;
    const packet = encodePublish(version, { topic: mqttTopic, payload, qos: 1, retain, dup: false, packetId, properties });
    if (!fitsClient(record, packet)) return true; // the id was never used: the next allocation skips past it
    inflight.add(packetId, packet);
    this.host.send(packet);
    return true;
  }

  async #open(f: Feed): Promise<void> {
    if (this.#stopped || f.ws || f.opening) return;
    f.opening = true;
    f.retryAt = null;
    try {
      const res = await connectLive(this.host.env, f.topic, {
        kind: "subscribe", partition: f.partition, from: String(f.next), headers: { upgrade: "websocket" },
      });
      const ws = res.webSocket;
      if (!ws) throw new Error("the partition answered without a WebSocket");
      ws.accept();
      if (this.#stopped || this.#feeds.get(feedKey(f.topic, f.partition)) !== f) {
        closeQuietly(ws);
        return;
      }
      f.ws = ws;
      f.pending = [];
      f.unackedCount = 0;
      f.unackedBytes = 0;
      ws.addEventListener("message", (e) => this.#onFrame(f, ws, e.data));
      ws.addEventListener("close", () => this.#onFeedClosed(f, ws));
      ws.addEventListener("error", () => this.#onFeedClosed(f, ws));
    } catch (err) {
      // An offset past the end: the topic was deleted and created again, so its offsets
      // start over; follow the new log from its start.
      if (asApiError(err).code === "VALIDATION_FAILED") f.next = 0;
      this.#retryLater(f);
    } finally {
      f.opening = false;
    }
  }

  #retryLater(f: Feed): void {
    if (this.#stopped) return;
    // No feed socket holds the object in memory now: what it would lose by hibernating goes to the store.
    this.#checkpoint();
    f.retryAt = now() + FEED_RETRY_MS;
    this.host.wantAlarm(f.retryAt);
  }

  #onFeedClosed(f: Feed, ws: WebSocket): void {
    if (f.ws !== ws) return;
    f.ws = null;
    f.pending = [];
    this.#retryLater(f);
  }

  #onFrame(f: Feed, ws: WebSocket, data: unknown): void {
    if (f.ws !== ws || typeof data !== "string") return;
    let frame: { type?: unknown; from?: unknown; to?: unknown; offset?: unknown };
    try {
      frame = JSON.parse(data) as typeof frame;
    } catch {
      return;
    }
    if (frame.type === "gap" && typeof frame.to === "number") {
      // Gone by retention while this session was away: MQTT has no way to say so; skip on.
      if (f.pending.length === 0 && frame.to > f.next) f.next = frame.to;
      return;
    }
    if (frame.type !== "message" || typeof frame.offset !== "number") return;
    f.pending.push({ ...(frame as Omit<LiveMessage, "bytes">), bytes: data.length });
    this.#pump(f);
  }

  #pumpAll(): void {
    for (const f of this.#feeds.values()) if (f.pending.length > 0) this.#pump(f);
  }

  /** Passes a feed's waiting messages to the client in offset order, as far as room allows. */
  #pump(f: Feed): void {
    while (f.pending.length > 0 && !this.#stopped) {
      const m = f.pending[0]!;
      if (m.offset >= f.next && !this.#deliver(f.topic, m)) break;
      f.pending.shift();
      this.#own.passed(f.topic, f.partition, m.offset);
      if (m.offset >= f.next) f.next = m.offset + 1;
      f.unackedCount++;
      f.unackedBytes += m.bytes;
      f.lastPassed = m.offset;
    }
    if (f.unackedCount >= ACK_EVERY_MESSAGES || f.unackedBytes >= ACK_EVERY_BYTES) {
      if (this.#persistent()) this.#checkpoint();
      try {
        f.ws?.send(JSON.stringify({ type: "ack", offset: f.lastPassed }));
      } catch {
        // closing: the close handler reopens it
      }
      f.unackedCount = 0;
      f.unackedBytes = 0;
    }
  }

  /** Whether the session outlives the connection (a crash must not lose its place). */
  #persistent(): boolean {
    return (this.host.record()?.sessionExpiry ?? 0) > 0;
  }

  /** Writes the positions moved and the deliveries in flight changed since the last checkpoint (one commit). */
  #checkpoint(): void {
    for (const f of this.#feeds.values()) {
      if (f.next === f.saved) continue;
      this.host.store.setFeed(f.topic, f.partition, f.next);
      f.saved = f.next;
    }
    this.#inflight.flush();
  }

  /** Sends `m` to the client if any filter matches; false when it must wait for room. */
  #deliver(topic: string, m: LiveMessage): boolean {
    const headers = m.headers ?? {};
    const mqttTopic = mqttTopicOf(topic, m.key, headers);
    let matching = this.#subsOf(topic).filter((s) => topicMatches(s.filter, mqttTopic));
    if (matching.some((s) => s.noLocal)) {
      // Whether this is the connection's own publish is known once that publish is answered.
      if (this.#own.awaiting(topic, m.key)) return false;
      if (this.#own.isOwn(topic, m.partition, m.offset)) matching = matching.filter((s) => !s.noLocal);
    }
    if (matching.length === 0) return true;
    const record = this.host.record();
    if (!record) return false;
    const granted = matching.some((s) => s.qos === 1) ? 1 : 0;
    const qos = Math.min(granted, publishedQos(headers)) as 0 | 1;
    let properties: MqttProperties | undefined;
    if (record.version === 5) {
      const props = outgoingProperties(headers, now());
      if (props === "expired") return true;
      const ids = matching.map((s) => s.subId).filter((id): id is number => id !== null);
      if (ids.length > 0) props.subscriptionIdentifiers = ids;
      properties = props;
    } else if (outgoingProperties(headers, now()) === "expired") {
      return true;
    }
    const retain = matching.some((s) => s.rap) && headers["mqtt-retain"] === "1";
    return this.sendMessage(mqttTopic, payloadOf(m.body, headers), qos, retain, properties);
  }

  #subsOf(topic: string): SubscriptionRow[] {
    if (!this.#subs) {
      this.#subs = new Map();
      for (const s of this.host.store.subscriptions()) (this.#subs.get(s.topic) ?? this.#subs.set(s.topic, []).get(s.topic)!).push(s);
    }
    return this.#subs.get(topic) ?? [];
  }
}

function feedKey(topic: string, partition: number): string {
  return `${topic}#${partition}`;
}

function newFeed(topic: string, partition: number, next: number): Feed {
  return { topic, partition, next, saved: next, ws: null, opening: false, pending: [], unackedCount: 0, unackedBytes: 0, lastPassed: next - 1, retryAt: null };
}

function closeQuietly(ws: WebSocket | null): void {
  try {
    ws?.close(1000, "mqtt connection ended");
  } catch {
    // already closed
  }
}
