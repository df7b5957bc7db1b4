/**
 * Load generator: WebSocket fan-out. Opens N subscribers on one topic partition (Spool), on
 * the bare baseline object, and on a partyserver room (the peer), then one publisher
 * publishes one message per request with a small window of messages in flight: the next
 * publish starts when the previous message reached every tracked subscriber, so the server
 * runs flat out without unbounded buffering. Counts every frame on every socket
 * (deliveries/s) and times publish -> receive on up to ten tracked subscribers spread over
 * the connection order. Every subscriber confirms its progress every 50 ms, as Spool's
 * client SDK does. The sides are measured in alternating slices (all sockets stay open),
 * so a change in the shared machine's load falls on every side alike.
 */
import { call, emit, endPhase, finish, generatorArgs, must, sampleMessage, sleep, startPhase } from "./common.ts";
import type { GeneratorArgs } from "./protocol.ts";
import { closeSubscribers, confirmProgress, openSubscribers, wsUrl, type Subscriber } from "./sockets.ts";
import { percentile } from "../stats.ts";

/** Spool's partition, the bare object sending the same frames, the partyserver room. */
export type FanoutSide = "spool" | "baseline" | "peer";

interface Args extends GeneratorArgs {
  subscribers: number;
  topic: string;
  baseline: string;
  order: FanoutSide[];
  /** Messages published but not yet seen by every tracked subscriber. */
  window: number;
  /** Measured slices per side, alternating between the sides. */
  slices: number;
}

export interface FanoutPhaseResult {
  phase: FanoutSide;
  subscribers: number;
  seconds: number;
  published: number;
  deliveriesPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /** Failed publishes, upgrade failures, sockets closed by the server, frames never seen. */
  errors: number;
  missingFrames: number;
}

const args = generatorArgs<Args>();
const MESSAGE_TIMEOUT_MS = 5_000;

/** One side: its sockets, what they saw, and its publisher's counters (kept across slices). */
interface Side {
  kind: FanoutSide;
  publishPath: string;
  subs: Subscriber[];
  stopConfirming: () => void;
  seq: number;
  sentAt: Map<number, number>;
  seenBy: Map<number, number>;
  waiters: Map<number, () => void>;
  measuring: boolean;
  frames: number;
  latencies: number[];
  errors: number;
  missing: number;
  seconds: number;
  published: number;
}

async function open(kind: FanoutSide): Promise<Side> {
  const auth = { authorization: `Bearer ${args.adminKey}` };
  let subscribePath: string;
  let publishPath: string;
  if (kind === "spool") {
    await must(args, "PUT", `/v1/topics/${args.topic}`, { partitions: 1 });
    subscribePath = `/v1/topics/${args.topic}/subscribe?partition=0&from=latest`;
    publishPath = `/v1/topics/${args.topic}/messages`;
  } else if (kind === "baseline") {
    subscribePath = `/bench/${args.baseline}/subscribe`;
    publishPath = `/bench/${args.baseline}/publish`;
  } else {
    subscribePath = `/parties/party/${args.baseline}`;
    publishPath = subscribePath;
  }
  const n = args.subscribers;
  const trackedCount = Math.min(10, n);
  const tracked = new Set(Array.from({ length: trackedCount }, (_, k) => n - 1 - Math.floor((k * n) / trackedCount)));
  const side: Side = {
    kind, publishPath, subs: [], stopConfirming: () => {}, seq: 0, sentAt: new Map(), seenBy: new Map(), waiters: new Map(),
    measuring: false, frames: 0, latencies: [], errors: 0, missing: 0, seconds: 0, published: 0,
  };
  const onFrame = (sub: Subscriber, data: Buffer) => {
    if (side.measuring) side.frames++;
    if (!tracked.has(sub.index)) return;
    const frame = JSON.parse(data.toString()) as { type: string; body?: { seq?: number } };
    const seq = frame.body?.seq;
    if (frame.type !== "message" || typeof seq !== "number") return;
    const t = side.sentAt.get(seq);
    if (t !== undefined && side.measuring && side.latencies.length < 200_000) side.latencies.push(performance.now() - t);
    const seen = (side.seenBy.get(seq) ?? 0) + 1;
    side.seenBy.set(seq, seen);
    if (seen >= trackedCount) side.waiters.get(seq)?.();
  };
  side.subs = await openSubscribers(wsUrl(args.url, subscribePath), auth, n, onFrame);
  // Every side gets the same acks (the bare object and the room ignore them), so client work is equal.
  side.stopConfirming = confirmProgress(side.subs);
  if (kind !== "spool") {
    // Every upgrade has reached the object once it counts them all.
    const socketsPath = kind === "baseline" ? `/bench/${args.baseline}/sockets` : publishPath;
    for (let i = 0; i < 100; i++) {
      const r = await call<{ sockets: number }>(args, "GET", socketsPath);
      if (r.body.sockets >= n) break;
      await sleep(50);
    }
  }
  return side;
}

