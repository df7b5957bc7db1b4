/**
 * A raw MQTT client for tests inside workerd: it writes packets byte by byte (so tests can
 * send what no library would: no PUBACK, bad packets, split frames) and reads what the
 * server sends with a small decoder of the server's packets.
 */
import { exports } from "cloudflare:workers";
import { ByteReader, ByteWriter } from "../../durable-objects/mqtt/bytes";
import { readProperties, writeProperties, type MqttProperties } from "../../durable-objects/mqtt/properties";
import { BASE } from "./helpers";

export interface ServerPacket {
  type: number;
  flags: number;
  /** CONNACK */
  sessionPresent?: boolean;
  code?: number;
  /** PUBLISH */
  topic?: string;
  packetId?: number;
  payload?: Uint8Array;
  properties?: MqttProperties;
  /** SUBACK / UNSUBACK */
  codes?: number[];
  /** The whole packet's length in bytes. */
  size?: number;
}

export const T = { CONNACK: 2, PUBLISH: 3, PUBACK: 4, PUBREC: 5, PUBCOMP: 7, SUBACK: 9, UNSUBACK: 11, PINGRESP: 13, DISCONNECT: 14 } as const;

/** Waits until everything the server had to send before a PINGRESP has arrived (one connection, in order). */
export async function settled(c: RawMqtt): Promise<void> {
  c.send(PINGREQ);
  await c.next((p) => p.type === T.PINGRESP);
}

function frame(type: number, flags: number, body: ByteWriter): Uint8Array {
  const w = new ByteWriter();
  w.byte((type << 4) | flags);
  w.varint(body.length);
  w.append(body);
  return w.toBytes();
}

export interface ConnectOptions {
  version?: 4 | 5;
  clientId: string;
  clean?: boolean;
  keepalive?: number;
  password?: string | null;
  will?: { topic: string; payload: string; qos?: 0 | 1 };
  properties?: MqttProperties;
}

export function connectPacket(o: ConnectOptions): Uint8Array {
  const v = o.version ?? 4;
  const b = new ByteWriter();
  b.string("MQTT");
  b.byte(v);
  let flags = o.clean === false ? 0 : 0x02;
  if (o.will) flags |= 0x04 | ((o.will.qos ?? 0) << 3);
  if (o.password !== null) flags |= 0xc0;
  b.byte(flags);
  b.u16(o.keepalive ?? 0);
  if (v === 5) writeProperties(b, o.properties);
  b.string(o.clientId);
  if (o.will) {
    if (v === 5) writeProperties(b, undefined);
    b.string(o.will.topic);
    b.binary(new TextEncoder().encode(o.will.payload));
  }
  if (o.password !== null) {
    b.string("user");
    b.binary(new TextEncoder().encode(o.password ?? "test-admin-key"));
  }
  return frame(1, 0, b);
}

export function publishPacket(topic: string, payload: string | Uint8Array, qos: 0 | 1 | 2 = 0, packetId = 1, v: 4 | 5 = 4, retain = false, properties?: MqttProperties): Uint8Array {
  const b = new ByteWriter();
  b.string(topic);
  if (qos > 0) b.u16(packetId);
  if (v === 5) writeProperties(b, properties);
  b.raw(typeof payload === "string" ? new TextEncoder().encode(payload) : payload);
  return frame(3, (qos << 1) | (retain ? 1 : 0), b);
}

/** MQTT 5 extras of a SUBSCRIBE: No Local on every filter, and its properties (a Subscription Identifier). */
export interface SubscribeExtras {
  noLocal?: boolean;
  properties?: MqttProperties;
}

export function subscribePacket(filters: string[], qos: 0 | 1 | 2 = 1, packetId = 1, v: 4 | 5 = 4, extras: SubscribeExtras = {}): Uint8Array {
  const b = new ByteWriter();
  b.u16(packetId);
  if (v === 5) writeProperties(b, extras.properties);
  for (const f of filters) {
    b.string(f);
    b.byte(qos | (extras.noLocal ? 0x04 : 0));
  }
  return frame(8, 2, b);
}

/** An MQTT 5 AUTH packet (§3.15): reason 0x18 Continue authentication and its properties. */
export function authPacket(properties?: MqttProperties): Uint8Array {
  const b = new ByteWriter();
  b.byte(0x18);
  writeProperties(b, properties);
  return frame(15, 0, b);
}

