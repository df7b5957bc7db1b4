/**
 * The bench harness: starts the bench Worker under Miniflare with a direct socket (or uses
 * `--url`), runs every scenario group `--runs` times (alternating which side goes first),
 * optionally repeats the HTTP scenarios through `wrangler dev` for reference, and writes
 * results/latest.json, latest.md and latest.svg. Every phase is bounded in time.
 */
import { execFileSync } from "node:child_process";
import { cpus, totalmem, release } from "node:os";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseOptions, type BenchOptions } from "./cli.ts";
import { loadAverage, processNames } from "./procstat.ts";
import { externalServer, startMiniflare, startWranglerDev, INSPECTOR_TARGET, ROOT, type BenchServer } from "./server.ts";
import { summarise, type RowSummary } from "./summary.ts";
import { GROUPS } from "./scenarios/index.ts";
import { setPhaseHooks } from "./generator.ts";
import { Profiler, summariseProfile, writeProfile } from "./profile.ts";
import { freePort } from "../test/e2e/server.ts";
import type { Group, Row, RunOutcome } from "./scenarios/types.ts";
import { markdownReport } from "./report/markdown.ts";
import { svgChart } from "./report/svg.ts";

export interface BenchResults {
  schema: 1;
  date: string;
  mode: "full" | "quick" | "profile";
  runs: number;
  server: { kind: BenchServer["kind"]; processes: string[] };
  /** What was measured: the commit, whether the working tree was used, patches applied. */
  source: { commit: string; workingTree: boolean; patches: string[] };
  machine: { cpus: number; model: string; memoryGiB: number; kernel: string; node: string };
  phaseSeconds: number;
  warmupSeconds: number;
  load: { before: number[]; after: number[]; max1m: number };
  rows: RowSummary[];
  reference: { wranglerDev: RowSummary[] | null };
  notes: string[];
}

const opts = parseOptions(process.argv.slice(2), join(ROOT, "bench/results"));
const log = (line: string) => process.stderr.write(`${line}\n`);

function selected(group: Group, options: BenchOptions): Row[] {
  const wanted = options.scenarios;
  if (!wanted) return options.quick && !group.quick ? [] : group.rows;
  if (wanted.includes(group.id)) return group.rows;
  return group.rows.filter((r) => wanted.includes(r.id));
}

let currentGroup = "";
let loadMax = 0;
function noteLoad(): number[] {
  const l = loadAverage();
  loadMax = Math.max(loadMax, l[0]);
  return l;
}

/** --profile: a CPU profile of the server for every measured Spool phase. */
async function attachProfiler(port: number): Promise<void> {
  const profiler = await Profiler.connect(port, INSPECTOR_TARGET);
  const profiled = (phase: string) => phase === "spool" || phase.startsWith("depth-");
  let n = 0;
  setPhaseHooks({
    onStart: async (phase) => {
      if (profiled(phase)) await profiler.start();
    },
    onEnd: async (phase) => {
      if (!profiled(phase)) return;
      const profile = await profiler.stop();
      const path = join(workDir, `profile-${++n}-${currentGroup}-${phase}`);
      const summary = summariseProfile(profile, join(workDir, "worker.mjs"));
      writeProfile(path, profile, summary);
      log(`profile: ${path}.txt\n${summary.split("\n").slice(0, 18).join("\n")}`);
    },
  });
}

