/**
 * Memory probe: runs one kind of request at a time against a fresh direct-socket server and
 * reports how the server's RSS moves per thousand requests, so a growth seen in the soak can be
 * pinned to the request kind that causes it. The first kind, `health`, touches no Durable
 * Object: it is the runtime's own baseline.
 *
 *   npx node bench/soak/memory-probe.ts [--seconds 60] [--concurrency 8] [kind ...]
 */
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { rssBytes } from "../procstat.ts";
import { call, Ledger, type Target } from "./ledger.ts";
import { startSoakServer, removeState } from "./servers.ts";

const ledger = new Ledger();

/** One call; an answer of 500 or more ends the probe (the probe measures memory, not failures). */
async function request(on: Target, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await call(on, ledger, method, path, body);
  if (r.status >= 500) throw new Error(`${method} ${path}: ${r.status}`);
  return r;
}

const batch = (i: number, ids = false): unknown[] => Array.from({ length: 10 }, (_, j) => (ids ? { id: `m-${i}-${j}-${Date.now()}`, body: { i, j } } : { body: { i, j } }));

/** Receives from `queue` and answers the receipts with `then` (`ack`, `nack`, or nothing: the leases expire). */
async function receiveThen(on: Target, queue: string, receive: { max: number; wait?: number }, then: "ack" | "nack" | null): Promise<void> {
  const r = await request(on, "POST", `/v1/queues/${queue}/receive`, receive);
  const receipts = ((r.body?.messages ?? []) as Array<{ receipt: string }>).map((m) => m.receipt);
  if (then && receipts.length > 0) await request(on, "POST", `/v1/queues/${queue}/${then}`, { receipts });
}

/** Opens a WebSocket, closes it once open and waits for the close. */
function socketOnce(on: Target, path: string): Promise<void> {
  return new Promise((done, fail) => {
    const ws = new WebSocket(on.url.replace("http", "ws") + path, { headers: { authorization: `Bearer ${on.adminKey}` } });
    ws.on("open", () => ws.close());
    ws.on("close", () => done());
    ws.on("error", fail);
  });
}

/** Sends one message every 5 ms until closed: long polls wait, then wake. */
function trickle(on: Target, queue: string): { close(): void } {
  const timer = setInterval(() => void request(on, "POST", `/v1/queues/${queue}/messages`, { messages: [{ body: 1 }] }).catch(() => undefined), 5);
  return { close: () => clearInterval(timer) };
}

/** A push consumer that acks every message on the socket (credit 10). */
function pushConsumer(on: Target, queue: string): { close(): void } {
  const ws = new WebSocket(`${on.url.replace("http", "ws")}/v1/queues/${queue}/consume`, { headers: { authorization: `Bearer ${on.adminKey}` } });
  ws.on("open", () => ws.send(JSON.stringify({ type: "credit", n: 10 })));
  ws.on("message", (data) => {
    const f = JSON.parse(String(data)) as { type: string; receipt?: string };
    if (f.type === "message" && f.receipt) ws.send(JSON.stringify({ type: "ack", receipts: [f.receipt] }));
  });
  return ws;
}

interface Kind {
  /** Requests made before the measured phase. */
  setup?: Array<[string, string, unknown]>;
  /** Runs beside the measured requests for the whole phase (a sender, a consumer). */
  beside?: (on: Target) => { close(): void };
  /** One measured request (or short sequence); `i` counts them. */
  run: (on: Target, i: number) => Promise<unknown>;
}

const shortLeases = (q: string): Array<[string, string, unknown]> => [["PUT", `/v1/queues/${q}`, { visibilityTimeout: 2, maxReceives: 0 }]];
const readTopic: Array<[string, string, unknown]> = [
  ["PUT", "/v1/topics/probe-read", { partitions: 1 }],
  ["POST", "/v1/topics/probe-read/messages", { messages: [{ body: 1 }] }],
];

