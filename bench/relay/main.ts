/**
 * Relay fan-out bench (issue 16): the same WebSocket fan-out generator as the fan-out rows
 * (bench/load/fanout.ts: one publisher, N subscribers acking every 50 ms, publish -> receive
 * timed on ten tracked subscribers), run on Spool with every subscriber served directly by
 * the partition (`SPOOL_LIVE_RELAYS=never`) and with every subscriber served by relays
 * (`always`), beside the bare single object sending the same frames (the baseline). Also
 * the server's memory per idle subscriber both ways. One Miniflare server per policy (the
 * policy is a Worker var), both running, taking turns run by run; each phase bounded.
 *
 *   npx node bench/relay/main.ts [--seconds 5] [--sizes 1,1000,9000] [--memory 4000] [--runs 3] [--out bench/results]
 *
 * Writes `<out>/relay-fanout.json` and `.md`. Direct service stops at the socket cap
 * (5,000): sizes above it are measured through relays and against the baseline only.
 * 9,000 rather than 10,000 by default: this machine allows a process 20,000 open files,
 * and workerd ran out of them at 10,000 sockets (the relays did not).
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { runGenerator } from "../generator.ts";
import type { FanoutPhaseResult } from "../load/fanout.ts";
import { loadAverage } from "../procstat.ts";
import { BASELINE_OBJECTS, bundleWorker, runMiniflare, SPOOL_OBJECTS, type BenchServer } from "../server.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const WORKER = "spool-relay-bench";
const CAP = 5000;

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const seconds = Number(option("seconds", "5"));
const sizes = option("sizes", "1,1000,9000").split(",").map(Number);
const memorySubscribers = Math.min(CAP, Number(option("memory", "4000")));
const runs = Number(option("runs", "3"));
const outDir = resolve(option("out", join(ROOT, "bench/results")));
const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * The Worker measured: the bench Worker (Spool plus the bare baseline object, see
 * bench/worker/index.ts) with Spool's relay class exported too. Written beside the bundle
 * (not a source file: it would pull Workers types into the Node type-check of bench/).
 */
const ENTRY = `export { default, BenchBaseline, BenchParty, Catalog, QueueObject, TopicPartition } from ${JSON.stringify(join(ROOT, "bench/worker/index.ts"))};
export { TopicRelay } from ${JSON.stringify(join(ROOT, "worker/index.ts"))};
`;

async function bundle(dir: string): Promise<string> {
  const entry = join(dir, "entry.ts");
  writeFileSync(entry, ENTRY);
  return bundleWorker(dir, ROOT, entry);
}

function start(scriptPath: string, policy: "never" | "always"): Promise<BenchServer> {
  return runMiniflare(scriptPath, {
    name: WORKER,
    vars: { SPOOL_LIVE_RELAYS: policy, SPOOL_MAX_SOCKETS_PER_OBJECT: String(CAP) },
    durableObjects: { ...SPOOL_OBJECTS, TOPIC_RELAYS: { className: "TopicRelay", useSQLite: true }, ...BASELINE_OBJECTS },
  });
}

interface Row {
  subscribers: number;
  side: "direct" | "relay" | "baseline";
  deliveriesPerSec: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  missingFrames: number;
  errors: number;
  serverCores: number | null;
}

interface MemoryRow {
  subscribers: number;
  side: "direct" | "relay" | "baseline";
  serverBytesPerSubscriber: number | null;
}

const rows: Row[] = [];
const memory: MemoryRow[] = [];
// Under the repository, as the bench harness does (workerd here does not load scripts from /tmp).
const workDir = join(ROOT, "bench/results/tmp", `relay-${Date.now().toString(36)}`);
mkdirSync(workDir, { recursive: true });
const scriptPath = await bundle(workDir);
const loadBefore = loadAverage();

