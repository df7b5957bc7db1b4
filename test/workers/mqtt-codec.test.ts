// The MQTT codec, topic mapping and payload mapping as pure functions: packet framing
// across frames, strict decoding of what the spec calls malformed, encode/decode round
// trips, filter matching and the body <-> payload rules of API.md.
import { describe, expect, it } from "vitest";
import { ByteWriter } from "../../durable-objects/mqtt/bytes";
import { decodePacket, encodePublish, splitPackets, withDup } from "../../durable-objects/mqtt/codec";
import { payloadOf, toSpoolMessage, outgoingProperties } from "../../durable-objects/mqtt/payload";
import { MalformedPacket, ReasonCodes } from "../../durable-objects/mqtt/reasons";
import { literalPrefix } from "../../durable-objects/mqtt/subscribe";
import { checkFilter, checkTopicName, mqttTopicOf, topicMatches } from "../../durable-objects/mqtt/topics";
import { connectPacket, publishPacket, subscribePacket } from "./mqtt-helpers";

const bytes = (...b: number[]) => new Uint8Array(b);

function malformed(packet: Uint8Array, version: 4 | 5 | null = 4): number {
  try {
    decodePacket(packet, version);
  } catch (err) {
    if (err instanceof MalformedPacket) return err.reason;
    throw err;
  }
  return -1;
}

