/**
 * The MQTT 3.1.1 / 5.0 codec of the server side: splitting a byte stream into packets
 * (a WebSocket frame may hold part of a packet or several), decoding what clients send and
 * encoding what the server sends. Pure functions over Uint8Array: no Node streams, no
 * Buffer, nothing kept between calls except the caller's leftover bytes, so a connection
 * can keep them across hibernation and fuzz tests can call every function directly.
 *
 * Why not `mqtt-packet`: bundled for Workers it is ~143 KB minified (43 KB gzip: it pulls
 * readable-stream, bl, debug and a tty shim) against ~10 KB (4 KB gzip) here; its parser is a
 * stream whose partial state cannot be stored with the socket. Its packet shapes follow
 * the same spec sections, which are cited beside each decoder.
 */
import { ByteReader, ByteWriter, MAX_VARINT } from "./bytes";
import { readProperties, writeProperties, type MqttProperties } from "./properties";
import { MalformedPacket, ReasonCodes } from "./reasons";

export type ProtocolVersion = 3 | 4 | 5;
export type QoS = 0 | 1 | 2;

export interface Will {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  properties: MqttProperties;
}

export interface Subscription {
  filter: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
}

export type ClientPacket =
  | { type: "connect"; version: ProtocolVersion; protocolName: string; clean: boolean; keepalive: number; clientId: string;
      username: string | null; password: Uint8Array | null; will: Will | null; properties: MqttProperties }
  | { type: "publish"; topic: string; payload: Uint8Array; qos: QoS; retain: boolean; dup: boolean; packetId: number | null; properties: MqttProperties }
  | { type: "puback" | "pubrec" | "pubrel" | "pubcomp"; packetId: number; reasonCode: number; properties: MqttProperties }
  | { type: "subscribe"; packetId: number; subscriptions: Subscription[]; properties: MqttProperties }
  | { type: "unsubscribe"; packetId: number; filters: string[]; properties: MqttProperties }
  | { type: "pingreq" }
  | { type: "disconnect"; reasonCode: number; properties: MqttProperties }
  | { type: "auth"; reasonCode: number; properties: MqttProperties };

const TYPES = ["", "connect", "connack", "publish", "puback", "pubrec", "pubrel", "pubcomp", "subscribe", "suback",
  "unsubscribe", "unsuback", "pingreq", "pingresp", "disconnect", "auth"] as const;

/** The flags the low nibble of the first byte must hold for each type (§2.1.3); PUBLISH varies. */
const FIXED_FLAGS: Record<string, number> = { pubrel: 2, subscribe: 2, unsubscribe: 2 };

export type SplitResult =
  | { ok: true; packets: Uint8Array[]; rest: Uint8Array }
  | { ok: false; reason: number; message: string };

/**
 * Splits `pending` + `chunk` into whole packets and the bytes of an unfinished one. A packet
 * whose declared size exceeds `maxPacketBytes` is refused as soon as its header is read,
 * before its bytes are buffered (5.0 §3.1.2.11.4: 0x95 Packet too large).
 */
export function splitPackets(pending: Uint8Array, chunk: Uint8Array, maxPacketBytes: number): SplitResult {
  let data = chunk;
  if (pending.length > 0) {
    data = new Uint8Array(pending.length + chunk.length);
    data.set(pending);
    data.set(chunk, pending.length);
  }
  const packets: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    let length = 0;
    let multiplier = 1;
    let i = at + 1;
    let complete = false;
    for (let n = 0; n < 4 && i < data.length; n++, i++) {
      const b = data[i]!;
      length += (b & 0x7f) * multiplier;
      multiplier *= 128;
      if ((b & 0x80) === 0) {
        complete = true;
        i++;
        break;
      }
      if (n === 3) return { ok: false, reason: ReasonCodes.MALFORMED_PACKET, message: "remaining length longer than four bytes" };
    }
    if (!complete) break; // the length is not all here yet
    const total = i - at + length;
    if (total > maxPacketBytes || length > MAX_VARINT) {
      return { ok: false, reason: ReasonCodes.PACKET_TOO_LARGE, message: `packet of ${total} bytes exceeds ${maxPacketBytes}` };
    }
    if (at + total > data.length) break;
    packets.push(data.subarray(at, at + total));
    at += total;
  }
  return { ok: true, packets, rest: at === data.length ? new Uint8Array(0) : data.slice(at) };
}

/**
 * Decodes one whole packet. `version` is the connection's protocol (null before CONNECT,
 * when only CONNECT is understood). Throws MalformedPacket for anything the spec calls
 * malformed or a protocol error.
 */
