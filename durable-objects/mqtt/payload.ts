/**
 * Payload and property mapping between MQTT and Spool messages, both ways (API.md, MQTT
 * over WebSocket → Payloads). MQTT bytes that are valid UTF-8 become a string body; any
 * other bytes `{"base64": "…"}` with header `mqtt-payload: base64`. A Spool body goes
 * out as the string's UTF-8 bytes, or as its JSON text. MQTT 5 properties travel as headers:
 * user properties by their own names, the rest under the reserved names below.
 */
import { MAX_HEADERS } from "../../protocol/limits";
import { strictUtf8, utf8 } from "./bytes";
import type { MqttProperties } from "./properties";

/** Header names Spool gives meaning to on MQTT messages. */
export const MqttHeaders = {
  topic: "mqtt-topic",
  payload: "mqtt-payload",
  /** "0" on a message published at QoS 0 (absent: QoS 1, as every `/v1` publish counts). */
  qos: "mqtt-qos",
  /** "1" on a message published with RETAIN. */
  retain: "mqtt-retain",
  /** ms epoch after which the message is not delivered (MQTT 5 message expiry). */
  expiresAt: "mqtt-expires-at",
  responseTopic: "mqtt-response-topic",
  /** base64 of MQTT 5 correlation data. */
  correlationData: "mqtt-correlation-data",
  contentType: "content-type",
} as const;

const RESERVED = new Set<string>(Object.values(MqttHeaders));
const MAX_HEADER_NAME = 256;
const MAX_HEADER_VALUE = 4096;

export interface InboundMessage {
  mqttTopic: string;
  payload: Uint8Array;
  qos: 0 | 1 | 2;
  retain: boolean;
  properties: MqttProperties;
}

/** A Spool publish of one MQTT message: `body`, `key` = the MQTT topic, `headers`. */
export interface SpoolPublish {
  body: unknown;
  key: string;
  headers: Record<string, string>;
}

export type Mapped = { ok: true; message: SpoolPublish } | { ok: false; reason: "headers" };

/** The Spool message an MQTT PUBLISH becomes, at `now` (ms, for message expiry). */
export function toSpoolMessage(m: InboundMessage, now: number): Mapped {
  const headers: Record<string, string> = {};
  const set = (name: string, value: string) => Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
  for (const [name, value] of m.properties.userProperties ?? []) {
    if (RESERVED.has(name) || name.length === 0 || name.length > MAX_HEADER_NAME || value.length > MAX_HEADER_VALUE) continue;
    set(name, value); // a name sent twice keeps its last value
  }
  set(MqttHeaders.topic, m.mqttTopic);
  if (m.qos === 0) set(MqttHeaders.qos, "0");
  if (m.retain) set(MqttHeaders.retain, "1");
  const p = m.properties;
  if (p.contentType !== undefined) set(MqttHeaders.contentType, p.contentType.slice(0, MAX_HEADER_VALUE));
  if (p.responseTopic !== undefined) set(MqttHeaders.responseTopic, p.responseTopic.slice(0, MAX_HEADER_VALUE));
  if (p.correlationData !== undefined) set(MqttHeaders.correlationData, toBase64(p.correlationData).slice(0, MAX_HEADER_VALUE));
  if (p.messageExpiryInterval !== undefined) set(MqttHeaders.expiresAt, String(now + p.messageExpiryInterval * 1000));
  if (Object.keys(headers).length > MAX_HEADERS) return { ok: false, reason: "headers" };
  const text = strictUtf8(m.payload);
  if (text !== null) return { ok: true, message: { body: text, key: m.mqttTopic, headers } };
  set(MqttHeaders.payload, "base64");
  return { ok: true, message: { body: { base64: toBase64(m.payload) }, key: m.mqttTopic, headers } };
}

/** The MQTT payload of a Spool body (see the module comment). */
export function payloadOf(body: unknown, headers: Record<string, string>): Uint8Array {
  if (headers[MqttHeaders.payload] === "base64" && typeof body === "object" && body !== null) {
    const b64 = (body as { base64?: unknown }).base64;
    if (typeof b64 === "string") {
      const bytes = fromBase64(b64);
      if (bytes) return bytes;
    }
  }
  return utf8(typeof body === "string" ? body : JSON.stringify(body));
}

/** The QoS a Spool message was published at: 0 when MQTT said so, else 1. */
export function publishedQos(headers: Record<string, string>): 0 | 1 {
  return headers[MqttHeaders.qos] === "0" ? 0 : 1;
}

/** Whether the message has expired by `now`; else the MQTT 5 properties it goes out with. */
export function outgoingProperties(headers: Record<string, string>, now: number): MqttProperties | "expired" {
  const props: MqttProperties = {};
  const expires = headers[MqttHeaders.expiresAt];
  if (expires !== undefined && /^\d{1,16}$/.test(expires)) {
    const left = Number(expires) - now;
    if (left <= 0) return "expired";
    props.messageExpiryInterval = Math.ceil(left / 1000);
  }
  const user: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (!RESERVED.has(name)) user.push([name, value]);
  }
  if (user.length > 0) props.userProperties = user;
  if (headers[MqttHeaders.contentType] !== undefined) props.contentType = headers[MqttHeaders.contentType];
  if (headers[MqttHeaders.responseTopic] !== undefined) props.responseTopic = headers[MqttHeaders.responseTopic];
  const correlation = headers[MqttHeaders.correlationData];
  if (correlation !== undefined) props.correlationData = fromBase64(correlation) ?? utf8(correlation);
  if (headers[MqttHeaders.payload] !== "base64") props.payloadFormatIndicator = 1; // a string body or JSON text: UTF-8
  return props;
}

export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(text: string): Uint8Array | null {
  try {
    const s = atob(text);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}