export function pubackPacket(packetId: number): Uint8Array {
  const b = new ByteWriter();
  b.u16(packetId);
  return frame(4, 0, b);
}

export const PINGREQ = new Uint8Array([0xc0, 0x00]);
export const DISCONNECT = new Uint8Array([0xe0, 0x00]);

/** Decodes the packets the server sends (enough for tests). */
export function decodeServerPacket(bytes: Uint8Array, v: 4 | 5): ServerPacket {
  const r = new ByteReader(bytes);
  const first = r.byte();
  r.varint();
  const type = first >> 4;
  const flags = first & 0x0f;
  const p: ServerPacket = { type, flags };
  if (type === T.CONNACK) {
    p.sessionPresent = (r.byte() & 1) === 1;
    p.code = r.byte();
    if (v === 5) p.properties = readProperties(r);
  } else if (type === T.PUBLISH) {
    p.topic = r.string();
    if (((flags >> 1) & 3) > 0) p.packetId = r.u16();
    if (v === 5) p.properties = readProperties(r);
    p.payload = r.rest();
  } else if (type === T.SUBACK || type === T.UNSUBACK) {
    p.packetId = r.u16();
    if (v === 5) readProperties(r);
    p.codes = [...r.rest()];
  } else if (type === T.PUBACK || type === T.PUBREC || type === T.PUBCOMP) {
    p.packetId = r.u16();
    p.code = r.remaining > 0 ? r.byte() : 0;
  } else if (type === T.DISCONNECT) {
    p.code = r.remaining > 0 ? r.byte() : 0;
    if (r.remaining > 0) p.properties = readProperties(r);
  }
  p.size = bytes.length;
  return p;
}

/** An open raw connection: what arrived, and when it closed. */
export class RawMqtt {
  readonly packets: ServerPacket[] = [];
  closed: number | null = null;
  #waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket, readonly version: 4 | 5) {
    ws.addEventListener("message", (e) => {
      const data = e.data instanceof ArrayBuffer ? new Uint8Array(e.data) : new TextEncoder().encode(String(e.data));
      this.packets.push(decodeServerPacket(data, version));
      this.#wake();
    });
    ws.addEventListener("close", (e) => {
      this.closed = e.code;
      this.#wake();
    });
  }

  static async open(version: 4 | 5 = 4, query = ""): Promise<RawMqtt> {
    const res = await exports.default.fetch(new Request(`${BASE}/v1/mqtt${query}`, { headers: { upgrade: "websocket", "sec-websocket-protocol": "mqtt" } }));
    const ws = res.webSocket;
    if (!ws) throw new Error(`no upgrade: ${res.status} ${await res.text()}`);
    ws.accept();
    // workerd hands a client socket's binary frames over as Blobs unless asked otherwise.
    (ws as unknown as { binaryType: string }).binaryType = "arraybuffer";
    return new RawMqtt(ws, version);
  }

  /** Opens and connects; resolves with the CONNACK. */
  static async connect(o: ConnectOptions): Promise<{ c: RawMqtt; connack: ServerPacket }> {
    const c = await RawMqtt.open(o.version ?? 4);
    c.send(connectPacket(o));
    const connack = await c.next((p) => p.type === T.CONNACK);
    return { c, connack };
  }

  send(bytes: Uint8Array): void {
    this.ws.send(bytes);
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** The first packet (from the start) matching `match` not taken yet; rejects when the socket closes first. */
  async next(match: (p: ServerPacket) => boolean, ms = 5000): Promise<ServerPacket> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.packets.findIndex(match);
      if (i >= 0) return this.packets.splice(i, 1)[0]!;
      if (this.closed !== null) throw new Error(`closed (${this.closed}) before the packet came`);
      if (Date.now() > deadline) throw new Error("timed out waiting for a packet");
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  async waitClosed(ms = 5000): Promise<number> {
    const deadline = Date.now() + ms;
    while (this.closed === null) {
      if (Date.now() > deadline) throw new Error("socket did not close");
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.closed;
  }

  close(): void {
    try {
      this.ws.close(1000, "done");
    } catch {
      // closed already
    }
  }
}
