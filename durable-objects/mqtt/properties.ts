/**
 * MQTT 5 properties (MQTT 5.0 §2.2.2): the identifier table, and reading and writing a
 * property list. 3.1.1 packets have no properties; the codec never calls this for them.
 */
import { MalformedPacket, ReasonCodes } from "./reasons";
import { ByteReader, ByteWriter } from "./bytes";

type Kind = "byte" | "u16" | "u32" | "varint" | "string" | "binary" | "pair";

/** Every property a packet may carry, by name, as the codec hands them around. */
export interface MqttProperties {
  payloadFormatIndicator?: number;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Uint8Array;
  subscriptionIdentifiers?: number[];
  sessionExpiryInterval?: number;
  assignedClientIdentifier?: string;
  serverKeepAlive?: number;
  authenticationMethod?: string;
  authenticationData?: Uint8Array;
  requestProblemInformation?: number;
  willDelayInterval?: number;
  requestResponseInformation?: number;
  responseInformation?: string;
  serverReference?: string;
  reasonString?: string;
  receiveMaximum?: number;
  topicAliasMaximum?: number;
  topicAlias?: number;
  maximumQoS?: number;
  retainAvailable?: number;
  userProperties?: Array<[string, string]>;
  maximumPacketSize?: number;
  wildcardSubscriptionAvailable?: number;
  subscriptionIdentifierAvailable?: number;
  sharedSubscriptionAvailable?: number;
}

type Name = keyof MqttProperties;

const TABLE: ReadonlyArray<[number, Name, Kind]> = [
  [0x01, "payloadFormatIndicator", "byte"],
  [0x02, "messageExpiryInterval", "u32"],
  [0x03, "contentType", "string"],
  [0x08, "responseTopic", "string"],
  [0x09, "correlationData", "binary"],
  [0x0b, "subscriptionIdentifiers", "varint"],
  [0x11, "sessionExpiryInterval", "u32"],
  [0x12, "assignedClientIdentifier", "string"],
  [0x13, "serverKeepAlive", "u16"],
  [0x15, "authenticationMethod", "string"],
  [0x16, "authenticationData", "binary"],
  [0x17, "requestProblemInformation", "byte"],
  [0x18, "willDelayInterval", "u32"],
  [0x19, "requestResponseInformation", "byte"],
  [0x1a, "responseInformation", "string"],
  [0x1c, "serverReference", "string"],
  [0x1f, "reasonString", "string"],
  [0x21, "receiveMaximum", "u16"],
  [0x22, "topicAliasMaximum", "u16"],
  [0x23, "topicAlias", "u16"],
  [0x24, "maximumQoS", "byte"],
  [0x25, "retainAvailable", "byte"],
  [0x26, "userProperties", "pair"],
  [0x27, "maximumPacketSize", "u32"],
  [0x28, "wildcardSubscriptionAvailable", "byte"],
  [0x29, "subscriptionIdentifierAvailable", "byte"],
  [0x2a, "sharedSubscriptionAvailable", "byte"],
];

const BY_ID = new Map(TABLE.map(([id, name, kind]) => [id, { name, kind }]));
const BY_NAME = new Map(TABLE.map(([id, name, kind]) => [name, { id, kind }]));

/** Properties that may appear more than once in one list (§2.2.2.2); any other twice is a protocol error. */
const REPEATABLE = new Set<Name>(["userProperties", "subscriptionIdentifiers"]);

/** Reads a property list (its varint length first); unknown ids are malformed (§2.2.2.2). */
export function readProperties(r: ByteReader): MqttProperties {
  const length = r.varint();
  const end = r.offset + length;
  if (end > r.end) throw new MalformedPacket("property length exceeds the packet");
  const out: Record<string, unknown> = {};
  while (r.offset < end) {
    const id = r.varint();
    const spec = BY_ID.get(id);
    if (!spec) throw new MalformedPacket(`unknown property 0x${id.toString(16)}`);
    const { name, kind } = spec;
    if (out[name] !== undefined && !REPEATABLE.has(name)) {
      throw new MalformedPacket(`property ${name} appears twice`, ReasonCodes.PROTOCOL_ERROR);
    }
    const value = readValue(r, kind);
    if (name === "userProperties") ((out[name] ??= []) as Array<[string, string]>).push(value as [string, string]);
    else if (name === "subscriptionIdentifiers") ((out[name] ??= []) as number[]).push(value as number);
    else out[name] = value;
  }
  if (r.offset !== end) throw new MalformedPacket("property list overruns its length");
  return out as MqttProperties;
}

function readValue(r: ByteReader, kind: Kind): unknown {
  switch (kind) {
    case "byte": return r.byte();
    case "u16": return r.u16();
    case "u32": return r.u32();
    case "varint": return r.varint();
    case "string": return r.string();
    case "binary": return r.binary();
    case "pair": return [r.string(), r.string()];
  }
}

/** Writes a property list with its length; `undefined` values are left out. */
export function writeProperties(w: ByteWriter, props: MqttProperties | undefined): void {
  const body = new ByteWriter();
  for (const [name, value] of Object.entries(props ?? {}) as Array<[Name, unknown]>) {
    if (value === undefined) continue;
    const spec = BY_NAME.get(name);
    if (!spec) continue;
    const values = name === "userProperties" || name === "subscriptionIdentifiers" ? (value as unknown[]) : [value];
    for (const v of values) {
      body.varint(spec.id);
      writeValue(body, spec.kind, v);
    }
  }
  w.varint(body.length);
  w.append(body);
}

function writeValue(w: ByteWriter, kind: Kind, v: unknown): void {
  switch (kind) {
    case "byte": return w.byte(v as number);
    case "u16": return w.u16(v as number);
    case "u32": return w.u32(v as number);
    case "varint": return w.varint(v as number);
    case "string": return w.string(v as string);
    case "binary": return w.binary(v as Uint8Array);
    case "pair": {
      const [k, val] = v as [string, string];
      w.string(k);
      return w.string(val);
    }
  }
}
