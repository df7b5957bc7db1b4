/**
 * Load generator: WebSocket fan-out. Opens N subscribers on one topic partition (Spool), on
 * the bare baseline object, or on a partyserver room (the peer), then one publisher publishes one message per request with a
 * small window of messages in flight: the next publish starts when the previous message
 * reached every tracked subscriber, so the server runs flat out without unbounded buffering.
 * Counts every frame on every socket (deliveries/s) and times publish -> receive on up to
 * ten tracked subscribers spread over the connection order. Every subscriber confirms its
 * progress every 50 ms, as Spool's client SDK does.
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

async function phase(kind: FanoutSide): Promise<FanoutPhaseResult> {
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
  const sentAt = new Map<number, number>();
  const seenBy = new Map<number, number>();
  const waiters = new Map<number, () => void>();
  let measuring = false;
  let frames = 0;
  const latencies: number[] = [];

  const onFrame = (sub: Subscriber, data: Buffer) => {
    if (measuring) frames++;
    if (!tracked.has(sub.index)) return;
    const frame = JSON.parse(data.toString()) as { type: string; body?: { seq?: number } };
    const seq = frame.body?.seq;
    if (frame.type !== "message" || typeof seq !== "number") return;
    const t = sentAt.get(seq);
    if (t !== undefined && measuring && latencies.length < 200_000) latencies.push(performance.now() - t);
    const seen = (seenBy.get(seq) ?? 0) + 1;
    seenBy.set(seq, seen);
    if (seen >= trackedCount) waiters.get(seq)?.();
  };

  const subs = await openSubscribers(wsUrl(args.url, subscribePath), auth, n, onFrame);
  // Every side gets the same acks (the bare object and the room ignore them), so client work is equal.
  const stopConfirming = confirmProgress(subs);
  if (kind !== "spool") {
    // Every upgrade has reached the object once it counts them all.
    const socketsPath = kind === "baseline" ? `/bench/${args.baseline}/sockets` : publishPath;
    for (let i = 0; i < 100; i++) {
      const r = await call<{ sockets: number }>(args, "GET", socketsPath);
      if (r.body.sockets >= n) break;
      await sleep(50);
    }
  }

  let seq = 0;
  let errors = 0;
  let missing = 0;
  let stop = false;
  const publishOne = async (): Promise<void> => {
    const s = seq++;
    const done = new Promise<boolean>((resolve) => {
      waiters.set(s, () => resolve(true));
      setTimeout(() => resolve(false), MESSAGE_TIMEOUT_MS);
    });
    sentAt.set(s, performance.now());
    const message = sampleMessage(s);
    const res = await call(args, "POST", publishPath, message);
    if (res.status !== 201 && res.status !== 200) errors++;
    else if (!(await done)) missing++;
    waiters.delete(s);
    sentAt.delete(s);
    seenBy.delete(s);
  };
  const publisher = async () => {
    while (!stop) await publishOne();
  };
  const loops = Array.from({ length: args.window }, publisher);

  await sleep(args.warmupSeconds * 1000);
  const publishedBefore = seq;
  measuring = true;
  const elapsed = startPhase(kind);
  await sleep(args.seconds * 1000);
  measuring = false;
  const seconds = elapsed();
  endPhase(kind);
  const published = seq - publishedBefore;
  stop = true;
  await Promise.all(loops);
  stopConfirming();
  const closed = subs.filter((s) => s.closedEarly !== null);
  if (closed.length > 0) emit({ event: "log", message: `${kind}: ${closed.length} sockets closed by the server, e.g. ${closed[0]!.closedEarly}` });
  const closedByServer = closed.length;
  const expected = seq * n;
  const received = () => subs.reduce((sum, s) => sum + s.frames, 0);
  for (let i = 0; i < 40 && received() < expected; i++) await sleep(50); // stragglers

  await closeSubscribers(subs);
  return {
    phase: kind,
    subscribers: n,
    seconds,
    published,
    deliveriesPerSec: frames / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors: errors + missing + closedByServer,
    missingFrames: Math.max(0, expected - received()),
  };
}

const results: FanoutPhaseResult[] = [];
for (const kind of args.order) {
  try {
    results.push(await phase(kind));
  } catch (err) {
    emit({ event: "log", message: `${kind}: ${(err as Error).message}` });
    results.push({
      phase: kind, subscribers: args.subscribers, seconds: 0, published: 0, deliveriesPerSec: 0,
      p50Ms: null, p99Ms: null, errors: 1, missingFrames: 0,
    });
  }
}
finish(results);