describe("mqtt codec", () => {
  it("mqtt codec - a frame may hold part of a packet or several; the rest waits for the next frame", () => {
    const a = publishPacket("t/a", "one");
    const b = publishPacket("t/b", "two");
    const both = new Uint8Array([...a, ...b]);
    const first = splitPackets(new Uint8Array(0), both.subarray(0, a.length + 3), 1024);
    expect(first.ok && first.packets.length).toBe(1);
    if (!first.ok) return;
    expect(first.rest.length).toBe(3);
    const second = splitPackets(first.rest, both.subarray(a.length + 3), 1024);
    expect(second.ok && second.packets.map((p) => [...p])).toEqual([[...b]]);
    // Byte by byte works too.
    let rest: Uint8Array = new Uint8Array(0);
    const out: Uint8Array[] = [];
    for (const byte of both) {
      const r = splitPackets(rest, bytes(byte), 1024);
      if (!r.ok) throw new Error(r.message);
      out.push(...r.packets);
      rest = r.rest;
    }
    expect(out.map((p) => [...p])).toEqual([[...a], [...b]]);
  });

  it("mqtt codec - an oversized packet is refused from its header; a five-byte length is malformed", () => {
    const big = splitPackets(new Uint8Array(0), bytes(0x30, 0xff, 0xff, 0x7f), 1024);
    expect(big).toMatchObject({ ok: false, reason: ReasonCodes.PACKET_TOO_LARGE });
    const long = splitPackets(new Uint8Array(0), bytes(0x30, 0xff, 0xff, 0xff, 0xff, 0x01), 1 << 30);
    expect(long).toMatchObject({ ok: false, reason: ReasonCodes.MALFORMED_PACKET });
  });

  it("mqtt codec - CONNECT decodes 3.1.1 and 5 with will and password", () => {
    const c4 = decodePacket(connectPacket({ clientId: "c1", keepalive: 30, will: { topic: "w/x", payload: "bye", qos: 1 } }), null);
    expect(c4).toMatchObject({ type: "connect", version: 4, clientId: "c1", keepalive: 30, clean: true, will: { topic: "w/x", qos: 1 } });
    const c5 = decodePacket(connectPacket({ version: 5, clientId: "c2", properties: { sessionExpiryInterval: 60, userProperties: [["a", "b"]] } }), null);
    expect(c5).toMatchObject({ type: "connect", version: 5, properties: { sessionExpiryInterval: 60, userProperties: [["a", "b"]] } });
  });

  it("mqtt codec - what the spec calls malformed is refused, never half-decoded", () => {
    expect(malformed(publishPacket("t", "x"), null)).toBe(ReasonCodes.PROTOCOL_ERROR); // first packet not CONNECT
    expect(malformed(connectPacket({ clientId: "a" }), 4)).toBe(ReasonCodes.PROTOCOL_ERROR); // second CONNECT
    expect(malformed(bytes(0x80, 0x02, 0x00, 0x01))).toBe(ReasonCodes.MALFORMED_PACKET); // SUBSCRIBE with flags 0
    expect(malformed(bytes(0x82, 0x02, 0x00, 0x01))).toBe(ReasonCodes.PROTOCOL_ERROR); // SUBSCRIBE without a filter
    expect(malformed(bytes(0x36, 0x05, 0x00, 0x01, 0x74, 0x00, 0x01))).toBe(ReasonCodes.MALFORMED_PACKET); // QoS 3
    expect(malformed(bytes(0x30, 0x04, 0x00, 0x02, 0xc3, 0x28))).toBe(ReasonCodes.MALFORMED_PACKET); // invalid UTF-8
    expect(malformed(bytes(0x30, 0x03, 0x00, 0x01, 0x00))).toBe(ReasonCodes.MALFORMED_PACKET); // U+0000 in a topic
    expect(malformed(bytes(0xc0, 0x01, 0x00))).toBe(ReasonCodes.MALFORMED_PACKET); // PINGREQ with a body
    expect(malformed(bytes(0x20, 0x02, 0x00, 0x00))).toBe(ReasonCodes.PROTOCOL_ERROR); // CONNACK from a client
    expect(malformed(bytes(0x40, 0x02, 0x00, 0x00))).toBe(ReasonCodes.PROTOCOL_ERROR); // packet id 0
    const reserved = connectPacket({ clientId: "a" });
    reserved[9] = reserved[9]! | 0x01;
    expect(malformed(reserved, null)).toBe(ReasonCodes.MALFORMED_PACKET);
    const v6 = connectPacket({ clientId: "a" });
    v6[8] = 6;
    expect(malformed(v6, null)).toBe(ReasonCodes.UNSUPPORTED_PROTOCOL_VERSION);
  });

  it("mqtt codec - PUBLISH round-trips with MQTT 5 properties; a resend differs only in DUP", () => {
    const packet = encodePublish(5, {
      topic: "s/a", payload: bytes(1, 2, 3), qos: 1, retain: true, dup: false, packetId: 7,
      properties: { userProperties: [["k", "v"], ["k", "w"]], contentType: "text/plain", messageExpiryInterval: 9, subscriptionIdentifiers: [3, 4] },
    });
    const decoded = decodePacket(packet, 5);
    expect(decoded).toMatchObject({
      type: "publish", topic: "s/a", qos: 1, retain: true, dup: false, packetId: 7,
      properties: { userProperties: [["k", "v"], ["k", "w"]], contentType: "text/plain", messageExpiryInterval: 9, subscriptionIdentifiers: [3, 4] },
    });
    expect(decodePacket(withDup(packet), 5)).toMatchObject({ dup: true, packetId: 7 });
    const w = new ByteWriter();
    w.varint(268_435_455);
    expect([...w.toBytes()]).toEqual([0xff, 0xff, 0xff, 0x7f]);
    expect(decodePacket(subscribePacket(["a/+", "a/#"], 2), 4)).toMatchObject({ subscriptions: [{ filter: "a/+", qos: 2 }, { filter: "a/#", qos: 2 }] });
  });
});

