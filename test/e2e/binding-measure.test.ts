/**
 * Through a service binding or over HTTP, on the same server: a Worker beside Spool (in one
 * spool/testing Miniflare) sends, receives and acks one message at a time, N times, with the
 * SDK over its binding (`new Spool({binding})`), with the SDK over HTTP to the same Spool
 * (`new Spool({url, token})`), and with the entrypoint's typed RPC directly. Also live
 * delivery: a WebSocket consumer through the binding vs over HTTP. The figures are logged
 * (never asserted: the machine is shared); the assertions are that every path did the work.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSpool, type SpoolTestServer } from "../../testing/index";

const ROUNDS = 200;

/** The measuring Worker: one route per path, each timing ROUNDS send → receive → ack cycles inside the Worker. */
const MEASURER = `
import { Spool, unwrapResult } from "./client/index.ts";

async function cycles(spool, queue, n) {
  const q = spool.queue(queue);
  const started = Date.now();
  for (let i = 0; i < n; i++) {
    await q.send({ body: i });
    const [m] = await q.receive();
    await q.ack(m);
  }
  return Date.now() - started;
}

async function rpcCycles(binding, queue, n) {
  const started = Date.now();
  for (let i = 0; i < n; i++) {
    unwrapResult(await binding.queueSend(queue, [{ body: i }]));
    const { messages } = unwrapResult(await binding.queueReceive(queue, {}));
    unwrapResult(await binding.queueAck(queue, [messages[0].receipt]));
  }
  return Date.now() - started;
}

async function consumed(spool, queue, n) {
  const q = spool.queue(queue);
  await q.send(Array.from({ length: n }, (_, i) => ({ body: i })));
  const started = Date.now();
  let seen = 0;
  let done;
  const all = new Promise((r) => (done = r));
  const consumer = q.consume(async () => { if (++seen === n) done(); }, { prefetch: 50, concurrency: 10 });
  await all;
  const ms = Date.now() - started;
  await consumer.close();
  return ms;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get("n"));
    const queue = url.searchParams.get("queue");
    const viaBinding = new Spool({ binding: env.SPOOL });
    const viaHttp = new Spool({ url: url.searchParams.get("spool"), token: url.searchParams.get("key") });
    try {
      switch (url.pathname) {
        case "/binding": return Response.json({ ms: await cycles(viaBinding, queue, n) });
        case "/http": return Response.json({ ms: await cycles(viaHttp, queue, n) });
        case "/rpc": return Response.json({ ms: await rpcCycles(env.SPOOL, queue, n) });
        case "/consume-binding": return Response.json({ ms: await consumed(viaBinding, queue, n) });
        case "/consume-http": return Response.json({ ms: await consumed(viaHttp, queue, n) });
      }
      return new Response("no such measurement", { status: 404 });
    } finally {
      await viaBinding.close();
      await viaHttp.close();
    }
  },
};
`;

let spool: SpoolTestServer;
let measurer = "";
let dir = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "spool-measure-"));
  const scriptPath = join(dir, "measurer.mjs");
  await build({
    stdin: { contents: MEASURER, resolveDir: join(import.meta.dirname, "../.."), sourcefile: "measurer.js", loader: "js" },
    outfile: scriptPath, bundle: true, format: "esm", platform: "neutral", conditions: ["workerd", "worker", "browser"], logLevel: "warning",
  });
  spool = await startSpool({
    workers: [{
      name: "measurer", modules: true, scriptPath, modulesRoot: dir, compatibilityDate: "2026-11-01",
      serviceBindings: { SPOOL: { name: "spool", entrypoint: "SpoolEntrypoint" } },
    }],
  });
  measurer = await spool.workerUrl("measurer");
}, 60_000);

afterAll(async () => {
  await spool?.[Symbol.asyncDispose]();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function measure(path: string, queue: string, n: number): Promise<number> {
  const q = new URLSearchParams({ n: String(n), queue, spool: spool.url, key: spool.adminKey });
  const res = await fetch(`${measurer}${path}?${q}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { ms: number }).ms;
}

describe("binding vs http", () => {
  it("measure - send, receive and ack through the binding, over HTTP and by typed RPC, on the same server", async () => {
    await measure("/binding", "warm-binding", 20); // first calls start objects and connections
    await measure("/http", "warm-http", 20);
    const rows: string[] = [];
    for (const [path, label] of [["/binding", "SDK over the binding"], ["/http", "SDK over HTTP"], ["/rpc", "typed RPC (SpoolEntrypoint)"]] as const) {
      const queue = `measure${path.replace("/", "-")}`;
      const ms = await measure(path, queue, ROUNDS);
      rows.push(`${label.padEnd(30)} ${(ms / ROUNDS).toFixed(2)} ms per send+receive+ack (${ROUNDS} in ${ms} ms)`);
      expect((await spool.client.queue(queue).info()).stats).toMatchObject({ sent: ROUNDS, acked: ROUNDS, messages: 0 });
    }
    for (const [path, label] of [["/consume-binding", "WebSocket consumer, binding"], ["/consume-http", "WebSocket consumer, HTTP"]] as const) {
      const queue = `measure${path.replace("/", "-")}`;
      const ms = await measure(path, queue, 500);
      rows.push(`${label.padEnd(30)} ${(500_000 / Math.max(1, ms)).toFixed(0)} messages/s (500 in ${ms} ms)`);
      expect((await spool.client.queue(queue).info()).stats).toMatchObject({ acked: 500, messages: 0 });
    }
    console.log(`binding vs HTTP (from a Worker, same server):\n${rows.join("\n")}`);
  }, 120_000);
});
