/**
 * MqttConnection: one Durable Object per MQTT-over-WebSocket connection (`/v1/mqtt`).
 *
 * The socket is accepted with the Hibernation API before the client says who it is (its
 * CONNECT comes in the first frame), so the object is named by a unique id, not the client
 * id; the client id's MqttSession keeps the session between connections and hands it over
 * (session.ts). Per-socket state is in the attachment (phase, last packet time, packet
 * budget); what must outlive hibernation or a restart is in SQLite (store.ts): the record
 * decided at CONNECT, the session while connected, inbound QoS 2 ids, topic aliases and
 * the bytes of an unfinished packet. The alarm enforces the CONNECT timeout, keepalive
 * (1.5× the client's), token expiry, retries of topic feeds, and notices a connection the
 * runtime dropped without a close event (a restart): every end without DISCONNECT
 * publishes the Last Will.
 *
 * Packets are handled one at a time in arrival order (handlers await other objects, and a
 * frame may arrive meanwhile); publishes only queue in the Publisher, so they pipeline.
 */
import { DurableObject } from "cloudflare:workers";
import { mqttSessionStub, type Env } from "../env";
import { AlarmScheduler, earliestOf } from "../shared/alarm";
import { now, type DueReport, type RunDueOptions } from "../shared/clock";
import { publishToTopic } from "../topic/router/publish";
import { credentialExpiry, credentialOfUpgrade, SUBPROTOCOL_HEADER, type MqttCredential } from "./auth";
import { decodePacket, encodePingresp, splitPackets, type ClientPacket } from "./codec";
import { handleConnect, willMessage } from "./connect";
import { CONNECT_TIMEOUT_MS, MAX_PACKET_BYTES, PACKET_BURST, PACKETS_PER_SECOND, type ConnectionContext } from "./context";
import { Delivery } from "./delivery";
import { handleAck, handlePublish } from "./inbound";
import { disconnectWithin, fitsClient } from "./limits-out";
import { Publisher } from "./publisher";
import { connackV4, MalformedPacket, ReasonCodes } from "./reasons";
import { MAX_SESSION_EXPIRY_SECONDS, type DelayedWill, type Released } from "./session";
import { ConnectionStore, type ConnectionRecord } from "./store";
import { handleSubscribe, handleUnsubscribe } from "./subscribe";

/** Per-socket state in the attachment (survives hibernation). */
interface Attachment {
  v: 1;
  phase: "connecting" | "connected" | "ended";
  openedAt: number;
  lastPacketAt: number;
  budget: { tokens: number; at: number };
}

/** How often a connection without keepalive checks that its socket still exists. */
const LIVENESS_MS = 60_000;
const UPGRADE_CREDENTIAL_KEY = "upgrade-credential";

