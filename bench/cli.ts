/** Command-line options of `npm run bench` (see `--help`). */
import { join } from "node:path";
import { parseArgs } from "node:util";

export interface BenchOptions {
  quick: boolean;
  runs: number;
  url: string | null;
  ref: string | null;
  patches: string[];
  adminKey: string;
  scenarios: string[] | null;
  outDir: string;
  wrangler: boolean;
  profile: boolean;
  seconds: number;
  warmupSeconds: number;
}

export const HELP = `npm run bench -- [options]

  --quick            smoke run: short phases, small sizes, fewer scenarios
  --runs N           repeat every scenario N times and report medians (default 1; use 3)
  --scenario a,b     only these groups or rows (noop, publish, publish-1, queue-cycle,
                     fanout, fanout-1000, depth, memory, ...)
  --url URL          measure a server already running the bench Worker
                     (wrangler dev -c bench/wrangler.bench.toml) instead of starting one
  --ref REF          bundle Spool as of git REF (e.g. HEAD) instead of the working tree
  --patch FILE       apply a diff (git apply -p1) to that copy first: measure a proposed
                     change without touching the checkout (implies --ref HEAD; repeatable)
  --key KEY          admin key of that server (default: bench-admin-key)
  --seconds S        measured seconds per phase (default 8, quick 1.5)
  --wrangler / --no-wrangler   also measure through wrangler dev for reference
                     (default: on for full runs, off for --quick)
  --profile          CPU-profile the server during each measured Spool phase (one run, no
                     wrangler): bench/results/tmp/profile-*.cpuprofile and .txt summaries
  --out DIR          where latest.json/.md/.svg go (default bench/results; with --quick
                     bench/results/tmp, so a smoke run never replaces the committed figures)
`;

export function parseOptions(argv: string[], resultsDir: string): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      runs: { type: "string", default: "1" },
      url: { type: "string" },
      ref: { type: "string" },
      patch: { type: "string", multiple: true },
      key: { type: "string", default: "bench-admin-key" },
      scenario: { type: "string" },
      seconds: { type: "string" },
      wrangler: { type: "boolean" },
      "no-wrangler": { type: "boolean" },
      out: { type: "string" },
      profile: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const runs = values.profile ? 1 : Math.max(1, Math.min(9, Number(values.runs) || 1));
  const seconds = values.seconds ? Math.max(0.5, Math.min(60, Number(values.seconds))) : quick ? 1.5 : 8;
  return {
    quick,
    runs,
    url: values.url ?? null,
    ref: values.ref ?? null,
    patches: values.patch ?? [],
    adminKey: values.key ?? "bench-admin-key",
    scenarios: values.scenario ? values.scenario.split(",").map((s) => s.trim()).filter(Boolean) : null,
    outDir: values.out ?? (quick || values.profile ? join(resultsDir, "tmp") : resultsDir),
    profile: values.profile ?? false,
    wrangler: values.profile || values["no-wrangler"] ? false : (values.wrangler ?? (!quick && !values.url)),
    seconds,
    warmupSeconds: quick ? 0.3 : 1,
  };
}
