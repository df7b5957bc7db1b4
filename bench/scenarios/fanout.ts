/**
 * WebSocket scenarios: fan-out from one publisher to 1, 100 and 1,000 subscribers of one
 * partition against a bare object sending the same frames to as many sockets and against
 * a partyserver room (the peer: what Workers developers use for realtime rooms), all three
 * in one generator run, in alternating slices; and the server's memory with 1,000 idle
 * subscribers.
 */
import { runGenerator } from "../generator.ts";
import type { FanoutPhaseResult, FanoutSide } from "../load/fanout.ts";
import type { Figure, Group, Row, RunOutcome } from "./types.ts";

/**
 * Messages the publisher keeps in flight (published, not yet seen by every tracked
 * subscriber): enough that the server never waits for the next publish, few enough that
 * latency stays publish -> receive rather than queueing (32 in flight measured lower
 * throughput and 10x the latency).
 */
const PUBLISH_WINDOW = 4;

const fanoutRow = (n: number): Row => ({
  id: `fanout-${n}`,
  title: `WebSocket fan-out, 1 publisher -> ${n.toLocaleString("en-US")} subscriber${n === 1 ? "" : "s"}`,
  unit: "deliveries/s",
  better: "higher",
  baseline: "bare object sending the same frames",
  target: n === 1 || n === 1000 ? { ratio: 0.7, text: ">= 70% of baseline" } : undefined,
});

/** The same run's Spool figure against the partyserver room (the peer). */
const peerRow = (n: number): Row => ({
  id: `fanout-${n}-peer`,
  title: `Fan-out 1 -> ${n.toLocaleString("en-US")} vs partyserver`,
  unit: "deliveries/s",
  better: "higher",
  baseline: "partyserver room broadcasting the same frames",
  target: n >= 100 ? { ratio: 0.9, text: ">= 90% of partyserver" } : undefined,
});

const SIZES = [1, 100, 1000];

function figureOf(r: FanoutPhaseResult | undefined): Figure {
  if (!r || r.seconds === 0) return { value: null };
  return { value: r.deliveriesPerSec, p50Ms: r.p50Ms, p99Ms: r.p99Ms, extra: { publishedPerSec: r.published / r.seconds, missingFrames: r.missingFrames } };
}

/** Each side first in turn across runs, so drift on a shared machine favours none. */
function orderOf(run: number): FanoutSide[] {
  const sides: FanoutSide[] = ["spool", "peer", "baseline"];
  const k = run % sides.length;
  return [...sides.slice(k), ...sides.slice(0, k)];
}

let runs = 0;

export const fanout: Group = {
  id: "fanout",
  quick: true,
  rows: SIZES.flatMap((n) => [fanoutRow(n), peerRow(n)]),
  async run(ctx, rows) {
    const out: Record<string, RunOutcome> = {};
    const order = orderOf(runs++);
    for (const n of SIZES) {
      const wanted = rows.filter((r) => r.id === `fanout-${n}` || r.id === `fanout-${n}-peer`);
      if (wanted.length === 0) continue;
      const subscribers = ctx.quick ? Math.min(n, 100) : n;
      const name = ctx.name(`fan${n}`);
      const { result, windows } = await runGenerator<FanoutPhaseResult[]>("fanout", ctx.server, {
        seconds: ctx.seconds,
        warmupSeconds: ctx.warmupSeconds,
        subscribers,
        topic: name,
        baseline: name,
        order,
        window: PUBLISH_WINDOW,
        slices: 4,
      }, 3 * (ctx.seconds + ctx.warmupSeconds + 90) * 1000, ctx.log);
      const s = result.find((r) => r.phase === "spool");
      const b = result.find((r) => r.phase === "baseline");
      const p = result.find((r) => r.phase === "peer");
      const notes = subscribers !== n ? [`quick mode: ${subscribers} subscribers`] : undefined;
      for (const row of wanted) {
        const other = row.id.endsWith("-peer") ? p : b;
        const otherCpu = row.id.endsWith("-peer") ? windows.peer : windows.baseline;
        out[row.id] = {
          figure: figureOf(s),
          baseline: figureOf(other),
          cpu: windows.spool ?? null,
          baselineCpu: otherCpu ?? null,
          errors: (s?.errors ?? 1) + (other?.errors ?? 1),
          notes,
        };
      }
    }
    return out;
  },
};

const MB = 2 ** 20;

export const memory: Group = {
  id: "memory",
  quick: false,
  rows: [{
    id: "memory", title: "Server RSS, 1,000 idle subscribers", unit: "MiB", better: "lower",
    baseline: "server RSS idle",
  }],
  async run(ctx) {
    const subscribers = ctx.quick ? 100 : 1000;
    const name = ctx.name("mem");
    const { result, samples } = await runGenerator<{ notes: string[] }>("memory", ctx.server, {
      seconds: 0, warmupSeconds: 0, subscribers, topic: name, baseline: name,
      settleMs: ctx.quick ? 500 : 3000, hibernateMs: ctx.quick ? 0 : 30_000,
    }, 180_000, ctx.log);
    const mib = (label: string) => (samples[label] === undefined ? null : samples[label]! / MB);
    const perSocketKiB = (withSockets: number | undefined, idle: number | undefined) =>
      withSockets === undefined || idle === undefined ? null : (withSockets - idle) / 1024 / subscribers;
    return {
      memory: {
        figure: {
          value: mib("spool"),
          extra: {
            kibPerSubscriber: perSocketKiB(samples.spool, samples.idle),
            hibernatedMiB: mib("spoolHibernated"),
            bareObjectMiB: mib("bare"),
            bareKibPerSocket: perSocketKiB(samples.bare, samples.idleAgain),
          },
        },
        baseline: { value: mib("idle") },
        cpu: null,
        baselineCpu: null,
        errors: result.notes.length,
        notes: [...result.notes, ...(subscribers !== 1000 ? [`quick mode: ${subscribers} subscribers`] : [])],
      },
    };
  },
};
