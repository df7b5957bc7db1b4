/**
 * Load generator: the queue cycle. Producers send batches of 100 while 4 consumers each
 * receive up to 100, then ack the receipts, all on one queue. The backlog is capped, so the
 * queue never grows without bound; messages/s end to end counts acks during the window.
 * Records each operation's latency too, for finding where time goes. Runs the same loops
 * against Spool's queue and against the bare baseline queue (the same INSERTs, SELECT +
 * UPDATEs and DELETEs behind /bench routes), one after the other, in the order given.
 */
import { call, endPhase, finish, generatorArgs, must, sampleMessage, sleep, startPhase } from "./common.ts";
import type { GeneratorArgs } from "./protocol.ts";
import { percentile } from "../stats.ts";

type Side = "spool" | "baseline";

interface Args extends GeneratorArgs {
  queue: string;
  baseline: string;
  order: Side[];
  producers: number;
  consumers: number;
  batch: number;
  backlogCap: number;
}

export interface QueueCycleResult {
  phase: Side;
  seconds: number;
  ackedPerSec: number;
  sentPerSec: number;
  errors: number;
  latencyMs: Record<"send" | "receive" | "ack", { p50: number | null; p99: number | null }>;
}

const args = generatorArgs<Args>();
const batchBody = { messages: Array.from({ length: args.batch }, (_, i) => sampleMessage(i)) };

async function phase(side: Side): Promise<QueueCycleResult> {
  const base = side === "spool" ? `/v1/queues/${args.queue}` : `/bench/${args.baseline}`;
  const paths = side === "spool"
    ? { send: `${base}/messages`, receive: `${base}/receive`, ack: `${base}/ack` }
    : { send: `${base}/queue-send`, receive: `${base}/queue-receive`, ack: `${base}/queue-ack` };
  if (side === "spool") await must(args, "PUT", base, { maxMessages: 200_000, visibilityTimeout: 60 });

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

  async function producer(): Promise<void> {
    while (!stop) {
      if (sent - acked >= args.backlogCap) {
        await sleep(2);
        continue;
      }
      const r = await timed("send", () => call(args, "POST", paths.send, batchBody));
      if (r.status === 201) sent += args.batch;
      else {
        errors++;
        await sleep(20);
      }
    }
  }

  async function consumer(): Promise<void> {
    while (!stop) {
      const r = await timed("receive", () => call<{ messages?: { receipt: string }[] }>(args, "POST", paths.receive, { max: args.batch }));
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
      const a = await timed("ack", () => call<{ acked: number; failed: unknown[] }>(args, "POST", paths.ack, { receipts }));
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
  const elapsed = startPhase(side);
  await sleep(args.seconds * 1000);
  measuring = false;
  const seconds = elapsed();
  endPhase(side);
  const result: QueueCycleResult = {
    phase: side,
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
  return result;
}

const results: QueueCycleResult[] = [];
for (const side of args.order) results.push(await phase(side));
finish(results);