export function decodePacket(packet: Uint8Array, version: ProtocolVersion | null): ClientPacket {
  const r = new ByteReader(packet);
  const first = r.byte();
  const length = r.varint();
  if (r.remaining !== length) throw new MalformedPacket("remaining length does not match the packet");
  const type = TYPES[first >> 4] ?? "";
  const flags = first & 0x0f;
  if (type !== "publish" && flags !== (FIXED_FLAGS[type] ?? 0)) throw new MalformedPacket(`bad flags on ${type || "packet"}`);
  if (version === null && type !== "connect") throw new MalformedPacket("the first packet must be CONNECT", ReasonCodes.PROTOCOL_ERROR);
  const v5 = version === 5;
  switch (type) {
    case "connect":
      if (version !== null) throw new MalformedPacket("a second CONNECT", ReasonCodes.PROTOCOL_ERROR);
      return decodeConnect(r);
    case "publish":
      return decodePublish(r, flags, v5);
    case "puback": case "pubrec": case "pubrel": case "pubcomp": {
      const packetId = nonZeroId(r.u16());
      const reasonCode = v5 && r.remaining > 0 ? r.byte() : 0;
      const properties = v5 && r.remaining > 0 ? readProperties(r) : {};
      end(r);
      return { type, packetId, reasonCode, properties };
    }
    case "subscribe":
      return decodeSubscribe(r, v5);
    case "unsubscribe": {
      const packetId = nonZeroId(r.u16());
      const properties = v5 ? readProperties(r) : {};
      const filters: string[] = [];
      while (r.remaining > 0) filters.push(r.string());
      if (filters.length === 0) throw new MalformedPacket("UNSUBSCRIBE without a topic filter", ReasonCodes.PROTOCOL_ERROR);
      return { type, packetId, filters, properties };
    }
    case "pingreq":
      end(r);
      return { type };
    case "disconnect": case "auth": {
      if (type === "auth" && !v5) throw new MalformedPacket("AUTH is MQTT 5 only", ReasonCodes.PROTOCOL_ERROR);
      const reasonCode = v5 && r.remaining > 0 ? r.byte() : 0;
      const properties = v5 && r.remaining > 0 ? readProperties(r) : {};
      end(r);
      return { type, reasonCode, properties };
    }
    default:
      throw new MalformedPacket(`a client may not send packet type ${first >> 4}`, ReasonCodes.PROTOCOL_ERROR);
  }
}

function end(r: ByteReader): void {
  if (r.remaining !== 0) throw new MalformedPacket("unexpected bytes at the end of the packet");
}

function nonZeroId(id: number): number {
  if (id === 0) throw new MalformedPacket("packet identifier 0", ReasonCodes.PROTOCOL_ERROR);
  return id;
}

function qosOf(n: number): QoS {
  if (n > 2) throw new MalformedPacket("QoS 3");
  return n as QoS;
}

/** CONNECT (3.1.1 §3.1, 5.0 §3.1). */
function decodeConnect(r: ByteReader): ClientPacket {
  const protocolName = r.string();
  const level = r.byte();
  if (!((protocolName === "MQTT" && (level === 4 || level === 5)) || (protocolName === "MQIsdp" && level === 3))) {
    throw new MalformedPacket(`unsupported protocol ${protocolName} ${level}`, ReasonCodes.UNSUPPORTED_PROTOCOL_VERSION);
  }
  const version = level as ProtocolVersion;
  const flags = r.byte();
  if (flags & 0x01) throw new MalformedPacket("reserved CONNECT flag set");
  const hasWill = (flags & 0x04) !== 0;
  const willQos = qosOf((flags >> 3) & 0x03);
  const willRetain = (flags & 0x20) !== 0;
  if (!hasWill && (willQos !== 0 || willRetain)) throw new MalformedPacket("will QoS or retain without a will");
  const hasPassword = (flags & 0x40) !== 0;
  const hasUsername = (flags & 0x80) !== 0;
  if (version !== 5 && hasPassword && !hasUsername) throw new MalformedPacket("password without user name");
  const keepalive = r.u16();
  const properties = version === 5 ? readProperties(r) : {};
  const clientId = r.string();
  let will: Will | null = null;
  if (hasWill) {
    const willProperties = version === 5 ? readProperties(r) : {};
    const topic = r.string();
    const payload = r.binary();
    will = { topic, payload, qos: willQos, retain: willRetain, properties: willProperties };
  }
  const username = hasUsername ? r.string() : null;
  const password = hasPassword ? r.binary() : null;
  end(r);
  return { type: "connect", version, protocolName, clean: (flags & 0x02) !== 0, keepalive, clientId, username, password, will, properties };
}

/** PUBLISH (§3.3). The topic may be empty only in MQTT 5 with a topic alias; the caller resolves that. */
function decodePublish(r: ByteReader, flags: number, v5: boolean): ClientPacket {
  const qos = qosOf((flags >> 1) & 0x03);
  const dup = (flags & 0x08) !== 0;
  if (qos === 0 && dup) throw new MalformedPacket("DUP set on a QoS 0 PUBLISH");
  const topic = r.string();
  const packetId = qos > 0 ? nonZeroId(r.u16()) : null;
  const properties = v5 ? readProperties(r) : {};
  return { type: "publish", topic, payload: r.rest(), qos, retain: (flags & 0x01) !== 0, dup, packetId, properties };
}