describe("mqtt topics", () => {
  it("mqtt topics - the first level names the Spool topic; wildcards only below it", () => {
    expect(checkTopicName("sensors/kitchen/temp")).toEqual({ ok: true, spoolTopic: "sensors" });
    expect(checkTopicName("a/+")).toMatchObject({ ok: false, why: "malformed" });
    expect(checkTopicName("$SYS/x")).toMatchObject({ ok: false, why: "invalid" });
    expect(checkTopicName(`a/${"x".repeat(300)}`)).toMatchObject({ ok: false, why: "invalid" });
    expect(checkFilter("sensors/+/temp")).toEqual({ ok: true, spoolTopic: "sensors" });
    expect(checkFilter("+/x")).toMatchObject({ why: "first-level-wildcard" });
    expect(checkFilter("#")).toMatchObject({ why: "first-level-wildcard" });
    expect(checkFilter("a/b#")).toMatchObject({ why: "malformed" });
    expect(checkFilter("a/#/b")).toMatchObject({ why: "malformed" });
    expect(checkFilter("$share/g/a/b")).toMatchObject({ why: "shared" });
  });

  it("mqtt topics - matching follows §4.7", () => {
    const cases: Array<[string, string, boolean]> = [
      ["a/+/c", "a/b/c", true], ["a/+/c", "a/b/d", false], ["a/#", "a", true], ["a/#", "a/b/c", true],
      ["a/+", "a/b/c", false], ["a/+", "a/", true], ["a", "a", true], ["a/b", "a", false], ["a/+/+", "a/b", false],
    ];
    for (const [filter, topic, want] of cases) expect(topicMatches(filter, topic), `${filter} ~ ${topic}`).toBe(want);
    expect(literalPrefix("a/b/+/c")).toBe("a/b");
    expect(literalPrefix("a/#")).toBe("a");
    expect(literalPrefix("a/b")).toBe("a/b");
  });

  it("mqtt topics - a /v1 message's MQTT topic: header, else key, else the Spool topic", () => {
    expect(mqttTopicOf("s", null, {})).toBe("s");
    expect(mqttTopicOf("s", "s/x", {})).toBe("s/x");
    expect(mqttTopicOf("s", "dev", {})).toBe("s/dev");
    expect(mqttTopicOf("s", "whatever", { "mqtt-topic": "s/h" })).toBe("s/h");
  });
});

describe("mqtt payloads", () => {
  it("mqtt payloads - UTF-8 becomes a string body, other bytes base64; both come back exactly", () => {
    const text = toSpoolMessage({ mqttTopic: "s/a", payload: new TextEncoder().encode("héllo"), qos: 1, retain: false, properties: {} }, 0);
    expect(text).toEqual({ ok: true, message: { body: "héllo", key: "s/a", headers: { "mqtt-topic": "s/a" } } });
    const raw = bytes(0xff, 0xfe, 0x00);
    const bin = toSpoolMessage({ mqttTopic: "s/b", payload: raw, qos: 0, retain: true, properties: {} }, 0);
    expect(bin).toEqual({ ok: true, message: { body: { base64: "//4A" }, key: "s/b", headers: { "mqtt-topic": "s/b", "mqtt-qos": "0", "mqtt-retain": "1", "mqtt-payload": "base64" } } });
    if (!bin.ok || !text.ok) return;
    expect([...payloadOf(bin.message.body, bin.message.headers)]).toEqual([...raw]);
    expect(new TextDecoder().decode(payloadOf(text.message.body, text.message.headers))).toBe("héllo");
    expect(new TextDecoder().decode(payloadOf({ a: [1] }, {}))).toBe('{"a":[1]}');
    expect(new TextDecoder().decode(payloadOf("plain", {}))).toBe("plain");
  });

  it("mqtt payloads - MQTT 5 properties travel as headers and come back; message expiry counts down", () => {
    const m = toSpoolMessage({
      mqttTopic: "s/a", payload: bytes(0x61), qos: 1, retain: false,
      properties: { userProperties: [["trace", "1"], ["mqtt-topic", "spoof"]], contentType: "text/plain", responseTopic: "s/r", correlationData: bytes(1, 2), messageExpiryInterval: 10 },
    }, 1000);
    expect(m.ok && m.message.headers).toEqual({
      trace: "1", "mqtt-topic": "s/a", "content-type": "text/plain", "mqtt-response-topic": "s/r", "mqtt-correlation-data": "AQI=", "mqtt-expires-at": "11000",
    });
    if (!m.ok) return;
    const out = outgoingProperties(m.message.headers, 5000);
    expect(out).toMatchObject({ userProperties: [["trace", "1"]], contentType: "text/plain", responseTopic: "s/r", messageExpiryInterval: 6 });
    expect(outgoingProperties(m.message.headers, 11_000)).toBe("expired");
  });
});
