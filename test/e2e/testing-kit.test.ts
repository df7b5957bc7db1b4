/**
 * spool/testing (testing/index.ts) in Node, as a user's test runs it: `startSpool()` starts
 * in-process Miniflare (no wrangler) on 127.0.0.1 with fresh storage; `advanceTime` moves
 * Spool's clock through leases, delays, dedup windows, retention and webhook backoff in
 * deadline order; `settle`, `reset`, `token`, `vars`, `persist`, `[Symbol.asyncDispose]`;
 * `spoolWorkerOptions` beside a user's Worker in their own Miniflare. And the guarantee: the
 * clock control does not exist without the Miniflare-only binding (nor on `wrangler dev`).
 * Figures (cold start, a 30 s lease in real time, advanceTime over 1,000 queues) are logged.
 */
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Log, LogLevel, Miniflare, convertV4MiniflareOptions } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSpool, spoolWorkerOptions, type SpoolTestServer } from "../../testing/index";
import { url as devServerUrl } from "./helpers";

const CONTROL = "/__spool/test/advance";
let spool: SpoolTestServer;

beforeAll(async () => {
  await spoolWorkerOptions(); // a source checkout bundles the Worker once; an installed package ships it built
  const started = performance.now();
  spool = await startSpool();
  console.log(`startSpool() cold start: ${(performance.now() - started).toFixed(0)} ms`);
}, 60_000);

afterAll(async () => {
  await spool?.[Symbol.asyncDispose]();
});

const unique = (p: string): string => `${p}-${Math.random().toString(36).slice(2, 10)}`;