/** SUBSCRIBE (§3.8): at least one filter; reserved option bits must be 0. */
function decodeSubscribe(r: ByteReader, v5: boolean): ClientPacket {
  const packetId = nonZeroId(r.u16());
  const properties = v5 ? readProperties(r) : {};
  const subscriptions: Subscription[] = [];
  while (r.remaining > 0) {
    const filter = r.string();
    const options = r.byte();
    if (options & (v5 ? 0xc0 : 0xfc)) throw new MalformedPacket("reserved subscription option bits set");
    const retainHandling = (options >> 4) & 0x03;
    if (retainHandling === 3) throw new MalformedPacket("retain handling 3", ReasonCodes.PROTOCOL_ERROR);
    subscriptions.push({
      filter, qos: qosOf(options & 0x03), noLocal: (options & 0x04) !== 0, retainAsPublished: (options & 0x08) !== 0,
      retainHandling: retainHandling as 0 | 1 | 2,
    });
  }
  if (subscriptions.length === 0) throw new MalformedPacket("SUBSCRIBE without a topic filter", ReasonCodes.PROTOCOL_ERROR);
  return { type: "subscribe", packetId, subscriptions, properties };
}

// ---- encoding what the server sends ----

function packet(type: number, flags: number, body: ByteWriter): Uint8Array {
  const w = new ByteWriter();
  w.byte((type << 4) | flags);
  w.varint(body.length);
  w.append(body);
  return w.toBytes();
}

export function encodeConnack(version: ProtocolVersion, sessionPresent: boolean, code: number, properties?: MqttProperties): Uint8Array {
  const body = new ByteWriter();
  body.byte(sessionPresent ? 1 : 0);
  body.byte(code);
  if (version === 5) writeProperties(body, properties);
  return packet(2, 0, body);
}

export interface OutgoingPublish {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1;
  retain: boolean;
  dup: boolean;
  packetId: number | null;
  properties?: MqttProperties;
}

export function encodePublish(version: ProtocolVersion, p: OutgoingPublish): Uint8Array {
  const body = new ByteWriter();
  body.string(p.topic);
  if (p.qos > 0) body.u16(p.packetId ?? 0);
  if (version === 5) writeProperties(body, p.properties);
  body.raw(p.payload);
  return packet(3, (p.dup ? 8 : 0) | (p.qos << 1) | (p.retain ? 1 : 0), body);
}

/** The same PUBLISH with DUP set (a resend, §4.4): only the first byte changes. */
export function withDup(publish: Uint8Array): Uint8Array {
  const out = publish.slice();
  out[0] = out[0]! | 0x08;
  return out;
}

/** PUBACK, PUBREC, PUBREL or PUBCOMP; MQTT 5 leaves out a success code (§3.4.2.1). */
export function encodeAck(kind: "puback" | "pubrec" | "pubrel" | "pubcomp", version: ProtocolVersion, packetId: number, reasonCode = 0, reasonString?: string): Uint8Array {
  const type = { puback: 4, pubrec: 5, pubrel: 6, pubcomp: 7 }[kind];
  const body = new ByteWriter();
  body.u16(packetId);
  if (version === 5 && (reasonCode !== 0 || reasonString)) {
    body.byte(reasonCode);
    if (reasonString) writeProperties(body, { reasonString });
  }
  return packet(type, kind === "pubrel" ? 2 : 0, body);
}

export function encodeSuback(version: ProtocolVersion, packetId: number, codes: number[]): Uint8Array {
  const body = new ByteWriter();
  body.u16(packetId);
  if (version === 5) writeProperties(body, undefined);
  for (const c of codes) body.byte(c);
  return packet(9, 0, body);
}

/** UNSUBACK: 3.1.1 carries only the packet id; 5.0 a reason code per filter. */
export function encodeUnsuback(version: ProtocolVersion, packetId: number, codes: number[]): Uint8Array {
  const body = new ByteWriter();
  body.u16(packetId);
  if (version === 5) {
    writeProperties(body, undefined);
    for (const c of codes) body.byte(c);
  }
  return packet(11, 0, body);
}

export function encodePingresp(): Uint8Array {
  return new Uint8Array([0xd0, 0x00]);
}

/** DISCONNECT from the server exists only in MQTT 5 (§3.14); 3.1.1 just closes. */
export function encodeDisconnect(reasonCode: number, reasonString?: string): Uint8Array {
  const body = new ByteWriter();
  body.byte(reasonCode);
  writeProperties(body, reasonString ? { reasonString } : undefined);
  return packet(14, 0, body);
}
