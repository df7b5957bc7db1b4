// MQTT protocol behaviour a library would hide, with a raw client inside workerd: QoS 1
// resend with DUP and the same packet id on reconnect, keepalive expiry at 1.5x with the
// Last Will (alarm fired, clock moved), refused credentials, and bad input ending the
// connection the way the spec says.
import { env } from "cloudflare:workers";
import { listDurableObjectIds, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { advanceClock } from "../../durable-objects/shared/clock";
import { ReasonCodes } from "../../durable-objects/mqtt/reasons";
import { callJson, uniqueName } from "./helpers";
import { DISCONNECT, PINGREQ, publishPacket, pubackPacket, RawMqtt, subscribePacket, T } from "./mqtt-helpers";

const text = (b?: Uint8Array) => new TextDecoder().decode(b);

/** Connection objects that exist now (the new one is the one not in `before`). */
async function connectionIds(): Promise<Set<string>> {
  return new Set((await listDurableObjectIds(env.MQTT_CONNECTIONS)).map((id) => id.toString()));
}

describe("mqtt protocol", () => {
  it("mqtt protocol - an unacknowledged QoS 1 delivery is resent with DUP and the same packet id on reconnect", async () => {
    const t = uniqueName("mq");
    const clientId = uniqueName("dup");
    const { c: first } = await RawMqtt.connect({ clientId, clean: false });
    first.send(subscribePacket([`${t}/#`], 1));
    expect((await first.next((p) => p.type === T.SUBACK)).codes).toEqual([1]);
    await callJson("POST", `/v1/topics/${t}/messages`, { body: { messages: [{ body: "one", key: `${t}/a` }, { body: "two", key: `${t}/a` }] } });
    const d1 = await first.next((p) => p.type === T.PUBLISH);
    const d2 = await first.next((p) => p.type === T.PUBLISH);
    expect([text(d1.payload), text(d2.payload)]).toEqual(["one", "two"]);
    first.send(pubackPacket(d1.packetId!)); // "two" stays unacknowledged
    first.send(PINGREQ);
    await first.next((p) => p.type === T.PINGRESP);
    first.close();

    const { c: second, connack } = await RawMqtt.connect({ clientId, clean: false });
    expect(connack).toMatchObject({ code: 0, sessionPresent: true });
    const resent = await second.next((p) => p.type === T.PUBLISH);
    expect(resent).toMatchObject({ packetId: d2.packetId, topic: `${t}/a` });
    expect(resent.flags & 0x08).toBe(0x08); // DUP
    expect(text(resent.payload)).toBe("two");
    second.send(pubackPacket(resent.packetId!));
    second.send(DISCONNECT);
    await second.waitClosed();
  });

  it("mqtt protocol - keepalive expiry at 1.5x ends the connection and publishes the will", async () => {
    const t = uniqueName("mq");
    const { c: watcher } = await RawMqtt.connect({ clientId: uniqueName("w") });
    watcher.send(subscribePacket([`${t}/status`], 1));
    await watcher.next((p) => p.type === T.SUBACK);
    const before = await connectionIds();
    const { c: device } = await RawMqtt.connect({ version: 5, clientId: uniqueName("dev"), keepalive: 10, will: { topic: `${t}/status`, payload: "offline", qos: 1 } });
    const id = [...(await connectionIds())].find((x) => !before.has(x))!;
    const stub = env.MQTT_CONNECTIONS.get(env.MQTT_CONNECTIONS.idFromString(id));
    advanceClock(10_000); // within 1.5 x 10 s: still alive
    await runDurableObjectAlarm(stub);
    expect(device.closed).toBeNull();
    advanceClock(6_000);
    await runDurableObjectAlarm(stub);
    const disconnect = await device.next((p) => p.type === T.DISCONNECT);
    expect(disconnect.code).toBe(ReasonCodes.KEEP_ALIVE_TIMEOUT);
    const will = await watcher.next((p) => p.type === T.PUBLISH);
    expect([will.topic, text(will.payload)]).toEqual([`${t}/status`, "offline"]);
    watcher.close();
  });

  it("mqtt protocol - a bad password gets CONNACK 5 (3.1.1) or 0x87 (5) and the socket closes", async () => {
    for (const version of [4, 5] as const) {
      const { c, connack } = await RawMqtt.connect({ version, clientId: uniqueName("bad"), password: "wrong" });
      expect(connack.code).toBe(version === 5 ? 0x87 : 5);
      await c.waitClosed();
    }
    const { connack } = await RawMqtt.connect({ clientId: uniqueName("none"), password: null });
    expect(connack.code).toBe(5);
  });

  it("mqtt protocol - an empty client id is assigned one on a clean 5.0 session, refused on a 3.1.1 persistent one", async () => {
    const { c, connack } = await RawMqtt.connect({ version: 5, clientId: "" });
    expect(connack.code).toBe(0);
    expect(connack.properties?.assignedClientIdentifier).toMatch(/^spool-/);
    c.close();
    const refused = await RawMqtt.connect({ clientId: "", clean: false });
    expect(refused.connack.code).toBe(2);
  });

  it("mqtt protocol - bad input ends the connection: malformed (5.0 DISCONNECT 0x81), text frames, oversized, wrong first packet", async () => {
    const { c: v5 } = await RawMqtt.connect({ version: 5, clientId: uniqueName("m5") });
    v5.send(new Uint8Array([0x30, 0x03, 0x00, 0x01, 0x00])); // U+0000 in a topic name
    expect((await v5.next((p) => p.type === T.DISCONNECT)).code).toBe(ReasonCodes.MALFORMED_PACKET);
    await v5.waitClosed();

    const { c: textFrame } = await RawMqtt.connect({ clientId: uniqueName("txt") });
    textFrame.ws.send("hello");
    await textFrame.waitClosed();

    const { c: big } = await RawMqtt.connect({ version: 5, clientId: uniqueName("big") });
    big.send(new Uint8Array([0x30, 0xff, 0xff, 0xff, 0x7f]));
    expect((await big.next((p) => p.type === T.DISCONNECT)).code).toBe(ReasonCodes.PACKET_TOO_LARGE);

    const noConnect = await RawMqtt.open();
    noConnect.send(publishPacket("a/b", "x"));
    await noConnect.waitClosed();
    // The server is fine afterwards.
    const { connack } = await RawMqtt.connect({ clientId: uniqueName("ok") });
    expect(connack.code).toBe(0);
  });

  it("mqtt protocol - a packet split over frames and several packets in one frame both work", async () => {
    const t = uniqueName("mq");
    const { c } = await RawMqtt.connect({ clientId: uniqueName("split") });
    c.send(subscribePacket([`${t}/x`], 1));
    await c.next((p) => p.type === T.SUBACK);
    const a = publishPacket(`${t}/x`, "a", 1, 1);
    const b = publishPacket(`${t}/x`, "b", 1, 2);
    const all = new Uint8Array([...a, ...b]);
    c.send(all.subarray(0, 3));
    c.send(all.subarray(3));
    const acks = [await c.next((p) => p.type === T.PUBACK), await c.next((p) => p.type === T.PUBACK)];
    expect(acks.map((p) => p.packetId)).toEqual([1, 2]);
    const got = [await c.next((p) => p.type === T.PUBLISH), await c.next((p) => p.type === T.PUBLISH)];
    expect(got.map((p) => text(p.payload))).toEqual(["a", "b"]);
    c.close();
  });
});
