// The web console (/console) in a real headless Chromium against the local server: sign in
// with a token minted through the console's own form, watch a queue's numbers change after
// a send, peek, redrive a dead letter, tail a topic live through dropped connections, and refuse
// the views a token does not cover. Screenshots of each page in light and dark go to
// test-results/console/ (README's come from there). Nothing the page requests may leave
// its origin.
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { Browser, BrowserContext, Page, WebSocketRoute } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./browser-launch";
import { adminClient, adminKey, unique, until, url } from "./client-support";

const ROOT = resolve(import.meta.dirname, "../..");
const ARTEFACTS = join(ROOT, "test-results/console");
const spool = adminClient();
let browser: Browser;

beforeAll(async () => {
  mkdirSync(ARTEFACTS, { recursive: true });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await spool.close();
});

interface Tab {
  page: Page;
  context: BrowserContext;
  /** Every URL the page requested (documents, scripts, fetches, sockets). */
  requests: string[];
  errors: string[];
}

async function openConsole(viewport = { width: 1280, height: 800 }): Promise<Tab> {
  const context = await browser.newContext({ viewport, colorScheme: "light" });
  const page = await context.newPage();
  const tab: Tab = { page, context, requests: [], errors: [] };
  page.on("request", (r) => tab.requests.push(r.url()));
  page.on("websocket", (ws) => tab.requests.push(ws.url()));
  page.on("pageerror", (e) => tab.errors.push(e.message));
  await page.goto(`${url()}/console`);
  await page.locator("#credential").waitFor();
  return tab;
}

/** Signs in with the keyboard only: type, Enter. */
async function signIn(tab: Tab, credential: string): Promise<void> {
  await tab.page.locator("#credential").focus();
  await tab.page.keyboard.type(credential);
  await tab.page.keyboard.press("Enter");
  await tab.page.getByTestId("who").waitFor();
}

/** The page in light and dark (the system preference the page follows), at its current size. */
async function screenshots(tab: Tab, name: string): Promise<void> {
  for (const scheme of ["light", "dark"] as const) {
    await tab.page.emulateMedia({ colorScheme: scheme });
    await tab.page.screenshot({ path: join(ARTEFACTS, `${name}-${scheme}.png`) });
  }
  await tab.page.emulateMedia({ colorScheme: "light" });
}

/** The tail's state and its sentence, e.g. "connected: Live: connected (websocket) on 2 partitions." */
async function tailState(page: Page): Promise<string> {
  const el = page.getByTestId("tail-state");
  return `${await el.getAttribute("data-state")}: ${await el.textContent()}`;
}

function fact(page: Page, name: string) {
  return page.locator(`[data-fact="${name}"] dd`);
}

/** Every request stayed on the server's origin (http and ws alike). */
function expectSameOrigin(tab: Tab): void {
  const origin = new URL(url());
  const foreign = tab.requests.filter((r) => !r.startsWith("data:") && new URL(r).host !== origin.host);
  expect(foreign).toEqual([]);
  expect(tab.errors).toEqual([]);
}

