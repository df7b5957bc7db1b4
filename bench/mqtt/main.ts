/**
 * MQTT fan-out bench (issue 21, "Measure"): one publisher, N subscribers on one topic, at
 * QoS 0 and QoS 1, on Spool's `/v1/mqtt` (mqtt.js), on Spool's own WebSocket subscription
 * of the same Spool topic, and on aedes (a well-known Node MQTT broker, in memory) served
 * over WebSocket on the same machine with the same mqtt.js clients. Deliveries/s (messages
 * received by all subscribers / measured seconds) and publish -> deliver p50/p99 (timed on
 * ten tracked subscribers). Spool runs as shipped (worker/index.ts, default settings, so
 * past 500 subscribers a partition serves the rest through relays) under Miniflare with a
 * direct socket; aedes in its own process. Both run side by side and rows take turns, the
 * order reversed every other run, so drift on a shared machine favours neither. Every phase
 * and every generator is bounded; only 127.0.0.1 is bound.
 *
 *   npx node bench/mqtt/main.ts [--seconds 5] [--sizes 100,1000] [--runs 3] [--window 4] [--out bench/results]
 *
 * Writes `<out>/mqtt-fanout.json` and `.md`. See bench/mqtt/fanout.ts for the topic shape.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { runGenerator } from "../generator.ts";
import { loadAverage } from "../procstat.ts";
import { ALL_SPOOL_OBJECTS, bundleWorker, runMiniflare, type BenchServer } from "../server.ts";
import { median } from "../stats.ts";
import { ROWS, type FanoutArgs, type FanoutResult, type RowKind } from "./messages.ts";
import { markdown, type MqttBenchResults, type Row } from "./report.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const WORKER = "spool-mqtt-bench";

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const seconds = Number(option("seconds", "5"));
const sizes = option("sizes", "100,1000").split(",").map(Number);
const runs = Number(option("runs", "3"));
const window = Number(option("window", "4"));
const warmupSeconds = Math.min(2, seconds);
const outDir = resolve(option("out", join(ROOT, "bench/results")));
const log = (line: string) => process.stderr.write(`${line}\n`);
if (![seconds, runs, window, ...sizes].every((n) => Number.isFinite(n) && n > 0) || sizes.some((n) => n > 5000)) {
  throw new Error("--seconds, --runs, --window and --sizes must be positive numbers (sizes at most 5,000)");
}

/** Spool as shipped (worker/index.ts, its own Durable Objects), under Miniflare with a direct socket. */
function startSpool(scriptPath: string): Promise<BenchServer> {
  return runMiniflare(scriptPath, {
    name: WORKER,
    durableObjects: ALL_SPOOL_OBJECTS,
  });
}

