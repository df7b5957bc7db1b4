/**
 * `npm run soak`: a long run of mixed load against a local Spool with kill -9 and restart on
 * the same state, then a check of every guarantee. Writes bench/results/soak.json and
 * soak.svg (or --out <dir>) and exits non-zero when a guarantee did not hold.
 *
 *   npm run soak -- --minutes 12 --kill-every 3 --pause 50 --batch 10 --partitions 4
 *   npm run soak -- --minutes 5 --kill-every 0          # no kills
 *   npm run soak -- --server wrangler-dev                # through wrangler dev, as npm start runs (default: direct socket)
 *   npm run soak -- --minutes 5 --kill-every 0 --prefill 1000000   # on a topic already holding an hour's messages
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { soakChart } from "./chart.ts";
import { DEFAULT_SOAK, runSoak, type SoakOptions } from "./soak.ts";

const { values } = parseArgs({
  options: {
    minutes: { type: "string" },
    "kill-every": { type: "string", description: "minutes between kill -9 (0 = never)" },
    pause: { type: "string", description: "ms between one producer's batches" },
    batch: { type: "string" },
    partitions: { type: "string" },
    producers: { type: "string" },
    consumers: { type: "string" },
    push: { type: "string", description: "push consumers on the queue's WebSocket" },
    publishers: { type: "string" },
    ws: { type: "string" },
    sse: { type: "string" },
    "dedup-window": { type: "string", description: "deduplicationWindow (s) of the soak's queue and topic (default 300)" },
    prefill: { type: "string", description: "messages published to the topic before the load (a retained log, as a long run leaves)" },
    out: { type: "string" },
    server: { type: "string", description: "direct (Miniflare, direct socket; default) or wrangler-dev" },
  },
});
if (values.server !== undefined && values.server !== "direct" && values.server !== "wrangler-dev") {
  console.error(`--server takes direct or wrangler-dev, not '${values.server}'`);
  process.exit(2);
}

const num = (v: string | undefined, fallback: number): number => (v === undefined ? fallback : Number(v));
const options: SoakOptions = {
  ...DEFAULT_SOAK,
  durationMs: num(values.minutes, DEFAULT_SOAK.durationMs / 60_000) * 60_000,
  killEveryMs: num(values["kill-every"], DEFAULT_SOAK.killEveryMs / 60_000) * 60_000,
  pauseMs: num(values.pause, DEFAULT_SOAK.pauseMs),
  batch: num(values.batch, DEFAULT_SOAK.batch),
  partitions: num(values.partitions, DEFAULT_SOAK.partitions),
  producers: num(values.producers, DEFAULT_SOAK.producers),
  leaseConsumers: num(values.consumers, DEFAULT_SOAK.leaseConsumers),
  pushConsumers: num(values.push, DEFAULT_SOAK.pushConsumers),
  publishers: num(values.publishers, DEFAULT_SOAK.publishers),
  wsSubscribers: num(values.ws, DEFAULT_SOAK.wsSubscribers),
  sseSubscribers: num(values.sse, DEFAULT_SOAK.sseSubscribers),
  prefill: num(values.prefill, 0),
  ...(values["dedup-window"] === undefined ? {} : { dedupWindow: Number(values["dedup-window"]) }),
  server: values.server === "wrangler-dev" ? "wrangler-dev" : "direct",
  log: (line) => console.log(`[soak] ${line}`),
};

const report = await runSoak(options);
const outDir = resolve(values.out ?? join(import.meta.dirname, "../results"));
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "soak.json"), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(outDir, "soak.svg"), soakChart(report));
console.log(`[soak] counts ${JSON.stringify(report.counts)}`);
for (const row of report.rssPerMinuteMb) {
  const op = (name: string): string => {
    const l = report.latency.find((x) => x.minute === row.minute && x.op === name);
    return `${name} p50 ${l?.p50 ?? "-"} p99 ${l?.p99 ?? "-"} ms`;
  };
  console.log(
    `[soak] minute ${row.minute}: rss ${row.totalMb} MB (Spool's workerd ${row.spoolMb} MB), state ${row.stateMb} MB,${row.heapMb === undefined ? "" : ` V8 heap ${row.heapMb} MB,`}`
      + ` load ${row.load1}, cpu spool ${row.spoolCpuPct}% soak ${row.clientCpuPct}%, soak heap ${row.clientHeapMb} MB lag p99 ${row.clientLagMs} ms, ${op("send")}, ${op("publish")}`,
  );
}
for (const [name, list] of Object.entries(report.guarantees)) console.log(`[soak] ${name}: ${list.length === 0 ? "held" : `${list.length} violations, e.g. ${list.slice(0, 3).join("; ")}`}`);
console.log(`[soak] wrote ${join(outDir, "soak.json")} and soak.svg`);
if (report.seenLate.count > 0) console.log(`[soak] seen late (made before an ack, seen after it; not violations): ${report.seenLate.count}, e.g. ${report.seenLate.examples.slice(0, 3).join("; ")}`);
process.exit(report.violations === 0 ? 0 : 1);
