// MQTT over WebSocket with real, unmodified mqtt.js (3.1.1 and 5) against the local server:
// publish and subscribe with wildcards, QoS, retained messages, payload mapping both ways,
// persistent sessions, takeover, Last Will and credentials.
import { describe, expect, it } from "vitest";
import { adminKey, api, unique, url } from "./helpers";
import { close, connect, dropConnection, subackCodes, until } from "./mqtt-support";

const versions = [4, 5] as const;

describe.each(versions)("mqtt.js protocol %i", (protocolVersion) => {
  const base = { protocolVersion, username: "any", password: adminKey() } as const;

  it("mqtt - publish and subscribe with + and # below the first level, in order per topic", async () => {
    const t = unique("mq");
    const sub = await connect(url(), { ...base, clientId: unique("sub") });
    await sub.client.subscribeAsync([`${t}/+/temp`, `${t}/kitchen/#`], { qos: 1 });
    const pub = await connect(url(), { ...base, clientId: unique("pub") });
    for (let i = 0; i < 20; i++) await pub.client.publishAsync(`${t}/kitchen/temp`, `k${i}`, { qos: 1 });
    await pub.client.publishAsync(`${t}/hall/temp`, "h", { qos: 0 });
    await pub.client.publishAsync(`${t}/kitchen/light/on`, "l", { qos: 1 });
    await pub.client.publishAsync(`${t}/hall/light`, "no", { qos: 1 });
    await until(() => sub.received.length >= 22, "22 deliveries");
    const kitchen = sub.received.filter((m) => m.topic === `${t}/kitchen/temp`).map((m) => m.payload.toString());
    expect(kitchen).toEqual(Array.from({ length: 20 }, (_, i) => `k${i}`)); // once each, though two filters match
    expect(sub.received.find((m) => m.topic === `${t}/hall/temp`)?.qos).toBe(0);
    expect(sub.received.find((m) => m.topic === `${t}/kitchen/light/on`)?.payload.toString()).toBe("l");
    expect(sub.received.some((m) => m.topic === `${t}/hall/light`)).toBe(false);
    await close(sub.client);
    await close(pub.client);
  });

  it("mqtt - a QoS 1 PUBACK means the message reads through /v1, key and mqtt-topic header set", async () => {
    const t = unique("mq");
    const pub = await connect(url(), { ...base, clientId: unique("pub") });
    await pub.client.publishAsync(`${t}/a/b`, "hello", { qos: 1 });
    const read = await api<{ messages: Array<{ key: string; body: unknown; headers: Record<string, string> }> }>("GET", `/v1/topics/${t}/messages`);
    expect(read.status).toBe(200);
    expect(read.body.messages[0]).toMatchObject({ key: `${t}/a/b`, body: "hello", headers: { "mqtt-topic": `${t}/a/b` } });
    // Binary payloads read as base64 with mqtt-payload: base64, and round-trip exactly to MQTT.
    const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x80]);
    const sub = await connect(url(), { ...base, clientId: unique("sub") });
    await sub.client.subscribeAsync(`${t}/#`, { qos: 1 });
    await pub.client.publishAsync(`${t}/bin`, bytes, { qos: 1 });
    const again = await api<{ messages: Array<{ body: unknown; headers: Record<string, string> }> }>("GET", `/v1/topics/${t}/messages`);
    expect(again.body.messages[1]).toMatchObject({ body: { base64: bytes.toString("base64") }, headers: { "mqtt-payload": "base64" } });
    await until(() => sub.received.length === 1, "the binary message");
    expect(Buffer.compare(sub.received[0]!.payload, bytes)).toBe(0);
    await close(sub.client);
    await close(pub.client);
  });

  it("mqtt - /v1 messages reach MQTT subscribers: JSON text, strings as UTF-8, key as topic", async () => {
    const t = unique("mq");
    const sub = await connect(url(), { ...base, clientId: unique("sub") });
    await sub.client.subscribeAsync(`${t}/#`, { qos: 1 });
    await sub.client.subscribeAsync(t, { qos: 1 });
    const sent = await api("POST", `/v1/topics/${t}/messages`, {
      messages: [{ body: { n: 1 }, key: `${t}/x` }, { body: "plain ✓" }, { body: [1, 2], key: "dev-7" }],
    });
    expect(sent.status).toBe(201);
    await until(() => sub.received.length === 3, "three /v1 messages");
    expect(sub.received.map((m) => [m.topic, m.payload.toString(), m.qos])).toEqual([
      [`${t}/x`, '{"n":1}', 1], [t, "plain ✓", 1], [`${t}/dev-7`, "[1,2]", 1],
    ]);
    await close(sub.client);
  });

  it("mqtt - retained: the newest per MQTT topic on subscribe with the retain flag; empty clears", async () => {
    const t = unique("mq");
    const pub = await connect(url(), { ...base, clientId: unique("pub") });
    await pub.client.publishAsync(`${t}/a`, "old", { qos: 1, retain: true });
    await pub.client.publishAsync(`${t}/a`, "new", { qos: 1, retain: true });
    await pub.client.publishAsync(`${t}/b`, "b", { qos: 1, retain: true });
    await pub.client.publishAsync(`${t}/c`, "c", { qos: 1, retain: true });
    await pub.client.publishAsync(`${t}/c`, "", { qos: 1, retain: true });
    const sub = await connect(url(), { ...base, clientId: unique("sub") });
    await sub.client.subscribeAsync(`${t}/+`, { qos: 1 });
    await until(() => sub.received.length >= 2, "two retained messages");
    await new Promise((r) => setTimeout(r, 200));
    expect(sub.received.map((m) => [m.topic, m.payload.toString(), m.retain]).sort()).toEqual([[`${t}/a`, "new", true], [`${t}/b`, "b", true]]);
    await close(sub.client);
    await close(pub.client);
  });

  it("mqtt - a persistent session keeps subscriptions and delivers QoS 1 published while offline", async () => {
    const t = unique("mq");
    const clientId = unique("persist");
    const persistent = protocolVersion === 5 ? { clean: true, properties: { sessionExpiryInterval: 3600 } } : { clean: false };
    const first = await connect(url(), { ...base, clientId, ...persistent });
    expect(first.connack.sessionPresent).toBe(false);
    await first.client.subscribeAsync(`${t}/#`, { qos: 1 });
    await close(first.client);
    const pub = await connect(url(), { ...base, clientId: unique("pub") });
    for (let i = 0; i < 5; i++) await pub.client.publishAsync(`${t}/x`, `m${i}`, { qos: 1 });
    const resumed = protocolVersion === 5 ? { clean: false, properties: { sessionExpiryInterval: 3600 } } : { clean: false };
    const second = await connect(url(), { ...base, clientId, ...resumed });
    expect(second.connack.sessionPresent).toBe(true);
    await until(() => second.received.length === 5, "five offline messages");
    expect(second.received.map((m) => m.payload.toString())).toEqual(["m0", "m1", "m2", "m3", "m4"]);
    await pub.client.publishAsync(`${t}/y`, "live", { qos: 1 });
    await until(() => second.received.length === 6, "the live message");
    await close(second.client);
    await close(pub.client);
  });

  it("mqtt - a second connection with the same client id takes the session over", async () => {
    const clientId = unique("take");
    const first = await connect(url(), { ...base, clientId });
    const closed = new Promise<void>((r) => first.client.once("close", () => r()));
    const second = await connect(url(), { ...base, clientId });
    await closed;
    expect(second.client.connected).toBe(true);
    await close(second.client);
    first.client.end(true);
  });

  it("mqtt - a Last Will is published when the connection drops without DISCONNECT, not after DISCONNECT", async () => {
    const t = unique("mq");
    const watcher = await connect(url(), { ...base, clientId: unique("watch") });
    await watcher.client.subscribeAsync(`${t}/status/#`, { qos: 1 });
    const polite = await connect(url(), { ...base, clientId: unique("polite"), will: { topic: `${t}/status/polite`, payload: Buffer.from("gone"), qos: 1, retain: false } });
    await close(polite.client);
    const dropped = await connect(url(), { ...base, clientId: unique("drop"), will: { topic: `${t}/status/drop`, payload: Buffer.from("lost"), qos: 1, retain: false } });
    dropConnection(dropped.client);
    await until(() => watcher.received.length === 1, "the will");
    expect(watcher.received[0]).toMatchObject({ topic: `${t}/status/drop` });
    expect(watcher.received[0]!.payload.toString()).toBe("lost");
    await close(watcher.client);
  });

  it("mqtt - credentials: a bad password is refused; a token allows only its topics", async () => {
    const bad = connect(url(), { protocolVersion, clientId: unique("bad"), username: "u", password: "nope" });
    await expect(bad).rejects.toThrow();
    const t = unique("mqtok");
    const minted = await api<{ token: string }>("POST", "/v1/tokens", { ttl: 60, capabilities: { [`topics/${t}`]: ["publish", "subscribe"] } });
    const c = await connect(url(), { protocolVersion, clientId: unique("tok"), username: "", password: minted.body.token });
    expect(await subackCodes(c.client, [`${t}/#`, "other/#"])).toEqual([1, protocolVersion === 5 ? 0x87 : 0x80]);
    if (protocolVersion === 5) {
      const refused = await c.client.publishAsync("other/x", "no", { qos: 1 }).then(() => null, (err: { code?: number }) => err.code);
      expect(refused).toBe(0x87);
    }
    await c.client.publishAsync(`${t}/ok`, "yes", { qos: 1 });
    await until(() => c.received.length === 1, "own message");
    await close(c.client);
  });

  it("mqtt - a first-level wildcard filter gets SUBACK failure 0x80", async () => {
    const c = await connect(url(), { ...base, clientId: unique("wild") });
    expect(await subackCodes(c.client, ["+/x", "#"])).toEqual([0x80, 0x80]);
    expect(await subackCodes(c.client, ["ok/x"], 2)).toEqual([1]); // QoS 2 is granted as 1
    await close(c.client);
  });
});

