/**
 * Load generator: the queue cycle. Producers send batches of 100 while 4 consumers each
 * receive up to 100, then ack the receipts, all on one queue. The backlog is capped, so the
 * queue never grows without bound; messages/s end to end counts acks during the window.
 * Records each operation's latency too, for finding where time goes.
 */
import { call, endPhase, finish, generatorArgs, must, sampleMessage, sleep, startPhase } from "./common.ts";
import type { GeneratorArgs } from "./protocol.ts";
import { percentile } from "../stats.ts";

interface Args extends GeneratorArgs {
  queue: string;
  producers: number;
  consumers: number;
  batch: number;
  backlogCap: number;
}

export interface QueueCycleResult {
  seconds: number;
  ackedPerSec: number;
  sentPerSec: number;
  errors: number;
  latencyMs: Record<"send" | "receive" | "ack", { p50: number | null; p99: number | null }>;
}

const args = generatorArgs<Args>();
const base = `/v1/queues/${args.queue}`;
await must(args, "PUT", base, { maxMessages: 200_000, visibilityTimeout: 60 });

let sent = 0;
let acked = 0;
let errors = 0;
let stop = false;
let measuring = false;
const lat = { send: [] as number[], receive: [] as number[], ack: [] as number[] };

async function timed<T>(kind: keyof typeof lat, f: () => Promise<T>): Promise<T> {
  const t = performance.now();
  const r = await f();
  if (measuring && lat[kind].length < 100_000) lat[kind].push(performance.now() - t);
  return r;
}

const batchBody = { messages: Array.from({ length: args.batch }, (_, i) => sampleMessage(i)) };

async function producer(): Promise<void> {
  while (!stop) {
    if (sent - acked >= args.backlogCap) {
      await sleep(2);
      continue;
    }
    const r = await timed("send", () => call(args, "POST", `${base}/messages`, batchBody));
    if (r.status === 201) sent += args.batch;
    else {
      errors++;
      await sleep(20);
    }
  }
}

async function consumer(): Promise<void> {
  while (!stop) {
    const r = await timed("receive", () => call<{ messages?: { receipt: string }[] }>(args, "POST", `${base}/receive`, { max: args.batch }));
    if (r.status !== 200) {
      errors++;
      await sleep(20);
      continue;
    }
    const receipts = (r.body.messages ?? []).map((m) => m.receipt);
    if (receipts.length === 0) {
      await sleep(2);
      continue;
    }
    const a = await timed("ack", () => call<{ acked: number; failed: unknown[] }>(args, "POST", `${base}/ack`, { receipts }));
    if (a.status !== 200) errors++;
    else {
      acked += a.body.acked;
      errors += a.body.failed.length;
    }
  }
}

const loops = [
  ...Array.from({ length: args.producers }, producer),
  ...Array.from({ length: args.consumers }, consumer),
];
await sleep(args.warmupSeconds * 1000);
const acked0 = acked;
const sent0 = sent;
const errors0 = errors;
measuring = true;
const elapsed = startPhase("spool");
await sleep(args.seconds * 1000);
measuring = false;
const seconds = elapsed();
endPhase("spool");
const result: QueueCycleResult = {
  seconds,
  ackedPerSec: (acked - acked0) / seconds,
  sentPerSec: (sent - sent0) / seconds,
  errors: errors - errors0,
  latencyMs: {
    send: { p50: percentile(lat.send, 50), p99: percentile(lat.send, 99) },
    receive: { p50: percentile(lat.receive, 50), p99: percentile(lat.receive, 99) },
    ack: { p50: percentile(lat.ack, 50), p99: percentile(lat.ack, 99) },
  },
};
stop = true;
await Promise.race([Promise.all(loops), sleep(35_000)]);
finish(result);