/** Publishes on `side` for `ms` with the window of messages in flight, measured or as warm-up. */
async function slice(side: Side, ms: number, measure: boolean): Promise<void> {
  let stop = false;
  const publishOne = async (): Promise<void> => {
    const s = side.seq++;
    const done = new Promise<boolean>((resolve) => {
      side.waiters.set(s, () => resolve(true));
      setTimeout(() => resolve(false), MESSAGE_TIMEOUT_MS);
    });
    side.sentAt.set(s, performance.now());
    const res = await call(args, "POST", side.publishPath, sampleMessage(s));
    if (res.status !== 201 && res.status !== 200) side.errors++;
    else if (!(await done)) side.missing++;
    side.waiters.delete(s);
    side.sentAt.delete(s);
    side.seenBy.delete(s);
  };
  const publisher = async () => {
    while (!stop) await publishOne();
  };
  const loops = Array.from({ length: args.window }, publisher);
  const publishedBefore = side.seq;
  side.measuring = measure;
  const elapsed = measure ? startPhase(side.kind) : () => 0;
  await sleep(ms);
  side.measuring = false;
  if (measure) {
    side.seconds += elapsed();
    endPhase(side.kind);
    side.published += side.seq - publishedBefore;
  }
  stop = true;
  await Promise.all(loops);
}

async function close(side: Side): Promise<FanoutPhaseResult> {
  side.stopConfirming();
  const closed = side.subs.filter((s) => s.closedEarly !== null);
  if (closed.length > 0) emit({ event: "log", message: `${side.kind}: ${closed.length} sockets closed by the server, e.g. ${closed[0]!.closedEarly}` });
  const expected = side.seq * args.subscribers;
  const received = () => side.subs.reduce((sum, s) => sum + s.frames, 0);
  for (let i = 0; i < 40 && received() < expected; i++) await sleep(50); // stragglers
  const missingFrames = Math.max(0, expected - received());
  await closeSubscribers(side.subs);
  return {
    phase: side.kind,
    subscribers: args.subscribers,
    seconds: side.seconds,
    published: side.published,
    deliveriesPerSec: side.seconds > 0 ? side.frames / side.seconds : 0,
    p50Ms: percentile(side.latencies, 50),
    p99Ms: percentile(side.latencies, 99),
    errors: side.errors + side.missing + closed.length,
    missingFrames,
  };
}

const failed = (kind: FanoutSide): FanoutPhaseResult => ({
  phase: kind, subscribers: args.subscribers, seconds: 0, published: 0, deliveriesPerSec: 0, p50Ms: null, p99Ms: null, errors: 1, missingFrames: 0,
});

const sides: Side[] = [];
const results: FanoutPhaseResult[] = [];
for (const kind of args.order) {
  try {
    sides.push(await open(kind));
  } catch (err) {
    emit({ event: "log", message: `${kind}: ${(err as Error).message}` });
    results.push(failed(kind));
  }
}
for (const side of sides) await slice(side, args.warmupSeconds * 1000, false);
const sliceMs = (args.seconds * 1000) / args.slices;
for (let k = 0; k < args.slices; k++) for (const side of sides) await slice(side, sliceMs, true);
for (const side of sides) results.push(await close(side));
finish(results);