describe("console", () => {
  it("console - GET /console needs no credential, keeps every request on its origin, and asks for a credential", async () => {
    const res = await fetch(`${url()}/console`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.headers.get("content-security-policy")).toContain("connect-src 'self'");
    const html = await res.text();
    expect(html).not.toMatch(/https?:\/\//); // no CDN, no external font
    const tab = await openConsole();
    expect(await tab.page.locator("h1").textContent()).toBe("Sign in to Spool");
    await tab.page.locator("#credential").fill("not-a-credential");
    await tab.page.keyboard.press("Enter");
    await expect.poll(() => tab.page.getByTestId("signin-status").textContent()).toContain("refused");
    await tab.page.locator("#credential").fill("");
    await screenshots(tab, "signin");
    // The header's switch overrides the system's choice, and says which way it goes.
    await tab.page.locator("#theme").click();
    expect(await tab.page.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
    expect(await tab.page.locator("#theme").textContent()).toBe("Light theme");
    await tab.page.locator("#theme").click();
    expect(await tab.page.evaluate(() => document.documentElement.dataset.theme)).toBe("light");
    expectSameOrigin(tab);
    await tab.context.close();
  });

  it("console - a token minted with the Tokens form signs in: queue numbers change after a send, peek shows it, uncovered views say so", async () => {
    const prefix = unique("con");
    const queueName = `${prefix}-jobs`;
    const queue = spool.queue(queueName);
    await queue.configure();
    const admin = await openConsole();
    await signIn(admin, adminKey());
    await admin.page.goto(`${url()}/console#/tokens`);
    await admin.page.getByRole("heading", { name: "Tokens" }).waitFor();
    // One capability row is there; fill it and add one for topics.
    const rows = admin.page.locator(".cap-row");
    await rows.nth(0).locator("input[type=text]").fill("*");
    await rows.nth(0).locator("input[value=manage]").check();
    await admin.page.getByRole("button", { name: "Add a capability" }).click();
    await rows.nth(1).locator("input[type=text]").fill(`${prefix}-*`);
    for (const action of ["manage", "publish", "subscribe"]) await rows.nth(1).locator(`input[value=${action}]`).check();
    await admin.page.getByRole("button", { name: "Mint token" }).click();
    const token = await admin.page.getByTestId("minted-token").inputValue();
    expect(token.split(".")).toHaveLength(3);
    await screenshots(admin, "tokens");
    await admin.context.close();

    const tab = await openConsole();
    await signIn(tab, token);
    expect(await tab.page.getByTestId("who").textContent()).toContain("token");
    // Overview: queues listed (manage on queues/*), topics refused (no manage on topics/*).
    await tab.page.locator("#search").fill(prefix);
    await tab.page.getByRole("link", { name: queueName }).waitFor();
    await expect.poll(() => tab.page.getByTestId("topics").textContent()).toContain("Listing topics needs “manage” on topics/*");

    await tab.page.getByRole("link", { name: queueName }).click();
    await expect.poll(() => fact(tab.page, "visible").textContent()).toBe("0");
    await queue.send([{ body: { n: 1 } }, { body: { n: 2 } }]);
    await expect.poll(() => fact(tab.page, "visible").textContent(), { timeout: 15_000 }).toBe("2");
    // Send from the page.
    await tab.page.getByTestId("send-form").locator("textarea[name=body]").fill('{"n": 3, "tags": ["a", "b"]}');
    await tab.page.getByTestId("send-form").getByRole("button", { name: "Send" }).click();
    await expect.poll(() => tab.page.getByTestId("send-status").textContent()).toMatch(/^Sent /);
    await expect.poll(() => fact(tab.page, "visible").textContent(), { timeout: 15_000 }).toBe("3");
    await expect.poll(() => fact(tab.page, "sent").textContent()).toBe("3");
    // Peek: three messages in send order, bodies pretty-printed, state and attempts shown.
    await tab.page.getByTestId("peek").click();
    const peekRows = tab.page.getByTestId("peek-table").locator("tbody tr");
    await expect.poll(() => peekRows.count()).toBe(3);
    expect(await peekRows.nth(2).locator("pre.body").textContent()).toBe('{\n  "n": 3,\n  "tags": [\n    "a",\n    "b"\n  ]\n}');
    expect(await peekRows.nth(0).locator(".state").textContent()).toBe("visible");
    expect((await queue.peek({ limit: 10 })).map((m) => m.body)).toEqual([{ n: 1 }, { n: 2 }, { n: 3, tags: ["a", "b"] }]);

    // A topic the token does not cover: the view says so instead of failing.
    await tab.page.goto(`${url()}/console#/topics/elsewhere-${prefix}`);
    await expect.poll(() => tab.page.getByTestId("partitions").textContent()).toContain("Not allowed with this credential");
    await expect.poll(() => tab.page.getByTestId("partitions").textContent()).toContain(`lacks 'manage' on topics/elsewhere-${prefix}`);
    // Minting tokens is for the admin key only.
    await tab.page.getByRole("link", { name: "Tokens" }).click();
    await expect.poll(() => tab.page.locator("main").textContent()).toContain("Only the admin key may mint tokens");
    expectSameOrigin(tab);
    await tab.context.close();
  });

  it("console - a dead letter is redriven from the dead-letter queue's page after confirming; purge asks first", async () => {
    const name = unique("con-dlq");
    const queue = spool.queue(name);
    await queue.configure({ maxReceives: 1 });
    await queue.send({ body: { poison: true } });
    const [m] = await queue.receive();
    await queue.nack(m!); // the last allowed delivery: straight to the dead-letter queue
    await until(async () => (await spool.queue(`${name}.dlq`).info()).stats.visible === 1, "the dead letter");

    const tab = await openConsole();
    await signIn(tab, adminKey());
    await tab.page.goto(`${url()}/console#/queues/${name}`);
    await expect.poll(() => fact(tab.page, "dead-lettered").textContent()).toBe("1");
    await screenshots(tab, "queue");
    await tab.page.getByTestId("dlq-link").click();
    await expect.poll(() => tab.page.locator("h1").textContent()).toBe(`Queue ${name}.dlq`);
    await expect.poll(() => fact(tab.page, "visible").textContent()).toBe("1");
    // Purge, then cancel: nothing happens.
    await tab.page.getByTestId("purge").click();
    await tab.page.getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => tab.page.getByTestId("purge-status").textContent()).toBe("Cancelled.");
    // Redrive, confirmed with the keyboard.
    await tab.page.getByTestId("redrive").click();
    await tab.page.getByTestId("confirm-yes").focus();
    await tab.page.keyboard.press("Enter");
    await expect.poll(() => tab.page.getByTestId("redrive-status").textContent()).toBe("Moved 1 message.");
    await until(async () => (await queue.info()).stats.visible === 1, "the message back in its queue");
    expect((await queue.peek({ limit: 10 })).map((x) => [x.body, x.attempts])).toEqual([[{ poison: true }, 0]]);
    expectSameOrigin(tab);
    await tab.context.close();
  });

  it("console - the live tail shows what the test publishes, on every partition, and keeps going after its connections drop", async () => {
    const name = unique("con-tail");
    const topic = spool.topic(name);
    await topic.configure({ partitions: 2 });
    await topic.publish([{ body: { before: true }, key: "k0" }]);
    await spool.topic(name).group("workers").poll({ max: 1 });
    const tab = await openConsole();
    // The page's stream sockets pass through the test, which can drop them as a network would.
    const sockets: WebSocketRoute[] = [];
    await tab.page.routeWebSocket(/\/v1\/topics\/[^/]+\/subscribe/, (ws) => {
      sockets.push(ws);
      ws.connectToServer();
    });
    await signIn(tab, adminKey());
    await tab.page.goto(`${url()}/console#/topics/${name}`);
    await tab.page.getByTestId("partition-table").waitFor();
    await tab.page.getByTestId("tail-toggle").click();
    await expect.poll(() => tailState(tab.page), { timeout: 15_000 }).toMatch(/^connected:/);
    expect(sockets).toHaveLength(2); // one per partition, opened with a minted token, never the admin key
    expect(sockets.map((ws) => new URL(ws.url()).searchParams.get("token")?.split("."))).toEqual([expect.any(Array), expect.any(Array)]);
    expect(sockets.some((ws) => ws.url().includes(adminKey()))).toBe(false);
    await topic.publish([{ body: { text: "hello" }, key: "a" }, { body: { text: "world" }, key: "b" }]);
    const items = tab.page.getByTestId("tail").locator("li");
    await expect.poll(() => items.count(), { timeout: 15_000 }).toBe(2);
    expect((await items.locator("pre").allTextContents()).sort()).toEqual(['{\n  "text": "hello"\n}', '{\n  "text": "world"\n}']);
    // Groups show a bar per partition.
    await expect.poll(() => tab.page.locator('[data-group="workers"] .bar').count()).toBe(2);
    await screenshots(tab, "topic");

    // Both connections drop: the SDK reconnects and resumes where it was, no gap and no duplicate.
    await tab.page.evaluate(() => {
      const el = document.querySelector<HTMLElement>("[data-testid=tail-state]")!;
      const seen: string[] = [];
      (window as unknown as { tailStates: string[] }).tailStates = seen;
      new MutationObserver(() => seen.push(el.dataset.state ?? "")).observe(el, { attributes: true, attributeFilter: ["data-state"] });
    });
    for (const ws of sockets.splice(0)) await ws.close({ code: 1012, reason: "the test drops the connection" });
    await topic.publish([{ body: { text: "while away" }, key: "a" }]);
    await expect.poll(() => items.count(), { timeout: 30_000 }).toBe(3);
    await expect.poll(() => tailState(tab.page), { timeout: 15_000 }).toMatch(/^connected:/);
    expect(sockets.length).toBeGreaterThanOrEqual(2); // reopened
    expect(await tab.page.evaluate(() => (window as unknown as { tailStates: string[] }).tailStates)).toContain("reconnecting");
    await topic.publish([{ body: { text: "after" }, key: "b" }]);
    await expect.poll(() => items.count(), { timeout: 15_000 }).toBe(4);
    const offsets = await items.evaluateAll((els) => els.map((el) => `${el.getAttribute("data-partition")}:${el.getAttribute("data-offset")}`));
    expect(new Set(offsets).size).toBe(4);
    expectSameOrigin(tab);
    await tab.context.close();
  });

  it("console - overview at 1280×800 and at phone width: figures, rates, no sideways scrolling of the page", async () => {
    const name = unique("con-view");
    await spool.queue(name).send([{ body: 1 }, { body: 2 }]);
    await spool.topic(name).publish([{ body: 1 }]);
    for (const [label, viewport] of [["overview", { width: 1280, height: 800 }], ["overview-phone", { width: 390, height: 844 }]] as const) {
      const tab = await openConsole(viewport);
      await signIn(tab, adminKey());
      await tab.page.locator("#search").fill(name);
      await tab.page.getByTestId("queue-table").getByRole("link", { name }).waitFor();
      await tab.page.getByTestId("topic-table").getByRole("link", { name }).waitFor();
      // Three samples (two rates) draw the rate charts.
      await expect.poll(() => tab.page.locator("[data-testid=queue-table] .spark-line").count(), { timeout: 30_000 }).toBeGreaterThan(0);
      const overflow = await tab.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await screenshots(tab, label);
      expectSameOrigin(tab);
      await tab.context.close();
    }
  }, 90_000);

  it("console - an access key signs in; the tail reads the log by polling, since a browser cannot put a key on a stream", async () => {
    const name = unique("con-key");
    await spool.topic(name).configure();
    const res = await fetch(`${url()}/v1/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey()}`, "content-type": "application/json" },
      body: JSON.stringify({ capabilities: { "queues/*": ["manage"], "topics/*": ["manage", "subscribe"] }, description: "console test" }),
    });
    const key = (await res.json()) as { accessKeyId: string; secretAccessKey: string };
    const tab = await openConsole();
    await signIn(tab, `${key.accessKeyId}:${key.secretAccessKey}`);
    expect(await tab.page.getByTestId("who").textContent()).toContain(`access key ${key.accessKeyId}`);
    await tab.page.goto(`${url()}/console#/topics/${name}`);
    await tab.page.getByTestId("tail-toggle").click();
    await expect.poll(() => tailState(tab.page), { timeout: 15_000 }).toMatch(/^polling:/);
    await spool.topic(name).publish([{ body: { via: "poll" } }]);
    await expect.poll(() => tab.page.getByTestId("tail").locator("li").count(), { timeout: 15_000 }).toBe(1);
    expect(tab.requests.some((r) => r.startsWith("ws"))).toBe(false);
    expectSameOrigin(tab);
    await tab.context.close();
  });

  it("console - the page's sources type-check as browser code, and the committed bundle is built from them", async () => {
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    const run = (args: string[]) => promisify(execFile)(process.execPath, args, { cwd: ROOT }).then(() => "", (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ""}${err.stderr ?? ""}` || "failed");
    expect(await run([tsc, "--noEmit", "-p", "console"])).toBe("");
    expect(await run(["console/build.mjs", "--check"])).toBe("");
  }, 120_000);
});