describe("mqtt.js protocol 5 only", () => {
  const base = { protocolVersion: 5, username: "any", password: adminKey() } as const;

  it("mqtt - Maximum Packet Size: a too-large message is never sent, the ones around it arrive in order", async () => {
    const t = unique("mq");
    const small = await connect(url(), { ...base, clientId: unique("small"), properties: { maximumPacketSize: 256 } });
    await small.client.subscribeAsync(`${t}/#`, { qos: 1 });
    const pub = await connect(url(), { ...base, clientId: unique("pub") });
    for (const body of ["a", "x".repeat(1000), "b", "y".repeat(300), "c"]) await pub.client.publishAsync(`${t}/k`, body, { qos: 1 });
    await until(() => small.received.length >= 3, "the three small messages");
    await pub.client.publishAsync(`${t}/k`, "end", { qos: 1 });
    await until(() => small.received.length >= 4, "the last message");
    expect(small.received.map((m) => m.payload.toString())).toEqual(["a", "b", "c", "end"]);
    await close(small.client);
    await close(pub.client);
  });

  it("mqtt - No Local: the publisher does not get its own messages back, another client gets them all", async () => {
    const t = unique("mq");
    const self = await connect(url(), { ...base, clientId: unique("self") });
    await self.client.subscribeAsync(`${t}/#`, { qos: 1, nl: true });
    const other = await connect(url(), { ...base, clientId: unique("other") });
    await other.client.subscribeAsync(`${t}/#`, { qos: 1 });
    for (let i = 0; i < 5; i++) await self.client.publishAsync(`${t}/x`, `own${i}`, { qos: i % 2 === 0 ? 1 : 0 });
    await other.client.publishAsync(`${t}/x`, "theirs", { qos: 1 });
    await until(() => other.received.length === 6 && self.received.length >= 1, "all deliveries");
    expect(other.received.map((m) => m.payload.toString())).toEqual(["own0", "own1", "own2", "own3", "own4", "theirs"]);
    expect(self.received.map((m) => m.payload.toString())).toEqual(["theirs"]);
    await close(self.client);
    await close(other.client);
  });
});
