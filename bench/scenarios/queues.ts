/**
 * Queue scenarios: the full send / receive / ack cycle with 4 consumers against a bare
 * object doing the same inserts, selects and deletes (and per core the server used), and
 * receive latency as the queue's depth grows, each depth against the value at 1k measured
 * in the same run.
 */
import { cpus } from "node:os";
import { runGenerator } from "../generator.ts";
import type { DepthResult } from "../load/depth.ts";
import type { QueueCycleResult } from "../load/queue-cycle.ts";
import type { CpuWindow } from "../generator.ts";
import type { Figure, Group, Row, RunOutcome } from "./types.ts";

/** One side's figure: acks per second, receive latency, and what each operation took. */
function cycleFigure(r: QueueCycleResult | undefined, cpu: CpuWindow | undefined): Figure {
  if (!r) return { value: null };
  const ok = r.ackedPerSec > 0;
  return {
    value: ok ? r.ackedPerSec : null,
    p50Ms: r.latencyMs.receive.p50,
    p99Ms: r.latencyMs.receive.p99,
    extra: {
      perServerCore: ok && cpu && cpu.serverCores > 0 ? r.ackedPerSec / cpu.serverCores : null,
      perMachineCore: ok ? r.ackedPerSec / cpus().length : null,
      sentPerSec: r.sentPerSec,
      sendP50Ms: r.latencyMs.send.p50,
      sendP99Ms: r.latencyMs.send.p99,
      ackP50Ms: r.latencyMs.ack.p50,
      ackP99Ms: r.latencyMs.ack.p99,
    },
  };
}

export const queueCycle: Group = {
  id: "queue-cycle",
  quick: true,
  rows: [{
    id: "queue-cycle", title: "Queue cycle: send / receive / ack by 100, 4 consumers", unit: "msgs/s", better: "higher",
    baseline: "bare object: the same INSERTs, SELECT + lease UPDATEs and DELETEs",
    target: { ratio: 0.5, text: ">= 50% of baseline" },
  }],
  async run(ctx) {
    const { result, windows } = await runGenerator<QueueCycleResult[]>("queue-cycle", ctx.server, {
      seconds: ctx.seconds, warmupSeconds: ctx.warmupSeconds,
      queue: ctx.name("cycle"), baseline: ctx.name("cycle-bare"), order: ctx.baselineFirst ? ["baseline", "spool"] : ["spool", "baseline"],
      producers: 2, consumers: 4, batch: 100, backlogCap: 5000, slices: 4,
    }, 2 * (ctx.seconds + ctx.warmupSeconds + 60) * 1000, ctx.log);
    const s = result.find((r) => r.phase === "spool");
    const b = result.find((r) => r.phase === "baseline");
    return {
      "queue-cycle": {
        figure: cycleFigure(s, windows.spool),
        baseline: cycleFigure(b, windows.baseline),
        cpu: windows.spool ?? null,
        baselineCpu: windows.baseline ?? null,
        errors: (s?.errors ?? 1) + (b?.errors ?? 1),
        notes: ["p50 / p99 are of one receive call (up to 100 messages)"],
      },
    };
  },
};

const depthRow = (d: number): Row => ({
  id: `depth-${d / 1000}k`,
  title: `Receive latency (p99) at queue depth ${(d / 1000).toLocaleString("en-US")}k`,
  unit: "ms",
  better: "lower",
  baseline: "same measure at depth 1k",
  target: d === 100_000 ? { ratio: 2, text: "<= 2x its value at 1k" } : undefined,
});

export const depth: Group = {
  id: "depth",
  quick: true,
  rows: [depthRow(1000), depthRow(10_000), depthRow(100_000)],
  async run(ctx, rows) {
    const depths = rows.map((r) => Number(r.id.slice(6, -1)) * 1000).filter((d) => !ctx.quick || d <= 10_000);
    if (!depths.includes(1000)) depths.unshift(1000);
    const { result, windows } = await runGenerator<DepthResult[]>("depth", ctx.server, {
      seconds: ctx.quick ? 3 : 20, warmupSeconds: 0, queue: ctx.name("depth"), depths, samples: ctx.quick ? 100 : 400,
    }, 10 * 60_000, ctx.log);
    const at1k = result.find((r) => r.depth === 1000);
    const out: Record<string, RunOutcome> = {};
    for (const r of result) {
      const id = `depth-${r.depth / 1000}k`;
      if (!rows.some((row) => row.id === id)) continue;
      out[id] = {
        figure: { value: r.p99Ms, p50Ms: r.p50Ms, p99Ms: r.p99Ms, extra: { ackP50Ms: r.ackP50Ms, fillMsgsPerSec: r.fillMsgsPerSec, samples: r.samples } },
        baseline: at1k ? { value: at1k.p99Ms, p50Ms: at1k.p50Ms, p99Ms: at1k.p99Ms } : null,
        cpu: windows[`depth-${r.depth}`] ?? null,
        baselineCpu: windows["depth-1000"] ?? null,
        errors: r.errors,
      };
    }
    return out;
  },
};
