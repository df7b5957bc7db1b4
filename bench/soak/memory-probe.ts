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
import { startSoakServer, removeState } from "./servers.ts";

type Send = (url: string, key: string, i: number) => Promise<void>;

async function request(url: string, key: string, method: string, path: string, body?: unknown): Promise<void> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  await res.arrayBuffer();
  if (res.status >= 500) throw new Error(`${method} ${path}: ${res.status}`);
}

/** Opens a WebSocket, waits for the server's first frame (or its open), closes it and waits for the close. */
function socketOnce(url: string, key: string, path: string, first?: string): Promise<void> {
  return new Promise((done, fail) => {
    const ws = new WebSocket(url.replace("http", "ws") + path, { headers: { authorization: `Bearer ${key}` } });
    ws.on("open", () => {
      if (first) ws.send(first);
      else ws.close();
    });
    ws.on("message", () => ws.close());
    ws.on("close", () => done());
    ws.on("error", fail);
  });
}

/** Sends 10 with ids, receives up to 10 (2 s lease), then does `then` with the receipts. */
async function leaseThen(url: string, key: string, queue: string, i: number, then: (receipts: string[]) => Promise<void>): Promise<void> {
  await request(url, key, "POST", `/v1/queues/${queue}/messages`, { messages: Array.from({ length: 10 }, (_, j) => ({ id: `m-${i}-${j}-${Date.now()}`, body: { i, j } })) });
  const res = await fetch(`${url}/v1/queues/${queue}/receive`, {
    method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ max: 10, wait: 1 }),
  });
  const got = (await res.json()) as { messages?: Array<{ receipt: string }> };
  const receipts = (got.messages ?? []).map((m) => m.receipt);
  if (receipts.length > 0) await then(receipts);
}

/** Sends one message every 5 ms until closed: long polls wait, then wake. */
function trickle(url: string, key: string, queue: string): { close(): void } {
  const timer = setInterval(() => void request(url, key, "POST", `/v1/queues/${queue}/messages`, { messages: [{ body: 1 }] }).catch(() => undefined), 5);
  return { close: () => clearInterval(timer) };
}

/** A push consumer that acks every message on the socket (credit 10). */
function pushConsumer(url: string, key: string, queue: string): WebSocket {
  const ws = new WebSocket(`${url.replace("http", "ws")}/v1/queues/${queue}/consume`, { headers: { authorization: `Bearer ${key}` } });
  ws.on("open", () => ws.send(JSON.stringify({ type: "credit", n: 10 })));
  ws.on("message", (data) => {
    const f = JSON.parse(String(data)) as { type: string; receipt?: string };
    if (f.type === "message" && f.receipt) ws.send(JSON.stringify({ type: "ack", receipts: [f.receipt] }));
  });
  return ws;
}

