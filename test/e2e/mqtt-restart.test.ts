// MQTT sessions and Last Will across a server restart, with real mqtt.js: a persistent
// session gets what was published while it was away (before and after the restart), and a
// client whose connection the restart cut gets its will published.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2E_ADMIN_KEY, startServer, type LocalServer } from "./server";
import { unique } from "./helpers";
import { close, connect, until } from "./mqtt-support";

let server: LocalServer;

beforeAll(async () => {
  server = await startServer();
}, 90_000);

afterAll(async () => {
  await server?.stop();
}, 60_000);

describe("mqtt across a server restart", () => {
  it("mqtt restart - sessions resume with what was published while away, and a cut connection's will is published", async () => {
    const t = unique("mqr");
    const auth = { username: "u", password: E2E_ADMIN_KEY };
    const reader = { ...auth, protocolVersion: 4 as const, clientId: unique("reader"), clean: false };
    const watcher = { ...auth, protocolVersion: 5 as const, clientId: unique("watcher"), clean: false, properties: { sessionExpiryInterval: 3600 } };

    const r1 = await connect(server.url, reader);
    await r1.client.subscribeAsync(`${t}/data/#`, { qos: 1 });
    await close(r1.client);
    const w1 = await connect(server.url, watcher);
    await w1.client.subscribeAsync(`${t}/status/+`, { qos: 1 });
    await close(w1.client);

    const device = await connect(server.url, {
      ...auth, protocolVersion: 5, clientId: unique("device"), keepalive: 2,
      will: { topic: `${t}/status/device`, payload: Buffer.from("offline"), qos: 1, retain: true },
    });
    const pub = await connect(server.url, { ...auth, protocolVersion: 4, clientId: unique("pub") });
    await pub.client.publishAsync(`${t}/data/a`, "before-1", { qos: 1 });
    await pub.client.publishAsync(`${t}/data/b`, "before-2", { qos: 1 });
    pub.client.end(true);

    await server.stop();
    device.client.end(true); // its socket is already gone with the server; no DISCONNECT was ever sent
    server = await startServer({ port: server.port, persistTo: server.persistTo });

    const pub2 = await connect(server.url, { ...auth, protocolVersion: 4, clientId: unique("pub") });
    await pub2.client.publishAsync(`${t}/data/a`, "after-1", { qos: 1 });

    const r2 = await connect(server.url, reader);
    expect(r2.connack.sessionPresent).toBe(true);
    await until(() => r2.received.length === 3, "three messages published while away");
    expect(r2.received.map((m) => m.payload.toString())).toEqual(["before-1", "before-2", "after-1"]);

    // The device's connection object notices (alarm) that its socket is gone and publishes the will.
    const w2 = await connect(server.url, watcher);
    expect(w2.connack.sessionPresent).toBe(true);
    await until(() => w2.received.length >= 1, "the device's will", 20_000);
    expect(w2.received[0]!.topic).toBe(`${t}/status/device`);
    expect(w2.received[0]!.payload.toString()).toBe("offline");
    // Retained too: a new subscriber sees it.
    const late = await connect(server.url, { ...auth, protocolVersion: 4, clientId: unique("late") });
    await late.client.subscribeAsync(`${t}/status/#`, { qos: 1 });
    await until(() => late.received.length === 1, "the retained will");
    expect(late.received[0]!.retain).toBe(true);
    for (const c of [r2.client, w2.client, late.client, pub2.client]) await close(c);
  }, 120_000);
});
