/**
 * HTTP scenarios driven by autocannon: the machine's HTTP ceiling (a no-op route), and
 * publishing 1, 100 and 1,000 messages per request into one topic partition, each against
 * the baseline object doing the same INSERTs behind a bare route.
 */
import { runGenerator } from "../generator.ts";
import { sampleMessage } from "../load/common.ts";
import type { HttpPhase, HttpPhaseResult } from "../load/http.ts";
import type { Group, Row, RunContext, RunOutcome } from "./types.ts";

/** Messages per request and connections of each publish row. */
const SHAPE: Record<string, { n: number; connections: number }> = {
  "publish-1": { n: 1, connections: 32 },
  "publish-1-serial": { n: 1, connections: 1 },
  "publish-100": { n: 100, connections: 8 },
  "publish-1000": { n: 1000, connections: 4 },
};

export const httpCeiling: Group = {
  id: "noop",
  quick: false,
  rows: [{
    id: "noop", title: "No-op route (HTTP ceiling, reference)", unit: "req/s", better: "higher", baseline: null,
  }],
  async run(ctx) {
    const phase: HttpPhase = { phase: "noop", method: "GET", path: "/bench/noop", connections: 32, messagesPerRequest: 1 };
    const { result, windows } = await runHttp(ctx, [phase]);
    const r = result[0]!;
    return { noop: { figure: httpFigure(r), baseline: null, cpu: windows.noop ?? null, baselineCpu: null, errors: r.failed } };
  },
};

const publishRows: Row[] = [
  {
    id: "publish-1", title: "Publish, 1 msg/request, 32 connections", unit: "msgs/s", better: "higher",
    baseline: "route -> DO RPC doing one INSERT",
    target: { ratio: 1, text: ">= 100% of baseline (group commit)" },
  },
  {
    id: "publish-1-serial", title: "Publish, 1 msg/request, 1 connection (latency)", unit: "msgs/s", better: "higher",
    baseline: "route -> DO RPC doing one INSERT",
  },
  {
    id: "publish-100", title: "Publish, 100 msgs/request, 8 connections", unit: "msgs/s", better: "higher",
    baseline: "same rows inserted in one transaction, no API",
    target: { ratio: 0.6, text: ">= 60% of baseline" },
  },
  {
    id: "publish-1000", title: "Publish, 1,000 msgs/request, 4 connections", unit: "msgs/s", better: "higher",
    baseline: "same rows inserted in one transaction, no API",
    target: { ratio: 0.6, atLeast: 50_000, text: ">= 60% of baseline and >= 50,000 msgs/s" },
  },
];

export const publish: Group = {
  id: "publish",
  quick: true,
  rows: publishRows,
  async run(ctx, rows) {
    const out: Record<string, RunOutcome> = {};
    for (const row of rows) {
      const { n, connections } = SHAPE[row.id]!;
      const topic = ctx.name(row.id);
      const body = n === 1
        ? JSON.stringify(sampleMessage(0))
        : JSON.stringify({ messages: Array.from({ length: n }, (_, i) => sampleMessage(i)) });
      const common = { method: "POST" as const, body, connections, messagesPerRequest: n };
      const spool: HttpPhase = {
        ...common, phase: "spool", path: `/v1/topics/${topic}/messages`,
        setup: [{ method: "PUT", path: `/v1/topics/${topic}`, body: { partitions: 1 } }],
      };
      const baseline: HttpPhase = {
        ...common, phase: "baseline", path: `/bench/${topic}/${n === 1 ? "insert-one" : "insert-rows"}`,
      };
      out[row.id] = await httpPair(ctx, spool, baseline);
    }
    return out;
  },
};

/** Runs Spool's phase and the baseline's in one generator, in the run's order. */
export async function httpPair(ctx: RunContext, spool: HttpPhase, baseline: HttpPhase): Promise<RunOutcome> {
  const phases = ctx.baselineFirst ? [baseline, spool] : [spool, baseline];
  const { result, windows } = await runHttp(ctx, phases);
  const s = result.find((r) => r.phase === "spool")!;
  const b = result.find((r) => r.phase === "baseline")!;
  const notes = s.ok === 0 ? ["Spool's route answered no 2xx (feature missing or failing)"] : undefined;
  return {
    figure: httpFigure(s),
    baseline: httpFigure(b),
    cpu: windows.spool ?? null,
    baselineCpu: windows.baseline ?? null,
    errors: s.failed + b.failed,
    notes,
  };
}

async function runHttp(ctx: RunContext, phases: HttpPhase[]) {
  const budget = phases.length * (ctx.seconds + ctx.warmupSeconds + 30) * 1000;
  return runGenerator<HttpPhaseResult[]>("http", ctx.server, {
    seconds: ctx.seconds, warmupSeconds: ctx.warmupSeconds, phases,
  }, budget, ctx.log);
}

function httpFigure(r: HttpPhaseResult) {
  const ok = r.ok > 0;
  return {
    value: ok ? r.messagesPerSec : null,
    p50Ms: ok ? r.p50Ms : null,
    p99Ms: ok ? r.p99Ms : null,
    extra: { requestsPerSec: r.requestsPerSec, failed: r.failed },
  };
}