const KINDS: Record<string, Send> = {
  nack: (url, key, i) => leaseThen(url, key, "probe-nack", i, (receipts) => request(url, key, "POST", "/v1/queues/probe-nack/nack", { receipts })),
  ack: (url, key, i) => leaseThen(url, key, "probe-ack", i, (receipts) => request(url, key, "POST", "/v1/queues/probe-ack/ack", { receipts })),
  expire: (url, key, i) => leaseThen(url, key, "probe-expire", i, async () => undefined),
  longpoll: async (url, key) => {
    const res = await fetch(`${url}/v1/queues/probe-lp/receive`, {
      method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ max: 10, wait: 1 }),
    });
    const got = (await res.json()) as { messages?: Array<{ receipt: string }> };
    const receipts = (got.messages ?? []).map((m) => m.receipt);
    if (receipts.length > 0) await request(url, key, "POST", "/v1/queues/probe-lp/ack", { receipts });
  },
  push: (url, key, i) => request(url, key, "POST", "/v1/queues/probe-push/messages", { messages: Array.from({ length: 10 }, (_, j) => ({ body: { i, j } })) }),
  health: (url, key) => request(url, key, "GET", "/health"),
  auth: (url, key) => request(url, key, "GET", "/v1/queues/probe-missing"),
  send: (url, key, i) => request(url, key, "POST", "/v1/queues/probe/messages", { messages: [{ body: { i } }] }),
  cycle: async (url, key, i) => {
    await request(url, key, "POST", "/v1/queues/probe-cycle/messages", { messages: [{ body: { i } }] });
    const res = await fetch(`${url}/v1/queues/probe-cycle/receive`, {
      method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ max: 1 }),
    });
    const got = (await res.json()) as { messages?: Array<{ receipt: string }> };
    const receipts = (got.messages ?? []).map((m) => m.receipt);
    if (receipts.length > 0) await request(url, key, "POST", "/v1/queues/probe-cycle/ack", { receipts });
  },
  send10: (url, key, i) => request(url, key, "POST", "/v1/queues/probe/messages", { messages: Array.from({ length: 10 }, (_, j) => ({ body: { i, j } })) }),
  "send10-ids": (url, key, i) => request(url, key, "POST", "/v1/queues/probe/messages", { messages: Array.from({ length: 10 }, (_, j) => ({ id: `m-${i}-${j}-${Math.random()}`, body: { i, j } })) }),
  lease10: async (url, key, i) => {
    await request(url, key, "POST", "/v1/queues/probe-lease/messages", { messages: Array.from({ length: 10 }, (_, j) => ({ body: { i, j } })) });
    const res = await fetch(`${url}/v1/queues/probe-lease/receive`, {
      method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ max: 10, wait: 1 }),
    });
    const got = (await res.json()) as { messages?: Array<{ receipt: string }> };
    const receipts = (got.messages ?? []).map((m) => m.receipt);
    if (receipts.length > 0) await request(url, key, "POST", "/v1/queues/probe-lease/ack", { receipts });
  },
  publish: (url, key, i) => request(url, key, "POST", "/v1/topics/probe/messages", { messages: [{ key: String(i), body: { i } }] }),
  "ws-churn": (url, key) => socketOnce(url, key, "/v1/topics/probe-read/subscribe?partition=0&from=earliest"),
  "consume-churn": (url, key) => socketOnce(url, key, "/v1/queues/probe-consume/consume", JSON.stringify({ type: "credit", n: 1 })),
  "sse-churn": async (url, key) => {
    const abort = new AbortController();
    const res = await fetch(`${url}/v1/topics/probe-read/events?partition=0&from=earliest`, { headers: { authorization: `Bearer ${key}` }, signal: abort.signal });
    await res.body!.getReader().read();
    abort.abort();
  },
  read: (url, key) => request(url, key, "GET", "/v1/topics/probe-read/messages?partition=0&from=earliest&max=10"),
};

async function probe(kind: string, seconds: number, concurrency: number): Promise<void> {
  const send = KINDS[kind];
  if (!send) throw new Error(`unknown kind ${kind}; kinds: ${Object.keys(KINDS).join(", ")}`);
  const server = await startSoakServer("direct", undefined, 9329);
  const { url, adminKey } = server;
  const readTopic = ["read", "ws-churn", "sse-churn"].includes(kind);
  if (kind === "publish" || readTopic) await request(url, adminKey, "PUT", `/v1/topics/${readTopic ? "probe-read" : "probe"}`, { partitions: 1 });
  if (readTopic) await request(url, adminKey, "POST", "/v1/topics/probe-read/messages", { messages: [{ body: 1 }] });
  if (kind === "push" || kind === "longpoll") await request(url, adminKey, "PUT", `/v1/queues/${kind === "push" ? "probe-push" : "probe-lp"}`, {});
  if (["nack", "ack", "expire"].includes(kind)) await request(url, adminKey, "PUT", `/v1/queues/probe-${kind}`, { visibilityTimeout: 2, maxReceives: 0 });
  const extra = kind === "push" ? pushConsumer(url, adminKey, "probe-push") : kind === "longpoll" ? trickle(url, adminKey, "probe-lp") : undefined;
  if (kind === "consume-churn") await request(url, adminKey, "POST", "/v1/queues/probe-consume/messages", { messages: [{ body: 1 }] });
  let done = 0;
  let stop = false;
  const workers = Array.from({ length: concurrency }, async () => {
    while (!stop) {
      await send(url, adminKey, done);
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
  extra?.close();
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
