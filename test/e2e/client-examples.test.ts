/**
 * The example apps in examples/, run as their users would run them: each app is copied into
 * a scratch directory with the packed package installed (client-package.ts), and runs
 * against a real broker.
 *   - order-pipeline: a consumer group whose workers crash and are restarted; every order
 *     is charged exactly once and none is lost.
 *   - dashboard: a page in headless Chromium follows every partition of a topic across a
 *     broker restart and shows every event once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Spool } from "../../client";
import { launchChromium } from "./browser-launch";
import { installInto, packRepository, ROOT, sh } from "./client-package";
import { adminKey, unique, until, url } from "./client-support";
import { E2E_ADMIN_KEY, startServer, type LocalServer } from "./server";

let tarball = "";
beforeAll(async () => {
  tarball = await packRepository();
}, 120_000);

describe("examples", () => {
  it("example order-pipeline - workers crash and restart; every order is charged exactly once, none lost", async () => {
    const app = await installInto(tarball, { from: join(ROOT, "examples", "order-pipeline") });
    const out = await sh(process.execPath, ["pipeline.mjs"], app, {
      SPOOL_URL: url(), SPOOL_KEY: adminKey(), ORDERS: "120", WORKERS: "3", CRASH_EVERY: "15", TOPIC: unique("orders"), TIMEOUT_MS: "150000",
    });
    const result = JSON.parse(out.trim().split("\n").pop()!) as { orders: number; payments: number; ordersCharged: number; repeatsCaughtByProvider: number; crashes: number; lag: number };
    console.log(`order pipeline: ${JSON.stringify(result)}`);
    expect(result.crashes).toBeGreaterThan(0);
    expect(result.ordersCharged).toBe(120); // none lost
    expect(result.payments).toBe(120); // none charged twice
    expect(result.lag).toBe(0); // and the group acked them all
  }, 200_000);

  describe("dashboard across broker restarts", () => {
    let broker: LocalServer;
    let dashboard: ChildProcess | undefined;
    let browser: Browser | undefined;

    beforeAll(async () => {
      broker = await startServer();
    }, 90_000);

    afterAll(async () => {
      await browser?.close();
      dashboard?.kill();
      await broker?.stop();
    }, 60_000);

    it("example dashboard - a browser page follows every partition through a broker restart: every event once", async () => {
      const app = await installInto(tarball, { from: join(ROOT, "examples", "dashboard"), tools: ["esbuild"] });
      await sh(process.execPath, ["build.mjs"], app);
      dashboard = spawn(process.execPath, ["server.mjs"], {
        cwd: app, env: { ...process.env, PORT: "0", SPOOL_URL: broker.url, SPOOL_KEY: E2E_ADMIN_KEY, TOKEN_TTL: "30" }, stdio: ["ignore", "pipe", "inherit"],
      });
      const origin = await new Promise<string>((ok, fail) => {
        dashboard!.stdout!.on("data", (d: Buffer) => {
          const m = /dashboard on (http:\/\/\S+?)\/?\s/.exec(d.toString());
          if (m) ok(m[1]!);
        });
        dashboard!.once("exit", (code) => fail(new Error(`dashboard server exited (${code})`)));
      });

      const spool = new Spool({ url: broker.url, token: E2E_ADMIN_KEY });
      const name = unique("orders");
      const topic = spool.topic<{ id: number; status: string }>(name);
      await topic.configure({ partitions: 4 });
      const publish = (from: number, to: number, status: string) =>
        topic.publish(Array.from({ length: to - from }, (_, i) => ({ body: { id: from + i, status }, key: `customer-${from + i}` })));
      await publish(0, 10, "placed");

      browser = await launchChromium();
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${origin}/?${new URLSearchParams({ topic: name, api: broker.url })}`);
      const shown = async (): Promise<string[]> => page.locator("#events li").evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.key ?? ""));
      await page.waitForFunction(() => document.querySelectorAll("#events li").length === 10);
      await until(async () => (await page.locator("#status").getAttribute("data-state")) === "connected", "the page to be connected");

      await broker.stop();
      await until(async () => (await page.locator("#status").getAttribute("data-reconnects")) !== null, "the page to notice the restart", 30_000);
      broker = await startServer({ port: broker.port, persistTo: broker.persistTo });
      await publish(10, 30, "shipped"); // published as the page reconnects: none may be missed

      await page.waitForFunction(() => document.querySelectorAll("#events li").length >= 30, undefined, { timeout: 60_000 });
      await until(async () => (await page.locator("#status").getAttribute("data-state")) === "connected", "the page to be connected again", 30_000);
      const keys = await shown();
      expect(keys).toHaveLength(30);
      expect(new Set(keys).size).toBe(30); // no event shown twice
      const expected = (await Promise.all([0, 1, 2, 3].map(async (partition) => (await topic.read({ partition, limit: 1000 })).messages)))
        .flat().map((m) => `${m.partition}:${m.offset}`);
      expect([...keys].sort()).toEqual([...expected].sort()); // and none missed
      expect(await page.locator("#error").textContent()).toBe("");
      expect(errors).toEqual([]);
      await page.screenshot({ path: join(ROOT, "test-results", "example-dashboard.png") });
      await spool.close();
    }, 240_000);
  });
});
