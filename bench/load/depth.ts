/**
 * Load generator: receive latency as the queue grows. Fills one queue to each depth in turn
 * (1k, 10k, 100k) with batches of 1,000, then times single receives one at a time; each
 * received message is acked and every 50 are replaced, so the depth holds while measuring.
 */
import { call, emit, endPhase, finish, generatorArgs, must, sampleMessage, sleep, startPhase } from "./common.ts";
import type { GeneratorArgs } from "./protocol.ts";
import { percentile } from "../stats.ts";

interface Args extends GeneratorArgs {
  queue: string;
  depths: number[];
  samples: number;
}

export interface DepthResult {
  depth: number;
  samples: number;
  p50Ms: number | null;
  p99Ms: number | null;
  ackP50Ms: number | null;
  fillMsgsPerSec: number | null;
  errors: number;
}

const args = generatorArgs<Args>();
const base = `/v1/queues/${args.queue}`;
await must(args, "PUT", base, { maxMessages: 250_000, visibilityTimeout: 300 });

const batch = (n: number) => ({ messages: Array.from({ length: n }, (_, i) => sampleMessage(i)) });
let depth = 0;
const results: DepthResult[] = [];

for (const target of args.depths) {
  let errors = 0;
  const fillStart = performance.now();
  const filled = target - depth;
  const fillDeadline = Date.now() + 180_000;
  while (depth < target && Date.now() < fillDeadline) {
    const n = Math.min(1000, target - depth);
    const r = await call(args, "POST", `${base}/messages`, batch(n));
    if (r.status === 201) depth += n;
    else {
      errors++;
      if (errors > 20) throw new Error(`fill to ${target} failed: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
      await sleep(100);
    }
  }
  const fillSeconds = (performance.now() - fillStart) / 1000;
  await sleep(500);

  const receive: number[] = [];
  const ack: number[] = [];
  const phase = `depth-${target}`;
  const elapsed = startPhase(phase);
  for (let i = 0; i < args.samples && elapsed() < args.seconds; i++) {
    const t = performance.now();
    const r = await call<{ messages?: { receipt?: string }[] }>(args, "POST", `${base}/receive`, { max: 1 });
    receive.push(performance.now() - t);
    const receipt = r.body.messages?.[0]?.receipt;
    if (r.status !== 200 || !receipt) {
      errors++;
      continue;
    }
    const t2 = performance.now();
    const a = await call(args, "POST", `${base}/ack`, { receipts: [receipt] });
    ack.push(performance.now() - t2);
    if (a.status !== 200) errors++;
    if ((i + 1) % 50 === 0 && (await call(args, "POST", `${base}/messages`, batch(50))).status !== 201) errors++;
  }
  endPhase(phase);
  emit({ event: "log", message: `depth ${target}: ${receive.length} receives` });
  results.push({
    depth: target,
    samples: receive.length,
    p50Ms: percentile(receive, 50),
    p99Ms: percentile(receive, 99),
    ackP50Ms: percentile(ack, 50),
    fillMsgsPerSec: filled > 0 ? filled / fillSeconds : null,
    errors,
  });
}

finish(results);
