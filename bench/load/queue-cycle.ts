/**
 * Load generator: the queue cycle. Producers send batches of 100 while 4 consumers each
 * receive up to 100, then ack the receipts, all on one queue. The backlog is capped, so the
 * queue never grows without bound; messages/s end to end counts acks during the window.
 * Records each operation's latency too, for finding where time goes. Runs the same loops
 * against Spool's queue and against the bare baseline queue (the same INSERTs, SELECT +
 * UPDATEs and DELETEs behind /bench routes), in alternating slices, in the order given.
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
  /** Measured slices per side, alternating between the sides. */
  slices: number;
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

/** One side's queue, counters and latencies, kept across its slices. */
interface SideState {
  side: Side;
  paths: { send: string; receive: string; ack: string };
  sent: number;
  acked: number;
  errors: number;
  measuring: boolean;
  stop: boolean;
  lat: Record<"send" | "receive" | "ack", number[]>;
  /** Totals over the measured slices. */
  measured: { seconds: number; sent: number; acked: number; errors: number };
}

async function setUp(side: Side): Promise<SideState> {
  const base = side === "spool" ? `/v1/queues/${args.queue}` : `/bench/${args.baseline}`;
  const paths = side === "spool"
    ? { send: `${base}/messages`, receive: `${base}/receive`, ack: `${base}/ack` }
    : { send: `${base}/queue-send`, receive: `${base}/queue-receive`, ack: `${base}/queue-ack` };
  if (side === "spool") await must(args, "PUT", base, { maxMessages: 200_000, visibilityTimeout: 60 });
  return {
    side, paths, sent: 0, acked: 0, errors: 0, measuring: false, stop: false,
    lat: { send: [], receive: [], ack: [] }, measured: { seconds: 0, sent: 0, acked: 0, errors: 0 },
  };
}

/** Runs the side's producers and consumers for `ms` (measured or warm-up), then stops them. */
async function slice(st: SideState, ms: number, measure: boolean): Promise<void> {
  st.stop = false;
  async function timed<T>(kind: keyof SideState["lat"], f: () => Promise<T>): Promise<T> {
    const t = performance.now();
    const r = await f();
    if (st.measuring && st.lat[kind].length < 100_000) st.lat[kind].push(performance.now() - t);
    return r;
  }
  async function producer(): Promise<void> {
    while (!st.stop) {
      if (st.sent - st.acked >= args.backlogCap) {
        await sleep(2);
        continue;
      }
      const r = await timed("send", () => call(args, "POST", st.paths.send, batchBody));
      if (r.status === 201) st.sent += args.batch;
      else {
        st.errors++;
        await sleep(20);
      }
    }
  }
  async function consumer(): Promise<void> {
    while (!st.stop) {
      const r = await timed("receive", () => call<{ messages?: { receipt: string }[] }>(args, "POST", st.paths.receive, { max: args.batch }));
      if (r.status !== 200) {
        st.errors++;
        await sleep(20);
        continue;
      }
      const receipts = (r.body.messages ?? []).map((m) => m.receipt);
      if (receipts.length === 0) {
        await sleep(2);
        continue;
      }
      const a = await timed("ack", () => call<{ acked: number; failed: unknown[] }>(args, "POST", st.paths.ack, { receipts }));
      if (a.status !== 200) st.errors++;
      else {
        st.acked += a.body.acked;
        st.errors += a.body.failed.length;
      }
    }
  }
  const loops = [...Array.from({ length: args.producers }, producer), ...Array.from({ length: args.consumers }, consumer)];
  const at = { sent: st.sent, acked: st.acked, errors: st.errors };
  st.measuring = measure;
  const elapsed = measure ? startPhase(st.side) : () => 0;
  await sleep(ms);
  st.measuring = false;
  if (measure) {
    st.measured.seconds += elapsed();
    endPhase(st.side);
    st.measured.sent += st.sent - at.sent;
    st.measured.acked += st.acked - at.acked;
    st.measured.errors += st.errors - at.errors;
  }
  st.stop = true;
  await Promise.race([Promise.all(loops), sleep(35_000)]);
}

function resultOf(st: SideState): QueueCycleResult {
  const seconds = st.measured.seconds;
  return {
    phase: st.side,
    seconds,
    ackedPerSec: seconds > 0 ? st.measured.acked / seconds : 0,
    sentPerSec: seconds > 0 ? st.measured.sent / seconds : 0,
    errors: st.measured.errors,
    latencyMs: {
      send: { p50: percentile(st.lat.send, 50), p99: percentile(st.lat.send, 99) },
      receive: { p50: percentile(st.lat.receive, 50), p99: percentile(st.lat.receive, 99) },
      ack: { p50: percentile(st.lat.ack, 50), p99: percentile(st.lat.ack, 99) },
    },
  };
}

// Both sides are measured in alternating slices (S B S B …, or B S B S …), so a change in the
// machine's load (it is shared) falls on both alike instead of on whichever side ran second.
const sides: SideState[] = [];
for (const side of args.order) sides.push(await setUp(side));
for (const st of sides) await slice(st, args.warmupSeconds * 1000, false);
const sliceMs = (args.seconds * 1000) / args.slices;
for (let k = 0; k < args.slices; k++) for (const st of sides) await slice(st, sliceMs, true);
finish(sides.map(resultOf));
