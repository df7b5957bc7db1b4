// mqtt.js in a real browser (headless Chromium): the library's own browser bundle, a token
// minted by the test (as a page's backend would) as the CONNECT password; the page
// subscribes with a wildcard, publishes, keeps a persistent session across a disconnect,
// and its Last Will reaches a Node client when the page goes away.
import { createRequire } from "node:module";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./browser-launch";
import { adminKey, api, unique, url } from "./helpers";
import { close, connect, mqttUrl, until } from "./mqtt-support";

const MQTT_BUNDLE = createRequire(import.meta.url).resolve("mqtt/dist/mqtt.min");
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

async function page(): Promise<Page> {
  const p = await (await browser.newContext()).newPage();
  await p.setContent("<!doctype html><title>mqtt</title>");
  await p.addScriptTag({ path: MQTT_BUNDLE });
  return p;
}

describe("mqtt.js in Chromium", () => {
  it("mqtt browser - a page with a minted token: wildcard subscribe, publish, a session across a disconnect, and its will", async () => {
    const t = unique("mqb");
    const minted = await api<{ token: string }>("POST", "/v1/tokens", { ttl: 300, capabilities: { [`topics/${t}`]: ["publish", "subscribe"] } });
    const watcher = await connect(url(), { protocolVersion: 4, clientId: unique("node"), username: "n", password: adminKey() });
    await watcher.client.subscribeAsync(`${t}/presence/#`, { qos: 1 });
    const tab = await page();
    const clientId = unique("page");
    const first = await tab.evaluate(async ({ wsUrl, token, t, clientId }) => {
      const m = (globalThis as unknown as { mqtt: typeof import("mqtt") }).mqtt;
      const client = m.connect(wsUrl, { username: "browser", password: token, protocolVersion: 5, clientId, clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 600 } });
      const got: string[] = [];
      client.on("message", (topic, payload) => got.push(`${topic}=${payload.toString()}`));
      await new Promise((resolve, reject) => { client.once("connect", resolve); client.once("error", reject); });
      await client.subscribeAsync(`${t}/room/+`, { qos: 1 });
      await client.publishAsync(`${t}/room/a`, "from the page", { qos: 1 });
      while (got.length < 1) await new Promise((r) => setTimeout(r, 20));
      await client.endAsync();
      return got;
    }, { wsUrl: mqttUrl(url()), token: minted.body.token, t, clientId });
    expect(first).toEqual([`${t}/room/a=from the page`]);

    const pub = await connect(url(), { protocolVersion: 4, clientId: unique("pub"), username: "n", password: adminKey() });
    await pub.client.publishAsync(`${t}/room/b`, "while away", { qos: 1 });
    const second = await tab.evaluate(async ({ wsUrl, token, t, clientId }) => {
      const m = (globalThis as unknown as { mqtt: typeof import("mqtt") }).mqtt;
      const client = m.connect(wsUrl, {
        username: "browser", password: token, protocolVersion: 5, clientId, clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 600 },
        will: { topic: `${t}/presence/page`, payload: "gone" as unknown as Buffer, qos: 1, retain: false },
      });
      const got: string[] = [];
      client.on("message", (topic, payload) => got.push(`${topic}=${payload.toString()}`));
      const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => { client.once("connect", resolve); client.once("error", reject); });
      while (got.length < 1) await new Promise((r) => setTimeout(r, 20));
      return { present: connack.sessionPresent, got };
    }, { wsUrl: mqttUrl(url()), token: minted.body.token, t, clientId });
    expect(second).toEqual({ present: true, got: [`${t}/room/b=while away`] });
    await tab.context().close(); // the page goes away without DISCONNECT
    await until(() => watcher.received.length === 1, "the page's will");
    expect(`${watcher.received[0]!.topic}=${watcher.received[0]!.payload.toString()}`).toBe(`${t}/presence/page=gone`);
    await close(watcher.client);
    await close(pub.client);
  });
});