export class MqttConnection extends DurableObject<Env> {
  readonly #store: ConnectionStore;
  readonly #scheduler: AlarmScheduler;
  readonly #delivery: Delivery;
  readonly #publisher: Publisher;
  readonly #ctx: ConnectionContext;
  #record: ConnectionRecord | null | undefined;
  #work: Promise<void> = Promise.resolve();
  #partial: Uint8Array | null = null;
  #awake = false;
  #retryAt: number | null = null;
  #ending: Promise<void> | null = null;
  #final: Released | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = new ConnectionStore(ctx.storage.sql);
    this.#scheduler = new AlarmScheduler(ctx.storage);
    ctx.blockConcurrencyWhile(async () => this.#store.migrate());
    this.#publisher = new Publisher(env);
    this.#delivery = new Delivery({
      env, store: this.#store, record: () => this.#loadRecord(), send: (b) => this.#send(b),
      wantAlarm: (at) => {
        this.#retryAt = earliestOf(this.#retryAt, at);
        this.#scheduler.armBy(at).catch(() => undefined);
      },
    });
    const self = this;
    this.#ctx = {
      env, store: this.#store, delivery: this.#delivery, publisher: this.#publisher, connectionId: ctx.id.toString(),
      inbound: { pending: 0 },
      record: () => this.#loadRecord(),
      setRecord: (r) => {
        this.#record = r;
        this.#store.saveRecord(r);
        this.#setPhase("connected");
      },
      send: (b) => this.#send(b),
      fail: (reason, message) => self.#end({ will: true, reason, message }),
      disconnected: (publishWill) => self.#end({ will: publishWill }),
      refuse: () => this.#refuse(),
      upgradeCredential: async () => (await ctx.storage.get<MqttCredential>(UPGRADE_CREDENTIAL_KEY)) ?? null,
    };
  }

  /** The `/v1/mqtt` upgrade, forwarded by the Worker with the credential it verified (if any). */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, ["mqtt"]);
    const at = now();
    server.serializeAttachment({ v: 1, phase: "connecting", openedAt: at, lastPacketAt: at, budget: { tokens: PACKET_BURST, at } } satisfies Attachment);
    const credential = credentialOfUpgrade(request);
    if (credential) await this.ctx.storage.put(UPGRADE_CREDENTIAL_KEY, credential);
    await this.#scheduler.arm(at + CONNECT_TIMEOUT_MS);
    const protocol = request.headers.get(SUBPROTOCOL_HEADER);
    return new Response(null, { status: 101, webSocket: client, headers: protocol ? { "Sec-WebSocket-Protocol": protocol } : {} });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const att = attachmentOf(ws);
    if (!att || att.phase === "ended" || this.#ending) return;
    if (typeof message === "string") {
      // MQTT over WebSocket is binary frames only (MQTT 5.0 §6 [MQTT-6.0.0-1]).
      return this.#enqueue(() => this.#end({ will: true, reason: ReasonCodes.MALFORMED_PACKET, message: "text frame" }));
    }
    this.#wake();
    const bytes = new Uint8Array(message);
    this.#enqueue(() => this.#onBytes(ws, bytes));
  }

  // After the packets before it (a CONNECT still attaching its session must finish first).
  override async webSocketClose(): Promise<void> {
    this.#enqueue(() => this.#end({ will: true }));
    await this.#work;
  }

  override async webSocketError(): Promise<void> {
    this.#enqueue(() => this.#end({ will: true }));
    await this.#work;
  }

  /**
   * RPC from the client id's MqttSession: another connection takes the session over. This
   * one ends (MQTT 5: DISCONNECT 0x8E), publishes its will, and hands back its session.
   */
  async release(): Promise<Released | null> {
    if (!this.#final && !this.#ending) {
      if (!this.#loadRecord()) return null;
      await this.#end({ will: true, reason: ReasonCodes.SESSION_TAKEN_OVER, message: "session taken over", takeover: true });
    }
    return this.#final;
  }

  override async alarm(): Promise<void> {
    this.#scheduler.fired();
    if (this.#ending) return;
    const at = now();
    const ws = this.ctx.getWebSockets()[0];
    const att = ws ? attachmentOf(ws) : null;
    const record = this.#loadRecord();
    if (!record) {
      // Never got a valid CONNECT: the socket goes after the timeout; the object empties.
      if (!ws || !att || at >= att.openedAt + CONNECT_TIMEOUT_MS) await this.#end({ will: false });
      else await this.#scheduler.arm(att.openedAt + CONNECT_TIMEOUT_MS);
      return;
    }
    // The runtime dropped the socket without an event (a restart): the connection is over.
    if (!ws || !att) return this.#end({ will: true });
    this.#wake();
    const keepaliveAt = record.keepalive > 0 ? att.lastPacketAt + record.keepalive * 1500 : null;
    if (keepaliveAt !== null && at >= keepaliveAt) return this.#end({ will: true, reason: ReasonCodes.KEEP_ALIVE_TIMEOUT, message: "keepalive expired" });
    const expiresAt = credentialExpiry(record.credential);
    if (expiresAt !== null && at >= expiresAt) return this.#end({ will: true, reason: ReasonCodes.NOT_AUTHORIZED, message: "token expired" });
    this.#retryAt = this.#delivery.onAlarm(at);
    await this.#scheduler.arm(earliestOf(keepaliveAt ?? at + LIVENESS_MS, expiresAt, this.#retryAt));
  }

  /**
   * The test kit's `advanceTime` (worker/test-control.ts; harmless anywhere, it does what the
   * alarm would): the alarm checks every deadline of the connection itself (CONNECT
   * timeout, keepalive, token expiry, feed retries), so it runs when its deadline has come
   * on the objects' clock, which a test moved, or is not known (an evicted object); else
   * the alarm is re-armed for the moved clock.
   */
  async runDue(options: RunDueOptions = {}): Promise<DueReport> {
    const known = this.#scheduler.deadline;
    if (known === null || (known === undefined && (await this.ctx.storage.getAlarm()) === null)) return { ran: false, next: null };
    if (known !== undefined && known > now()) {
      if (options.rearm !== false) await this.#scheduler.rearm(known);
      return { ran: false, next: known };
    }
    await this.#scheduler.takeOver();
    await this.alarm();
    return { ran: known !== undefined, next: this.#scheduler.deadline ?? null };
  }

  // ---- packets ----

  #enqueue(fn: () => Promise<void>): void {
    this.#work = this.#work.then(fn).catch((err) => {
      console.error("mqtt: handling a packet failed", err instanceof Error ? err.message : String(err));
      return this.#end({ will: true, reason: ReasonCodes.UNSPECIFIED_ERROR, message: "internal error" });
    });
  }

  async #onBytes(ws: WebSocket, bytes: Uint8Array): Promise<void> {
    if (this.#ending) return;
    const pending = this.#partial ?? this.#store.partial();
    const split = splitPackets(pending, bytes, MAX_PACKET_BYTES);
    if (!split.ok) return this.#end({ will: true, reason: split.reason, message: split.message });
    if (split.rest.length > 0 || pending.length > 0) this.#store.setPartial(split.rest);
    this.#partial = split.rest;
    if (split.packets.length === 0) return;
    const att = attachmentOf(ws);
    if (!att) return;
    const at = now();
    att.lastPacketAt = at;
    if (!spend(att.budget, at, split.packets.length)) {
      ws.serializeAttachment(att);
      return this.#end({ will: true, reason: ReasonCodes.MESSAGE_RATE_TOO_HIGH, message: "too many packets per second" });
    }
    ws.serializeAttachment(att);
    for (const raw of split.packets) {
      if (this.#ending) return;
      let packet: ClientPacket;
      try {
        packet = decodePacket(raw, this.#loadRecord()?.version ?? null);
      } catch (err) {
        if (!(err instanceof MalformedPacket)) throw err;
        return this.#malformed(raw, err);
      }
      await this.#handle(packet);
    }
  }

  async #handle(p: ClientPacket): Promise<void> {
    switch (p.type) {
      case "connect": {
        await handleConnect(this.#ctx, p);
        const record = this.#loadRecord();
        if (record) await this.#scheduler.arm(earliestOf(record.keepalive > 0 ? now() + record.keepalive * 1500 : now() + LIVENESS_MS, credentialExpiry(record.credential)));
        return;
      }
      case "publish": return handlePublish(this.#ctx, p);
      case "puback": case "pubrec": case "pubrel": case "pubcomp": return handleAck(this.#ctx, p);
      case "subscribe": return handleSubscribe(this.#ctx, p);
      case "unsubscribe": return handleUnsubscribe(this.#ctx, p);
      case "pingreq": {
        this.#send(encodePingresp());
        return;
      }
      case "disconnect": {
        const record = this.#loadRecord();
        const expiry = p.properties.sessionExpiryInterval;
        if (record && expiry !== undefined) {
          // §3.14.2.2.2: a session that was to end with the connection cannot be kept now.
          if (record.sessionExpiry === 0 && expiry > 0) return this.#end({ will: true, reason: ReasonCodes.PROTOCOL_ERROR, message: "session expiry set on DISCONNECT" });
          record.sessionExpiry = Math.min(expiry, MAX_SESSION_EXPIRY_SECONDS);
          this.#store.saveRecord(record);
        }
        // 0x04 "Disconnect with Will Message" asks for the will; any other DISCONNECT discards it.
        return this.#end({ will: p.reasonCode === 0x04, quiet: true });
      }
      case "auth":
        // No Authentication Method was accepted at CONNECT, so any AUTH is a Protocol Error (§4.12 [MQTT-4.12.0-6]).
        return this.#end({ will: true, reason: ReasonCodes.PROTOCOL_ERROR, message: "AUTH is not supported" });
    }
  }

  /** A packet the codec refused: a refused CONNECT gets CONNACK, anything later ends the connection. */
  async #malformed(raw: Uint8Array, err: MalformedPacket): Promise<void> {
    if (!this.#loadRecord() && err.reason === ReasonCodes.UNSUPPORTED_PROTOCOL_VERSION && (raw[0]! >> 4) === 1) {
      // §3.1.2.2: answer CONNACK 0x01 (the 3.1.1 form, the one every version can read) and close.
      this.#send(new Uint8Array([0x20, 0x02, 0x00, connackV4(ReasonCodes.UNSUPPORTED_PROTOCOL_VERSION)]));
      return this.#refuse();
    }
    return this.#end({ will: true, reason: err.reason, message: err.message });
  }

  // ---- ending ----

  /**
   * Ends the connection once: closes the socket (MQTT 5 with DISCONNECT `reason` unless the
   * client disconnected), stops the feeds, publishes the will if asked (or hands a delayed
   * one to the session), gives the session to the client id's MqttSession (unless it is
   * being taken over, which takes it from `#final`), and empties the object.
   */
  #end(o: { will: boolean; reason?: number; message?: string; quiet?: boolean; takeover?: boolean }): Promise<void> {
    this.#ending ??= this.#finish(o);
    return this.#ending;
  }

  async #finish(o: { will: boolean; reason?: number; message?: string; quiet?: boolean; takeover?: boolean }): Promise<void> {
    const record = this.#loadRecord();
    // From memory: the store's positions may be a checkpoint behind (delivery.ts).
    if (record) this.#final = { state: this.#delivery.session(), expiry: record.sessionExpiry };
    this.#delivery.stop();
    for (const ws of this.ctx.getWebSockets()) {
      const att = attachmentOf(ws);
      if (att) ws.serializeAttachment({ ...att, phase: "ended" } satisfies Attachment);
      if (record?.version === 5 && o.reason !== undefined && !o.quiet) this.#sendOn(ws, disconnectWithin(record, o.reason, o.message));
      try {
        ws.close(1000, "mqtt connection ended");
      } catch {
        // already closed
      }
    }
    await this.#publisher.drained();
    if (record) {
      let delayed: DelayedWill | null = null;
      const will = o.will && record.will ? willMessage(record.will) : null;
      if (will && record.will) {
        // A delayed will waits in the session; taken over within its delay, it is never sent (§3.1.3.2.2).
        if (record.will.delay > 0 && record.sessionExpiry > 0) {
          if (!o.takeover) delayed = { ...will, delay: record.will.delay };
        } else await publishToTopic(this.env, will.topic, [will.message]).catch((err) => console.error("mqtt: publishing a will failed", String(err)));
      }
      if (!o.takeover) {
        await mqttSessionStub(this.env, record.clientId).detach(this.#ctx.connectionId, this.#final!.state, record.sessionExpiry, delayed)
          .catch((err) => console.error("mqtt: handing back a session failed", String(err)));
      }
    }
    await this.#scheduler.clear();
    await this.ctx.storage.deleteAll();
    this.#record = null;
  }

  #refuse(): void {
    for (const ws of this.ctx.getWebSockets()) {
      const att = attachmentOf(ws);
      if (att) ws.serializeAttachment({ ...att, phase: "ended" } satisfies Attachment);
      try {
        ws.close(1000, "connection refused");
      } catch {
        // already closed
      }
    }
    this.#record = null;
    this.#ending = this.#scheduler.clear().then(() => this.ctx.storage.deleteAll());
  }

  // ---- helpers ----

  /** After hibernation or eviction, memory is empty: follow the session's topics again. */
  #wake(): void {
    if (this.#awake) return;
    this.#awake = true;
    if (this.#loadRecord() && attachmentOf(this.ctx.getWebSockets()[0])?.phase === "connected") {
      this.#delivery.load();
      this.#delivery.start();
    }
  }

  #loadRecord(): ConnectionRecord | null {
    if (this.#record === undefined) this.#record = this.#store.record();
    return this.#record;
  }

  #setPhase(phase: Attachment["phase"]): void {
    for (const ws of this.ctx.getWebSockets()) {
      const att = attachmentOf(ws);
      if (att) ws.serializeAttachment({ ...att, phase } satisfies Attachment);
    }
  }

  /** Nothing over the client's Maximum Packet Size goes out (limits-out.ts; deliveries check before). */
  #send(bytes: Uint8Array): boolean {
    const ws = this.ctx.getWebSockets()[0];
    if (!fitsClient(this.#loadRecord(), bytes)) return true;
    return ws ? this.#sendOn(ws, bytes) : false;
  }

  #sendOn(ws: WebSocket, bytes: Uint8Array): boolean {
    try {
      ws.send(bytes);
      return true;
    } catch {
      return false;
    }
  }
}

function attachmentOf(ws: WebSocket | undefined): Attachment | null {
  const a = ws?.deserializeAttachment() as Attachment | null | undefined;
  return a && a.v === 1 ? a : null;
}

/** Token bucket: spends `n` packets; false when the connection is over its rate. */
function spend(budget: { tokens: number; at: number }, at: number, n: number): boolean {
  budget.tokens = Math.min(PACKET_BURST, budget.tokens + ((at - budget.at) / 1000) * PACKETS_PER_SECOND);
  budget.at = at;
  if (budget.tokens < n) return false;
  budget.tokens -= n;
  return true;
}
