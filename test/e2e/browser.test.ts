// The client in a real browser (headless Chromium): a page on another origin gets a token
// from its backend, subscribes to a topic (WebSocket, and SSE in a second tab) and shows
// what Node publishes; another tab consumes a queue. Screenshots go to test-results/.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./browser-launch";
import { startPageServer, type PageServer } from "./browser/server";
import { adminClient, adminKey, unique, until, url } from "./client-support";

const ARTEFACTS = resolve(import.meta.dirname, "../../test-results");
const spool = adminClient();
let browser: Browser;
let pages: PageServer;

beforeAll(async () => {
  mkdirSync(ARTEFACTS, { recursive: true });
  pages = await startPageServer(url(), adminKey());
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await pages?.close();
  await spool.close();
});

async function open(query: Record<string, string>): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 720, height: 480 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${pages.origin}/?${new URLSearchParams({ api: url(), ...query })}`);
  return { page, errors };
}

const shown = (page: Page): Promise<string[]> => page.locator("#messages li").allTextContents();

describe("client in a real browser", () => {
  it("browser - a page on another origin subscribes with a token and shows what Node publishes (WebSocket and SSE tabs)", async () => {
    const name = unique("chat");
    const topic = spool.topic<{ text: string }>(name);
    await topic.publish({ body: { text: "before the page" } });
    const ws = await open({ mode: "subscribe", name, transport: "websocket" });
    const sse = await open({ mode: "subscribe", name, transport: "sse" });
    for (const tab of [ws, sse]) await tab.page.waitForFunction(() => document.querySelectorAll("#messages li").length === 1);
    for (const text of ["hello from node", "second", "third"]) await topic.publish({ body: { text } });
    const expected = ["0: before the page", "1: hello from node", "2: second", "3: third"];
    for (const tab of [ws, sse]) {
      await tab.page.waitForFunction((n) => document.querySelectorAll("#messages li").length >= n, expected.length);
      expect(await shown(tab.page)).toEqual(expected);
      expect(await tab.page.locator("#status").getAttribute("data-state")).toBe("connected");
      expect(await tab.page.locator("#error").textContent()).toBe("");
      expect(tab.errors).toEqual([]);
    }
    expect(await ws.page.locator("#status").textContent()).toBe("connected (websocket)");
    expect(await sse.page.locator("#status").textContent()).toBe("connected (sse)");
    expect(pages.minted).toBeGreaterThanOrEqual(2); // the pages used minted tokens, never the admin key
    await ws.page.screenshot({ path: join(ARTEFACTS, "browser-subscribe.png") });
    await ws.page.context().close();
    await sse.page.context().close();
  });

  it("browser - another tab consumes a queue: each message shown once and acked", async () => {
    const name = unique("jobs");
    const queue = spool.queue<{ text: string }>(name);
    await queue.configure();
    const tab = await open({ mode: "consume", name });
    await tab.page.waitForFunction(() => document.getElementById("status")?.dataset.state === "connected");
    const sent = await queue.send(["resize", "encode", "notify"].map((text) => ({ body: { text } })));
    await tab.page.waitForFunction(() => document.querySelectorAll("#messages li").length >= 3);
    expect((await shown(tab.page)).sort()).toEqual(sent.map((s, i) => `${s.id} ${["resize", "encode", "notify"][i]}`).sort());
    await until(async () => (await queue.info()).stats.messages === 0, "the page's acks");
    expect((await queue.info()).stats).toMatchObject({ acked: 3, consumers: 1 });
    expect(tab.errors).toEqual([]);
    await tab.page.screenshot({ path: join(ARTEFACTS, "browser-consume.png") });
    await tab.page.context().close();
  });
});
