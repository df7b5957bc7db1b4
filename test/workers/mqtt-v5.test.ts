// MQTT 5.0 features and how Spool refuses the ones it does not offer, with a raw client inside
// workerd: the client's Maximum Packet Size on what the server sends (§3.1.2.11.4), No Local
// (§3.8.3.1), shared subscriptions and subscription identifiers (§4.8.2, §3.8.2.1.2),
// enhanced authentication (§3.1.4, §4.12) and CONNECT values that are Protocol Errors.
import { describe, expect, it } from "vitest";
import { ReasonCodes } from "../../durable-objects/mqtt/reasons";
import { callJson, uniqueName } from "./helpers";
import { authPacket, publishPacket, pubackPacket, RawMqtt, settled, subscribePacket, T, type ServerPacket } from "./mqtt-helpers";

const text = (b?: Uint8Array) => new TextDecoder().decode(b);
const publishes = (c: RawMqtt): ServerPacket[] => c.packets.filter((p) => p.type === T.PUBLISH);

describe("mqtt 5", () => {
  it("mqtt 5 - a PUBLISH over the client's Maximum Packet Size is skipped as if sent; the ones around it come in order", async () => {
    const t = uniqueName("mq");
    // Receive Maximum 1: the QoS 1 before the large one holds it back until PUBACK, so the large
    // one is reached with room, discarded, and must not stay in flight (the one after it follows).
    const { c, connack } = await RawMqtt.connect({ version: 5, clientId: uniqueName("small"), properties: { maximumPacketSize: 200, receiveMaximum: 1 } });
    expect(connack.code).toBe(0);
    c.send(subscribePacket([`${t}/#`], 1, 1, 5));
    await c.next((p) => p.type === T.SUBACK);
    const big = "x".repeat(300);
    await callJson("POST", `/v1/topics/${t}/messages`, {
      body: { messages: ["s1", big, "s2", big, "s3"].map((body) => ({ body, key: `${t}/a` })) },
    });
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const d = await c.next((p) => p.type === T.PUBLISH);
      expect(d.size).toBeLessThanOrEqual(200);
      got.push(text(d.payload));
      c.send(pubackPacket(d.packetId!));
    }
    expect(got).toEqual(["s1", "s2", "s3"]);
    // QoS 0 from an MQTT publisher takes the same rule.
    const { c: pub } = await RawMqtt.connect({ version: 5, clientId: uniqueName("pub") });
    pub.send(publishPacket(`${t}/b`, big, 0, 1, 5));
    pub.send(publishPacket(`${t}/b`, "q0", 0, 1, 5));
    expect(text((await c.next((p) => p.type === T.PUBLISH)).payload)).toBe("q0");
    await settled(c);
    expect(publishes(c)).toEqual([]);
    c.close();
    pub.close();
  });

  it("mqtt 5 - a Reason String that would exceed the Maximum Packet Size is left out of DISCONNECT", async () => {
    // Spool's CONNACK here is 24 bytes; DISCONNECT 0x82 with its reason string 28: 26 lets only the first and a bare DISCONNECT through.
    const { c, connack } = await RawMqtt.connect({ version: 5, clientId: uniqueName("tiny"), properties: { maximumPacketSize: 26 } });
    expect(connack.code).toBe(0);
    c.send(authPacket({ authenticationMethod: "SCRAM-SHA-1" }));
    const disconnect = await c.next((p) => p.type === T.DISCONNECT);
    expect(disconnect.code).toBe(ReasonCodes.PROTOCOL_ERROR);
    expect(disconnect.properties?.reasonString).toBeUndefined();
    expect(disconnect.size).toBeLessThanOrEqual(26);
    await c.waitClosed();
  });

  it("mqtt 5 - No Local: the publisher's No Local subscription gets nothing of its own, another client everything", async () => {
    const t = uniqueName("mq");
    const { c: self } = await RawMqtt.connect({ version: 5, clientId: uniqueName("self") });
    self.send(subscribePacket([`${t}/#`], 1, 1, 5, { noLocal: true }));
    self.send(subscribePacket([`${t}/mine`], 1, 2, 5)); // an overlapping subscription without No Local still delivers
    const { c: other } = await RawMqtt.connect({ version: 5, clientId: uniqueName("other") });
    other.send(subscribePacket([`${t}/#`], 1, 1, 5));
    await Promise.all([self.next((p) => p.type === T.SUBACK), self.next((p) => p.type === T.SUBACK), other.next((p) => p.type === T.SUBACK)]);
    self.send(publishPacket(`${t}/x`, "own-0", 0, 1, 5));
    for (let i = 1; i <= 3; i++) self.send(publishPacket(`${t}/x`, `own-${i}`, 1, i, 5));
    for (let i = 1; i <= 3; i++) await self.next((p) => p.type === T.PUBACK && p.packetId === i);
    self.send(publishPacket(`${t}/mine`, "mine", 1, 4, 5));
    await self.next((p) => p.type === T.PUBACK && p.packetId === 4);
    other.send(publishPacket(`${t}/x`, "theirs", 1, 1, 5));
    await other.next((p) => p.type === T.PUBACK);

    // The same MQTT topic is one partition in order: once "theirs" arrives, every own-* was passed.
    const theirs = await self.next((p) => p.type === T.PUBLISH && text(p.payload) === "theirs");
    expect(theirs.topic).toBe(`${t}/x`);
    const mine = await self.next((p) => p.type === T.PUBLISH);
    expect([mine.topic, text(mine.payload)]).toEqual([`${t}/mine`, "mine"]);
    await settled(self);
    expect(publishes(self)).toEqual([]);

    const all: string[] = [];
    for (let i = 0; i < 6; i++) all.push(text((await other.next((p) => p.type === T.PUBLISH)).payload));
    expect(all.sort()).toEqual(["mine", "own-0", "own-1", "own-2", "own-3", "theirs"]);
    self.close();
    other.close();
  });

  it("mqtt 5 - CONNACK advertises what is true; shared subscriptions get SUBACK 0x9E (3.1.1: 0x80)", async () => {
    const t = uniqueName("mq");
    const { c, connack } = await RawMqtt.connect({ version: 5, clientId: uniqueName("caps") });
    expect(connack.properties).toMatchObject({ sharedSubscriptionAvailable: 0, subscriptionIdentifierAvailable: 1, wildcardSubscriptionAvailable: 1 });
    c.send(subscribePacket([`$share/g/${t}/#`, `${t}/#`], 1, 1, 5));
    expect((await c.next((p) => p.type === T.SUBACK)).codes).toEqual([ReasonCodes.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED, 1]);
    c.close();
    const { c: v4 } = await RawMqtt.connect({ clientId: uniqueName("caps4") });
    v4.send(subscribePacket([`$share/g/${t}/#`]));
    expect((await v4.next((p) => p.type === T.SUBACK)).codes).toEqual([0x80]);
    v4.close();
  });

  it("mqtt 5 - a Subscription Identifier comes back on deliveries; 0, two of them, or one on a PUBLISH is a Protocol Error", async () => {
    const t = uniqueName("mq");
    const { c } = await RawMqtt.connect({ version: 5, clientId: uniqueName("sid") });
    c.send(subscribePacket([`${t}/#`], 0, 1, 5, { properties: { subscriptionIdentifiers: [7] } }));
    await c.next((p) => p.type === T.SUBACK);
    c.send(publishPacket(`${t}/a`, "hi", 0, 1, 5));
    expect((await c.next((p) => p.type === T.PUBLISH)).properties?.subscriptionIdentifiers).toEqual([7]);
    c.close();

    const bad: Array<[string, (t: string) => Uint8Array]> = [
      ["id 0", (x) => subscribePacket([`${x}/#`], 1, 1, 5, { properties: { subscriptionIdentifiers: [0] } })],
      ["two ids", (x) => subscribePacket([`${x}/#`], 1, 1, 5, { properties: { subscriptionIdentifiers: [1, 2] } })],
      ["No Local on a share", (x) => subscribePacket([`$share/g/${x}/#`], 1, 1, 5, { noLocal: true })],
      ["id on PUBLISH", (x) => publishPacket(`${x}/a`, "p", 0, 1, 5, false, { subscriptionIdentifiers: [3] })],
    ];
    for (const [what, packet] of bad) {
      const { c: v } = await RawMqtt.connect({ version: 5, clientId: uniqueName("sidbad") });
      v.send(packet(t));
      expect([what, (await v.next((p) => p.type === T.DISCONNECT)).code]).toEqual([what, ReasonCodes.PROTOCOL_ERROR]);
      await v.waitClosed();
    }
  });

  it("mqtt 5 - enhanced authentication is refused: CONNACK 0x8C for an Authentication Method, DISCONNECT 0x82 for AUTH", async () => {
    const { c, connack } = await RawMqtt.connect({ version: 5, clientId: uniqueName("scram"), properties: { authenticationMethod: "SCRAM-SHA-1", authenticationData: new Uint8Array([1, 2]) } });
    expect(connack.code).toBe(ReasonCodes.BAD_AUTHENTICATION_METHOD);
    await c.waitClosed();

    const { c: v5 } = await RawMqtt.connect({ version: 5, clientId: uniqueName("auth") });
    v5.send(authPacket({ authenticationMethod: "SCRAM-SHA-1" }));
    const disconnect = await v5.next((p) => p.type === T.DISCONNECT);
    expect(disconnect.code).toBe(ReasonCodes.PROTOCOL_ERROR);
    expect(disconnect.properties?.reasonString).toBe("AUTH is not supported");
    await v5.waitClosed();

    // 3.1.1 has no packet type 15: the connection just closes.
    const { c: v4 } = await RawMqtt.connect({ clientId: uniqueName("auth4") });
    v4.send(new Uint8Array([0xf0, 0x00]));
    await v4.waitClosed();
    expect(v4.packets.filter((p) => p.type === T.DISCONNECT)).toEqual([]);
  });

  it("mqtt 5 - CONNECT values the spec calls a Protocol Error get CONNACK 0x82 and the socket closes", async () => {
    const cases = [
      { maximumPacketSize: 0 }, { receiveMaximum: 0 }, { requestProblemInformation: 2 }, { requestResponseInformation: 2 },
      { authenticationData: new Uint8Array([1]) },
    ];
    for (const properties of cases) {
      const { c, connack } = await RawMqtt.connect({ version: 5, clientId: uniqueName("perr"), properties });
      expect([properties, connack.code]).toEqual([properties, ReasonCodes.PROTOCOL_ERROR]);
      await c.waitClosed();
    }
  });
});