// Both servers run side by side and take turns, so drift on a shared machine favours neither.
const servers = { direct: await start(scriptPath, "never"), relay: await start(scriptPath, "always") };
try {
  // Memory first, on fresh servers: idle subscribers, then the same number on the bare object.
  for (const side of ["direct", "relay"] as const) {
    const n = memorySubscribers;
    const mem = await runGenerator<{ notes: string[] }>("memory", servers[side], {
      seconds: 0, warmupSeconds: 0, subscribers: n, topic: `relay-mem-${side}`, baseline: `relay-mem-${side}`, settleMs: 3000, hibernateMs: 0,
    }, 180_000, log);
    const s = mem.samples;
    const per = (after: number | undefined, before: number | undefined) => (after && before ? (after - before) / n : null);
    memory.push({ subscribers: n, side, serverBytesPerSubscriber: per(s.spool, s.idle) });
    if (side === "relay") memory.push({ subscribers: n, side: "baseline", serverBytesPerSubscriber: per(s.bare, s.idleAgain) });
  }
  for (const n of sizes) {
    const sides = n > CAP ? (["relay"] as const) : (["direct", "relay"] as const); // one object holds at most CAP sockets
    for (let run = 0; run < runs; run++) {
      for (const side of run % 2 === 0 ? sides : [...sides].reverse()) {
        const name = `relay-${side}-${n}-${run}-${Date.now().toString(36)}`;
        // The bare object once per size (beside the relay runs): the baseline.
        const order = side === "relay" && run === 0 ? ["spool", "baseline"] : ["spool"];
        const out = await runGenerator<FanoutPhaseResult[]>("fanout", servers[side], {
          seconds, warmupSeconds: 2, subscribers: n, topic: name, baseline: name, order, window: 4,
        }, 3 * (seconds + 2 + 120) * 1000, log);
        for (const r of out.result) {
          rows.push({
            subscribers: n, side: r.phase === "baseline" ? "baseline" : side, deliveriesPerSec: r.seconds ? r.deliveriesPerSec : null,
            p50Ms: r.p50Ms, p99Ms: r.p99Ms, missingFrames: r.missingFrames, errors: r.errors, serverCores: out.windows[r.phase]?.serverCores ?? null,
          });
          log(`${n} ${r.phase === "baseline" ? "baseline" : side} (run ${run + 1}): ${Math.round(r.deliveriesPerSec)} deliveries/s p50 ${r.p50Ms?.toFixed(2)} p99 ${r.p99Ms?.toFixed(2)} missing ${r.missingFrames}`);
        }
      }
    }
  }
} finally {
  await servers.direct.stop();
  await servers.relay.stop();
}
rmSync(workDir, { recursive: true, force: true });

/** The median of each figure over the runs of one size and side. */
function medians(all: Row[]): Row[] {
  const groups = new Map<string, Row[]>();
  for (const r of all) groups.set(`${r.subscribers}/${r.side}`, [...(groups.get(`${r.subscribers}/${r.side}`) ?? []), r]);
  const med = (xs: (number | null)[]) => {
    const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
    return v.length === 0 ? null : v[Math.floor(v.length / 2)]!;
  };
  return [...groups.values()].map((g) => ({
    subscribers: g[0]!.subscribers, side: g[0]!.side, deliveriesPerSec: med(g.map((r) => r.deliveriesPerSec)), p50Ms: med(g.map((r) => r.p50Ms)),
    p99Ms: med(g.map((r) => r.p99Ms)), missingFrames: g.reduce((a, r) => a + r.missingFrames, 0), errors: g.reduce((a, r) => a + r.errors, 0),
    serverCores: med(g.map((r) => r.serverCores)),
  }));
}
const summary = medians(rows);

const results = {
  date: new Date().toISOString(), seconds, machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "", memoryGiB: Math.round(totalmem() / 2 ** 30) },
  load: { before: loadBefore, after: loadAverage() }, runs, summary, rows, memory,
};
const fmt = (v: number | null, d = 0) => (v === null ? "–" : v.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d }));
const md = [
  `# Relay fan-out (${results.date.slice(0, 10)}, ${results.machine.cpus} cores, ${seconds} s per phase, median of ${runs} runs taking turns)`, "",
  "| subscribers | served by | deliveries/s | p50 ms | p99 ms | missing frames | server cores |",
  "|---:|---|---:|---:|---:|---:|---:|",
  ...summary.map((r) => `| ${r.subscribers.toLocaleString("en-US")} | ${r.side} | ${fmt(r.deliveriesPerSec)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${r.missingFrames} | ${fmt(r.serverCores, 2)} |`),
  "", "| idle subscribers | served by | server memory per subscriber |", "|---:|---|---:|",
  ...memory.map((m) => `| ${m.subscribers.toLocaleString("en-US")} | ${m.side} | ${m.serverBytesPerSubscriber === null ? "–" : `${(m.serverBytesPerSubscriber / 1024).toFixed(1)} KiB`} |`),
  "", `Load average before ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, after ${results.load.after.map((l) => l.toFixed(2)).join(" ")}.`, "",
].join("\n");
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "relay-fanout.json"), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(outDir, "relay-fanout.md"), md);
process.stdout.write(md);