const KINDS: Record<string, Kind> = {
  health: { run: (on) => request(on, "GET", "/health") },
  auth: { run: (on) => request(on, "GET", "/v1/queues/probe-missing") },
  send: { run: (on, i) => request(on, "POST", "/v1/queues/probe/messages", { messages: [{ body: { i } }] }) },
  send10: { run: (on, i) => request(on, "POST", "/v1/queues/probe/messages", { messages: batch(i) }) },
  "send10-ids": { run: (on, i) => request(on, "POST", "/v1/queues/probe/messages", { messages: batch(i, true) }) },
  cycle: {
    run: async (on, i) => {
      await request(on, "POST", "/v1/queues/probe-cycle/messages", { messages: [{ body: { i } }] });
      await receiveThen(on, "probe-cycle", { max: 1 }, "ack");
    },
  },
  lease10: {
    run: async (on, i) => {
      await request(on, "POST", "/v1/queues/probe-lease/messages", { messages: batch(i) });
      await receiveThen(on, "probe-lease", { max: 10, wait: 1 }, "ack");
    },
  },
  // Sends 10 with ids, receives up to 10 under a 2 s lease, then acks, nacks, or lets them expire.
  ...Object.fromEntries((["ack", "nack", "expire"] as const).map((then) => [then, {
    setup: shortLeases(`probe-${then}`),
    run: async (on: Target, i: number) => {
      await request(on, "POST", `/v1/queues/probe-${then}/messages`, { messages: batch(i, true) });
      await receiveThen(on, `probe-${then}`, { max: 10, wait: 1 }, then === "expire" ? null : then);
    },
  }])),
  // Long polls woken by a send every 5 ms: the kind that found the cancelled-timer growth.
  longpoll: { setup: [["PUT", "/v1/queues/probe-lp", {}]], beside: (on) => trickle(on, "probe-lp"), run: (on) => receiveThen(on, "probe-lp", { max: 10, wait: 1 }, "ack") },
  push: {
    setup: [["PUT", "/v1/queues/probe-push", {}]],
    beside: (on) => pushConsumer(on, "probe-push"),
    run: (on, i) => request(on, "POST", "/v1/queues/probe-push/messages", { messages: batch(i) }),
  },
  publish: { setup: [["PUT", "/v1/topics/probe", { partitions: 1 }]], run: (on, i) => request(on, "POST", "/v1/topics/probe/messages", { messages: [{ key: String(i), body: { i } }] }) },
  read: { setup: readTopic, run: (on) => request(on, "GET", "/v1/topics/probe-read/messages?partition=0&from=earliest&max=10") },
  "ws-churn": { setup: readTopic, run: (on) => socketOnce(on, "/v1/topics/probe-read/subscribe?partition=0&from=earliest") },
  // Aborted SSE clients are not measured here: locally the runtime does not see them go, so
  // each keeps its stream (and a file descriptor) for the stream's lifetime (README, relays).
  "consume-churn": { setup: [["PUT", "/v1/queues/probe-consume", {}]], run: (on) => socketOnce(on, "/v1/queues/probe-consume/consume") },
};

async function probe(kind: string, seconds: number, concurrency: number): Promise<void> {
  const spec = KINDS[kind];
  if (!spec) throw new Error(`unknown kind ${kind}; kinds: ${Object.keys(KINDS).join(", ")}`);
  const server = await startSoakServer("direct");
  const on: Target = { url: server.url, adminKey: server.adminKey };
  for (const [method, path, body] of spec.setup ?? []) await request(on, method, path, body);
  const beside = spec.beside?.(on);
  let done = 0;
  let stop = false;
  const workers = Array.from({ length: concurrency }, async () => {
    while (!stop) {
      await spec.run(on, done);
      done++;
    }
  });
  const samples: Array<{ s: number; requests: number; rssMB: number }> = [];
  const started = Date.now();
  while (Date.now() - started < seconds * 1000) {
    await new Promise((r) => setTimeout(r, 5000));
    samples.push({ s: Math.round((Date.now() - started) / 1000), requests: done, rssMB: rssBytes(server.spoolPids()) / 2 ** 20 });
  }
  const heap = await server.heap!();
  stop = true;
  await Promise.all(workers);
  beside?.close();
  await server.stop();
  removeState(server);
  // Slope after the first third (warm-up): MB per 1,000 requests, by least squares.
  const tail = samples.slice(Math.floor(samples.length / 3));
  const n = tail.length;
  const mx = tail.reduce((a, p) => a + p.requests, 0) / n;
  const my = tail.reduce((a, p) => a + p.rssMB, 0) / n;
  const slope = tail.reduce((a, p) => a + (p.requests - mx) * (p.rssMB - my), 0) / tail.reduce((a, p) => a + (p.requests - mx) ** 2, 0);
  const first = samples[0]!;
  const last = samples.at(-1)!;
  console.log(JSON.stringify({
    kind, requests: done, perSecond: Math.round(done / seconds),
    rssMB: [first.rssMB, last.rssMB].map((v) => Math.round(v)),
    kbPerRequest: Math.round(slope * 1024 * 100) / 100,
    series: samples.filter((_, i) => i % 3 === 2).map((p) => `${p.s}s:${Math.round(p.rssMB)}`).join(" "),
    heapMB: [heap.usedBytes, heap.totalBytes, heap.backingStoreBytes].map((b) => Math.round(b / 2 ** 20)),
  }));
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { seconds: { type: "string", default: "60" }, concurrency: { type: "string", default: "8" } } });
for (const kind of positionals.length > 0 ? positionals : Object.keys(KINDS)) await probe(kind, Number(values.seconds), Number(values.concurrency));
process.exit(0);