describe("startSpool", () => {
  it("testing kit - a server of its own: 127.0.0.1, a random port, fresh storage, the admin client", async () => {
    expect(spool.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await using other = await startSpool();
    expect(other.url).not.toBe(spool.url);
    await spool.client.queue(unique("mine")).send({ body: 1 });
    expect(await other.client.queues()).toEqual([]);
    expect((await fetch(`${other.url}/health`)).status).toBe(200);
    const res = await fetch(`${other.url}/v1/queues`, { headers: { authorization: `Bearer ${other.adminKey}` } });
    expect(res.status).toBe(200);
  });

  it("testing kit - a 30 s lease expires with advanceTime, in well under a second of real time", async () => {
    const jobs = spool.client.queue(unique("lease"));
    await jobs.send({ body: { task: "resize" } });
    const [first] = await jobs.receive({ visibilityTimeout: 30 });
    expect(first?.attempts).toBe(1);
    const started = performance.now();
    await spool.advanceTime(29_000);
    expect((await jobs.peek()).map((m) => m.state)).toEqual(["inFlight"]);
    await spool.advanceTime(2_000);
    const [again] = await jobs.receive();
    console.log(`a 30 s lease expired in ${(performance.now() - started).toFixed(0)} ms of real time`);
    expect(again).toMatchObject({ id: first!.id, attempts: 2 });
    expect((await jobs.ack(first!)).failed).toHaveLength(1); // the old lease ended: its ack is refused
  });

  it("testing kit - delays, dedup windows and retention fire as if the time had passed", async () => {
    const q = spool.client.queue(unique("time"));
    await q.send({ body: "later", delay: 60 });
    await q.send({ body: "once", id: "dedup-me" });
    expect((await q.send({ body: "again", id: "dedup-me" })).duplicate).toBe(true);
    await spool.advanceTime(59_000);
    expect((await q.peek({ limit: 10 })).map((m) => m.state).sort()).toEqual(["delayed", "visible"]);
    await spool.advanceTime(242_000); // 301 s in all: past the 300 s dedup window
    expect((await q.peek({ limit: 10 })).map((m) => m.state)).toEqual(["visible", "visible"]);
    expect((await q.send({ body: "accepted", id: "dedup-me" })).duplicate).toBe(false);

    const topic = spool.client.topic<string>(unique("kept"));
    await topic.configure({ retention: 60 });
    await topic.publish([{ body: "old" }]);
    await spool.advanceTime(71_000);
    await topic.publish([{ body: "new" }]);
    const read = await topic.read({ from: 0 });
    expect(read.messages.map((m) => m.body)).toEqual(["new"]);
    expect(read.first).toBe(1);
  });

  it("testing kit - webhook retries back off in deadline order while the clock moves", async () => {
    let calls = 0;
    const receiver: Server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        calls++;
        res.statusCode = 500;
        res.end();
      });
    });
    await new Promise<void>((ok) => receiver.listen(0, "127.0.0.1", ok));
    try {
      const port = (receiver.address() as { port: number }).port;
      const topic = spool.client.topic(unique("hooks"));
      await topic.configure({});
      await topic.fanOut("fails").configure({ url: `http://127.0.0.1:${port}/hook`, maxAttempts: 10 });
      await topic.publish([{ body: "ping" }]);
      await spool.settle();
      expect(calls).toBe(1);
      // Backoff from about 1 s, doubling: about 1, 2, 4 and 8 s later; 20 s cover four retries, not eight.
      await spool.advanceTime(20_000);
      expect(calls).toBeGreaterThanOrEqual(4);
      expect(calls).toBeLessThanOrEqual(6);
      const status = await topic.fanOut("fails").info();
      expect(JSON.stringify(status.lastError)).toMatch(/500/);
    } finally {
      receiver.close();
    }
  });

  it("testing kit - settle waits for forwards; token() mints; reset() deletes every queue and topic", async () => {
    const topic = spool.client.topic(unique("fan"));
    const target = unique("fan-q");
    await topic.configure({});
    await topic.fanOut("copy").configure({ queue: target });
    await topic.publish([{ body: 1 }, { body: 2 }]);
    await spool.settle();
    expect((await spool.client.queue(target).peek({ limit: 10 })).map((m) => m.body)).toEqual([1, 2]);

    const only = unique("only");
    const token = await spool.token({ ttl: 60, capabilities: { [`queues/${only}*`]: ["send"] } });
    const narrowed = spool.client.withToken(token);
    await narrowed.queue(only).send({ body: "ok" });
    await expect(narrowed.queue(unique("elsewhere")).send({ body: "no" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await narrowed.close();

    await spool.reset();
    expect(await spool.client.queues()).toEqual([]);
    expect(await spool.client.topics()).toEqual([]);
  });

  it("testing kit - vars set Worker vars; persist keeps state across servers; dispose frees the port", async () => {
    {
      await using limited = await startSpool({ vars: { SPOOL_MAX_QUEUES: "1" } });
      await limited.client.queue("one").configure({ deadLetterQueue: null });
      await expect(limited.client.queue("two").configure({ deadLetterQueue: null })).rejects.toMatchObject({ code: "QUOTA_EXCEEDED" });
    }
    const dir = mkdtempSync(join(tmpdir(), "spool-kit-persist-"));
    let firstUrl = "";
    try {
      {
        await using first = await startSpool({ persist: dir });
        firstUrl = first.url;
        await first.client.queue("kept").send({ body: "survives" });
      }
      await expect(fetch(`${firstUrl}/health`)).rejects.toThrow();
      await using second = await startSpool({ persist: dir });
      expect((await second.client.queue("kept").receive()).map((m) => m.body)).toEqual(["survives"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("testing kit - advanceTime over 1,000 queues with leases due (cost measured)", async () => {
    await using big = await startSpool();
    const names = Array.from({ length: 1000 }, (_, i) => `q-${i}`);
    const headers = { authorization: `Bearer ${big.adminKey}`, "content-type": "application/json" };
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map(async (n) => {
        await fetch(`${big.url}/v1/queues/${n}/messages`, { method: "POST", headers, body: JSON.stringify({ body: n }) });
        await fetch(`${big.url}/v1/queues/${n}/receive`, { method: "POST", headers, body: '{"visibilityTimeout":30}' });
      }));
    }
    let started = performance.now();
    await big.advanceTime(1_000); // nothing due: every object is asked and re-armed
    const idle = performance.now() - started;
    started = performance.now();
    await big.advanceTime(30_000); // 1,000 leases end
    const due = performance.now() - started;
    console.log(`advanceTime with 1,000 queues: ${idle.toFixed(0)} ms with nothing due, ${due.toFixed(0)} ms with 1,000 leases ending`);
    const sample = await big.client.queue("q-999").peek();
    expect(sample.map((m) => m.state)).toEqual(["visible"]);
  }, 120_000);
});

describe("the clock moves only in a test server", () => {
  it("test control - without the SPOOL_TEST_CONTROL binding (a user's Miniflare, wrangler dev) the control path does not exist", async () => {
    const mf = new Miniflare(convertV4MiniflareOptions({
      host: "127.0.0.1", port: 0, cf: false, log: new Log(LogLevel.WARN),
      workers: [{ ...(await spoolWorkerOptions({ adminKey: "plain" })), unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] }],
    } as Parameters<typeof convertV4MiniflareOptions>[0]));
    try {
      await mf.ready;
      const plain = (await mf.unsafeGetDirectURL("spool")).origin.replace("localhost", "127.0.0.1");
      const auth = { authorization: "Bearer plain" };
      await fetch(`${plain}/v1/queues/held/messages`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: '{"body":1}' });
      await fetch(`${plain}/v1/queues/held/receive`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: '{"visibilityTimeout":30}' });
      for (const base of [plain, devServerUrl()]) {
        const res = await fetch(`${base}${CONTROL}`, { method: "POST", headers: { "content-type": "application/json", "spool-test-control": "guess" }, body: JSON.stringify({ ms: 3_600_000, objects: {} }) });
        expect(res.status).toBe(404);
      }
      const peek = await (await fetch(`${plain}/v1/queues/held/messages`, { headers: auth })).json() as { messages: { state: string }[] };
      expect(peek.messages.map((m) => m.state)).toEqual(["inFlight"]); // the clock did not move
    } finally {
      await mf.dispose();
    }
  });

  it("test control - with the binding, a request without the key it hands out is refused like an unknown path", async () => {
    const res = await fetch(`${spool.url}${CONTROL}`, { method: "POST", headers: { "content-type": "application/json", "spool-test-control": "not-the-key" }, body: JSON.stringify({ ms: 1, objects: {} }) });
    expect(res.status).toBe(404);
    expect((await fetch(`${spool.url}${CONTROL}`, { method: "POST", body: "{}" })).status).toBe(404);
  });

  it("spoolWorkerOptions - Spool beside a user's Worker in their own Miniflare, bound through SpoolEntrypoint", async () => {
    const app = `export default { async fetch(request, env) {
      const sent = await env.SPOOL.queueSend("from-app", [{ body: "hello" }]);
      const got = await env.SPOOL.queueReceive("from-app", { max: 1 });
      return Response.json({ sent: sent.ok, body: got.value.messages[0].body });
    } };`;
    const mf = new Miniflare(convertV4MiniflareOptions({
      host: "127.0.0.1", port: 0, cf: false, log: new Log(LogLevel.WARN),
      workers: [
        { name: "app", modules: true, script: app, compatibilityDate: "2026-11-01", serviceBindings: { SPOOL: { name: "spool", entrypoint: "SpoolEntrypoint" } } },
        await spoolWorkerOptions({ name: "spool" }),
      ],
    } as Parameters<typeof convertV4MiniflareOptions>[0]));
    try {
      const res = await mf.dispatchFetch("http://app.test/");
      expect(await res.json()).toEqual({ sent: true, body: "hello" });
    } finally {
      await mf.dispose();
    }
  });
});
