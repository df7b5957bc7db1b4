/**
 * The SQS translation's cost: SendMessageBatch of 10 and ReceiveMessage + DeleteMessageBatch
 * through the SQS-compatible API (the real AWS SDK v3) against the same work through /v1, in
 * the same run, 2 producers and 4 consumers each. The translation must be thin: >= 80%.
 */
import { runGenerator } from "../generator.ts";
import type { SqsCyclePhase } from "../load/sqs-cycle.ts";
import type { CpuWindow } from "../generator.ts";
import type { Figure, Group } from "./types.ts";

/** The phase's figure; `perServerCore` (messages per second of server CPU) shows the translation's own cost. */
function figureOf(p: SqsCyclePhase, cpu: CpuWindow | undefined): Figure {
  const ok = p.deletedPerSec > 0;
  return {
    value: ok ? p.deletedPerSec : null,
    p50Ms: p.latencyMs.receive.p50,
    p99Ms: p.latencyMs.receive.p99,
    extra: {
      perServerCore: ok && cpu && cpu.serverCores > 0 ? p.deletedPerSec / cpu.serverCores : null,
      sentPerSec: p.sentPerSec,
      sendP50Ms: p.latencyMs.send.p50,
      sendP99Ms: p.latencyMs.send.p99,
      deleteP50Ms: p.latencyMs.delete.p50,
      deleteP99Ms: p.latencyMs.delete.p99,
    },
  };
}

export const sqsCycle: Group = {
  id: "sqs-cycle",
  quick: true,
  rows: [{
    id: "sqs-cycle", title: "SQS API: SendMessageBatch 10 + ReceiveMessage / DeleteMessageBatch", unit: "msgs/s", better: "higher",
    baseline: "the same work through /v1 (send 10, receive 10, ack)",
    target: { ratio: 0.8, text: ">= 80% of /v1" },
  }],
  async run(ctx) {
    const order = ctx.baselineFirst ? ["v1", "sqs"] : ["sqs", "v1"];
    const { result, windows } = await runGenerator<SqsCyclePhase[]>("sqs-cycle", ctx.server, {
      seconds: ctx.seconds, warmupSeconds: ctx.warmupSeconds, queue: ctx.name("sqs"), producers: 2, consumers: 4, backlogCap: 2000, order,
    }, 2 * (ctx.seconds + ctx.warmupSeconds + 60) * 1000, ctx.log);
    const sqs = result.find((p) => p.side === "sqs")!;
    const v1 = result.find((p) => p.side === "v1")!;
    return {
      "sqs-cycle": {
        figure: figureOf(sqs, windows.spool),
        baseline: figureOf(v1, windows.baseline),
        cpu: windows.spool ?? null,
        baselineCpu: windows.baseline ?? null,
        errors: sqs.errors + v1.errors,
        notes: ["the SQS side includes the SDK's SigV4 signing and MD5 checks; p50 / p99 are of one receive call (up to 10 messages)"],
      },
    };
  },
};