/** aedes in its own process (bench/mqtt/aedes.ts); it stops when our end of its stdin closes. */
async function startAedes(): Promise<BenchServer> {
  const child: ChildProcess = spawn(process.execPath, [join(import.meta.dirname, "aedes.ts")], {
    stdio: ["pipe", "pipe", "inherit"], env: { ...process.env, NODE_NO_WARNINGS: "1" },
  });
  const port = await new Promise<number>((done, fail) => {
    const timer = setTimeout(() => fail(new Error("aedes did not start in 15 s")), 15_000);
    createInterface({ input: child.stdout! }).once("line", (line) => {
      clearTimeout(timer);
      done((JSON.parse(line) as { port: number }).port);
    });
    child.once("exit", (code) => fail(new Error(`aedes exited (${code})`)));
  });
  return {
    kind: "external", url: `http://127.0.0.1:${port}`, adminKey: "",
    pids: () => (child.pid === undefined ? [] : [child.pid]),
    stop: async () => {
      child.stdin!.end();
      const exited = new Promise((r) => child.once("exit", r));
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

// Under the repository, as the bench harness does (workerd here does not load scripts from /tmp).
const workDir = join(ROOT, "bench/results/tmp", `mqtt-${Date.now().toString(36)}`);
mkdirSync(workDir, { recursive: true });
const scriptPath = await bundleWorker(workDir, ROOT, join(ROOT, "worker/index.ts"));
const loadBefore = loadAverage();
const rows: Row[] = [];

const spool = await startSpool(scriptPath);
let aedes: BenchServer | null = null;
try {
  aedes = await startAedes();
  for (const n of sizes) {
    for (let run = 0; run < runs; run++) {
      for (const kind of run % 2 === 0 ? ROWS : [...ROWS].reverse()) {
        const server = kind.startsWith("spool-") ? spool : aedes;
        const topic = `mb-${kind.replace(/-/g, "")}-${n}-${run}-${Date.now().toString(36)}`;
        const mqttUrl = `${server.url.replace(/^http/, "ws")}${server === spool ? "/v1/mqtt" : "/mqtt"}`;
        const budget = (warmupSeconds + seconds) * 1000 + 300_000; // opening 1,000 clients and closing them included
        const args: Omit<FanoutArgs, "url" | "adminKey"> = { seconds, warmupSeconds, row: kind, subscribers: n, mqttUrl, topic, window };
        try {
          const out = await runGenerator<FanoutResult>("../mqtt/fanout", server, args, budget, log);
          const r = out.result;
          const cpu = out.windows[kind];
          rows.push({ ...r, run, serverCores: cpu?.serverCores ?? null, generatorCores: cpu?.generatorCores ?? null });
          log(`${n} ${kind} (run ${run + 1}): ${Math.round(r.deliveriesPerSec)} deliveries/s p50 ${r.p50Ms?.toFixed(2)} p99 ${r.p99Ms?.toFixed(2)} ` +
            `errors ${r.errors} missing ${r.missingDeliveries} cores server ${cpu?.serverCores.toFixed(2)} generator ${cpu?.generatorCores.toFixed(2)}`);
        } catch (err) {
          log(`${n} ${kind} (run ${run + 1}) failed: ${(err as Error).message}`);
          rows.push({
            row: kind, subscribers: n, run, seconds: 0, published: 0, deliveriesPerSec: 0, p50Ms: null, p99Ms: null, errors: 1,
            missingDeliveries: 0, serverCores: null, generatorCores: null,
          });
        }
      }
    }
  }
} finally {
  await aedes?.stop();
  await spool.stop();
  rmSync(workDir, { recursive: true, force: true });
}

/** The median of each figure over the runs of one size and row; errors add up. */
function medians(all: Row[]): Row[] {
  const out: Row[] = [];
  for (const n of sizes) {
    for (const kind of ROWS) {
      const runsOf = all.filter((r) => r.subscribers === n && r.row === kind);
      if (runsOf.length === 0) continue;
      // A failed run counts in errors, not in the figures.
      const measured = runsOf.filter((r) => r.seconds > 0);
      const g = measured.length > 0 ? measured : runsOf;
      const med = (pick: (r: Row) => number | null) => median(g.map(pick));
      out.push({
        row: kind as RowKind, subscribers: n, run: -1, seconds: med((r) => r.seconds) ?? 0, published: med((r) => r.published) ?? 0,
        deliveriesPerSec: med((r) => r.deliveriesPerSec) ?? 0, p50Ms: med((r) => r.p50Ms), p99Ms: med((r) => r.p99Ms),
        errors: runsOf.reduce((a, r) => a + r.errors, 0), missingDeliveries: runsOf.reduce((a, r) => a + r.missingDeliveries, 0),
        serverCores: med((r) => r.serverCores), generatorCores: med((r) => r.generatorCores),
      });
    }
  }
  return out;
}

const results: MqttBenchResults = {
  date: new Date().toISOString(), seconds, warmupSeconds, runs, window, sizes,
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "", memoryGiB: Math.round(totalmem() / 2 ** 30) },
  load: { before: loadBefore, after: loadAverage() }, summary: medians(rows), rows,
};
const md = markdown(results);
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "mqtt-fanout.json"), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(outDir, "mqtt-fanout.md"), md);
process.stdout.write(md);
