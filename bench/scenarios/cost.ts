/**
 * Cost per message: what each operation is billed for on Cloudflare (Durable Object
 * requests and SQLite rows written and read), counted by the bench Worker's meter while the
 * cost generator (bench/load/cost.ts) runs each operation. Counted, not timed, so the
 * figures do not depend on the machine or its load; test/workers/cost.test.ts bounds the
 * main ones. The rows are reported in their own table with a monthly example (report/cost.ts).
 */
import { runGenerator } from "../generator.ts";
import type { CostResult } from "../load/cost.ts";
import type { Group, Row, RunOutcome } from "./types.ts";

/** Row ids are the generator's operation ids with a `cost-` prefix (`publish-1` is also a throughput row). */
const costRow = (op: string, title: string): Row => ({
  id: `cost-${op}`, title, unit: "rows written / msg", better: "lower", baseline: null, kind: "cost",
});

export const COST_ROWS: Row[] = [
  costRow("publish-1", "Publish, 1 message per request"),
  costRow("publish-100", "Publish, 100 per request"),
  costRow("publish-1000", "Publish, 1,000 per request"),
  costRow("send-1", "Queue send, 1 per request"),
  costRow("send-100", "Queue send, 100 per request"),
  costRow("receive-100", "Queue receive, 100 per request"),
  costRow("ack-100", "Queue ack, 100 per request"),
  costRow("nack-100", "Queue nack, 100 per request"),
  costRow("group-poll-100", "Consumer group poll, 100 per request"),
  costRow("group-ack-100", "Consumer group ack, 100 per request"),
  costRow("forward-queue", "Subscription forward into a queue (after the publish)"),
  costRow("webhook", "Webhook delivery (after the publish)"),
  costRow("live-delivery", "Live delivery to a WebSocket subscriber (after the publish)"),
];

export const cost: Group = {
  id: "cost",
  quick: true,
  rows: COST_ROWS,
  async run(ctx, rows) {
    const { result } = await runGenerator<CostResult[]>("cost", ctx.server, {
      seconds: 0, warmupSeconds: 0, prefix: ctx.name("cost"),
    }, 180_000, ctx.log);
    const out: Record<string, RunOutcome> = {};
    for (const r of result) {
      const id = `cost-${r.id}`;
      if (!rows.some((row) => row.id === id)) continue;
      const c = r.counts;
      const per = (x: number) => x / r.messages;
      out[id] = {
        figure: {
          value: per(c.rowsWritten),
          extra: {
            rowsReadPerMsg: per(c.rowsRead),
            requestsPerMsg: per(c.requests + c.wsMessages / 20),
            wsMessagesPerMsg: per(c.wsMessages),
            alarmWritesPerMsg: per(c.alarmWrites),
            statementsPerMsg: per(c.statements),
          },
        },
        baseline: null,
        cpu: null,
        baselineCpu: null,
        errors: r.error ? 1 : 0,
        notes: r.error ? [r.error] : undefined,
      };
    }
    return out;
  },
};