async function measure(server: BenchServer, options: BenchOptions, groups: Group[], runs: number): Promise<RowSummary[]> {
  const outcomes = new Map<string, RunOutcome[]>();
  const rowsById = new Map<string, Row>();
  let counter = 0;
  for (let run = 0; run < runs; run++) {
    for (const group of groups) {
      const rows = selected(group, options);
      if (rows.length === 0) continue;
      for (const row of rows) rowsById.set(row.id, row);
      currentGroup = group.id;
      log(`run ${run + 1}/${runs}: ${group.id} (${rows.map((r) => r.id).join(", ")}), load ${noteLoad()[0]}`);
      const ctx = {
        server,
        quick: options.quick,
        seconds: options.seconds,
        warmupSeconds: options.warmupSeconds,
        baselineFirst: run % 2 === 1,
        name: (prefix: string) => `bench-${prefix}-${process.pid}-${++counter}`,
        log,
      };
      let got: Record<string, RunOutcome>;
      try {
        got = await group.run(ctx, rows);
      } catch (err) {
        log(`  ${group.id} failed: ${(err as Error).message}`);
        const failed: RunOutcome = {
          figure: { value: null }, baseline: null, cpu: null, baselineCpu: null, errors: 1,
          notes: [`failed: ${(err as Error).message.split("\n")[0]!.slice(0, 200)}`],
        };
        got = Object.fromEntries(rows.map((r) => [r.id, failed]));
      }
      for (const [id, outcome] of Object.entries(got)) {
        outcomes.set(id, [...(outcomes.get(id) ?? []), outcome]);
        const v = outcome.figure.value;
        const b = outcome.baseline?.value;
        log(`  ${id}: ${v === null ? "-" : Math.round(v)}${b == null ? "" : ` vs baseline ${Math.round(b)}`}${outcome.errors ? `, ${outcome.errors} errors` : ""}`);
      }
    }
  }
  return [...rowsById.values()].filter((r) => outcomes.has(r.id)).map((r) => summarise(r, outcomes.get(r.id)!));
}

const loadBefore = noteLoad();
const groups = GROUPS;
const workDir = join(ROOT, "bench/results/tmp");
const inspectorPort = opts.profile ? await freePort() : undefined;
const server = opts.url ? externalServer(opts.url, opts.adminKey) : await startMiniflare(workDir, opts.ref, inspectorPort, opts.patches);
if (inspectorPort) await attachProfiler(inspectorPort);
const processes = processNames(server.pids());
log(`server: ${server.kind} at ${server.url} (${processes.join(", ") || "processes not visible"})`);
let rows: RowSummary[];
try {
  rows = await measure(server, opts, groups, opts.runs);
} finally {
  await server.stop();
}

let wranglerRows: RowSummary[] | null = null;
if (opts.wrangler && !opts.url) {
  log("reference: the HTTP scenarios through wrangler dev (proxy + local tracing)");
  const dev = await startWranglerDev(workDir);
  try {
    const refGroups = groups.filter((g) => g.id === "noop" || g.id === "publish");
    wranglerRows = await measure(dev, { ...opts, scenarios: ["noop", "publish-1", "publish-1-serial"] }, refGroups, 1);
  } finally {
    await dev.stop();
  }
}

const loadAfter = noteLoad();
const cpuList = cpus();
const results: BenchResults = {
  schema: 1,
  date: new Date().toISOString(),
  mode: opts.profile ? "profile" : opts.quick ? "quick" : "full",
  runs: opts.runs,
  server: { kind: server.kind, processes },
  source: {
    commit: execFileSync("git", ["-C", ROOT, "rev-parse", "--short", opts.ref ?? "HEAD"]).toString().trim(),
    workingTree: !opts.ref && opts.patches.length === 0 && !opts.url,
    patches: opts.patches,
  },
  machine: {
    cpus: cpuList.length,
    model: cpuList[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
  },
  phaseSeconds: opts.seconds,
  warmupSeconds: opts.warmupSeconds,
  load: { before: loadBefore, after: loadAfter, max1m: loadMax },
  rows,
  reference: { wranglerDev: wranglerRows },
  notes: [
    `The load generator (autocannon / ws in a separate Node process) shares the machine's ${cpuList.length} cores with the server; each row reports the cores each side used.`,
    "Ratios compare Spool with its baseline measured in the same run on the same server; compare figures only within one run.",
  ],
};

mkdirSync(opts.outDir, { recursive: true });
writeFileSync(join(opts.outDir, "latest.json"), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(opts.outDir, "latest.md"), markdownReport(results));
writeFileSync(join(opts.outDir, "latest.svg"), svgChart(results));
process.stdout.write(markdownReport(results));
log(`wrote ${join(opts.outDir, "latest.{json,md,svg}")}`);
