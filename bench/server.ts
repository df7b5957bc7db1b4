/**
 * The servers the bench measures. `startMiniflare` bundles bench/worker with esbuild and runs
 * it under Miniflare's Node API with a direct socket to the Worker (`runMiniflare`, which the
 * relay and MQTT benches use for their own bundles): no wrangler proxy, no local tracing, so
 * figures measure Spool. `startWranglerDev` runs the same Worker through
 * `wrangler dev` for reference figures. Both bind 127.0.0.1 only and persist to a temp dir,
 * so SQLite commits hit the disk as they do in development.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build, stop as stopEsbuild } from "esbuild";
import { Log, LogLevel, Miniflare, convertV4MiniflareOptions } from "miniflare";
import { startServer } from "../test/e2e/server.ts";
import { readWranglerToml, WORKERD_BUNDLE_OPTIONS } from "../testing/bundle.ts";
import { listeningPid, processGroupOf, processNames, processTree } from "./procstat.ts";

export const ROOT = resolve(import.meta.dirname, "..");
export const BENCH_ADMIN_KEY = "bench-admin-key";
export const WORKER_NAME = "spool-bench";
/** The inspector target of the user Worker under Miniflare. */
export const INSPECTOR_TARGET = `core:user:${WORKER_NAME}`;
/** The Worker vars every bench server has. */
const BASE_VARS = {
  SPOOL_ADMIN_KEY: BENCH_ADMIN_KEY,
  SPOOL_TOKEN_SECRET: "bench-token-secret-0123456789abcdef0123",
  SPOOL_MAX_BODY_BYTES: "8388608",
};
const VARS = {
  ...BASE_VARS,
  // The cost scenario's webhook subscription posts to this same server (/bench/sink).
  SPOOL_ALLOW_PRIVATE_WEBHOOKS: "true",
};

/** A Durable Object binding of the Worker under Miniflare. */
export interface ObjectBinding {
  className: string;
  useSQLite: true;
}

/** The Durable Objects Spool itself needs; each bench adds its own (relays, MQTT, the baseline). */
export const SPOOL_OBJECTS: Record<string, ObjectBinding> = {
  QUEUES: { className: "QueueObject", useSQLite: true },
  TOPICS: { className: "TopicPartition", useSQLite: true },
  CATALOG: { className: "Catalog", useSQLite: true },
};
/** The bench Worker's same-run baselines (bench/worker/index.ts). */
export const BASELINE_OBJECTS: Record<string, ObjectBinding> = {
  BENCH: { className: "BenchBaseline", useSQLite: true },
  PARTY: { className: "BenchParty", useSQLite: true },
};

export interface MiniflareOptions {
  /** The Worker's name (its direct socket is looked up by it). */
  name: string;
  /** Vars beside BASE_VARS. */
  vars?: Record<string, string>;
  durableObjects: Record<string, ObjectBinding>;
  /** Only with --profile: an attached inspector costs a little even when idle. */
  inspectorPort?: number;
  /** State directory to use and keep (a restart on the same state); default a temp dir removed at stop. */
  persistTo?: string;
}

export interface BenchServer {
  kind: "miniflare" | "wrangler-dev" | "external";
  url: string;
  adminKey: string;
  /** Process ids whose CPU and RSS count as "the server" (re-read: workerd may restart). */
  pids(): number[];
  stop(): Promise<void>;
}

/**
 * Spool's sources as of a git ref (worker/, durable-objects/ and protocol/), with the bench's own
 * worker/ from the working tree, in a temp dir (outside the repo, so no type-check sees
 * the copy). Lets the bench measure committed code while the working tree is mid-edit.
 * Returns the directory to bundle from; the caller removes it.
 */
export function exportSources(ref: string, patches: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), "spool-bench-src-"));
  // protocol/ exists from the architecture step on; older refs have only the first two.
  const dirs = ["worker", "durable-objects", "protocol"].filter((d) => existsAt(ref, d));
  const tar = execFileSync("git", ["-C", ROOT, "archive", "--format=tar", ref, ...dirs], { maxBuffer: 256 * 2 ** 20 });
  execFileSync("tar", ["-x", "-C", dir], { input: tar });
  cpSync(join(ROOT, "bench/worker"), join(dir, "bench/worker"), { recursive: true });
  // --patch: try a proposed change on the exported copy without touching the checkout.
  for (const patch of patches) execFileSync("git", ["apply", "-p1", resolve(patch)], { cwd: dir });
  return dir;
}

function existsAt(ref: string, path: string): boolean {
  try {
    execFileSync("git", ["-C", ROOT, "cat-file", "-e", `${ref}:${path}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Bundles the bench Worker (or another `entry`, e.g. worker/index.ts as shipped) the way
 * wrangler would (workerd conditions, node: and cloudflare: external).
 */
export async function bundleWorker(outDir: string, sourceRoot = ROOT, entry = join(sourceRoot, "bench/worker/index.ts")): Promise<string> {
  const outfile = join(outDir, "worker.mjs");
  await build({
    ...WORKERD_BUNDLE_OPTIONS,
    entryPoints: [entry],
    nodePaths: [join(ROOT, "node_modules")],
    outfile,
    sourcemap: "external", // worker.mjs.map: lets --profile name Spool's files and lines
    minify: false,
  });
  await stopEsbuild(); // its service process would otherwise linger in our process tree
  return outfile;
}

/** Runs the bench Worker under Miniflare; `ref` bundles Spool as of that git ref instead of the working tree. */
export async function startMiniflare(
  workDir: string,
  ref: string | null = null,
  inspectorPort?: number,
  patches: string[] = [],
): Promise<BenchServer> {
  mkdirSync(workDir, { recursive: true });
  const sources = ref || patches.length > 0 ? exportSources(ref ?? "HEAD", patches) : ROOT;
  const scriptPath = await bundleWorker(workDir, sources);
  if (sources !== ROOT) rmSync(sources, { recursive: true, force: true });
  return runMiniflare(scriptPath, {
    name: WORKER_NAME, vars: VARS, durableObjects: { ...SPOOL_OBJECTS, ...BASELINE_OBJECTS }, inspectorPort,
  });
}

/** Runs the bundle at `scriptPath` under Miniflare, with a direct socket to the Worker, persisting to a temp dir. */
export async function runMiniflare(scriptPath: string, o: MiniflareOptions): Promise<BenchServer> {
  const persistTo = o.persistTo ?? mkdtempSync(join(tmpdir(), "spool-bench-"));
  const mf = new Miniflare(convertV4MiniflareOptions({
    host: "127.0.0.1",
    port: 0,
    ...(o.inspectorPort ? { inspectorPort: o.inspectorPort, inspectorHost: "127.0.0.1" } : {}),
    log: new Log(LogLevel.WARN),
    cf: false,
    resourcePersistencePath: persistTo,
    workers: [{
      name: o.name,
      modules: true,
      scriptPath,
      compatibilityDate: "2026-11-01",
      compatibilityFlags: ["nodejs_compat"],
      bindings: { ...BASE_VARS, ...o.vars },
      durableObjects: o.durableObjects,
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    }],
  }));
  await mf.ready;
  const direct = await mf.unsafeGetDirectURL(o.name);
  const url = direct.origin.replace("localhost", "127.0.0.1");
  return {
    kind: "miniflare",
    url,
    adminKey: BENCH_ADMIN_KEY,
    // workerd is Miniflare's child; this Node process only hosts Miniflare's control plane.
    pids: () => processTree(process.pid).filter((pid) => pid !== process.pid && processNames([pid])[0] === "workerd"),
    stop: async () => {
      await mf.dispose();
      if (!o.persistTo) rmSync(persistTo, { recursive: true, force: true });
    },
  };
}

/** Every Durable Object wrangler.toml binds: Spool as shipped (worker/index.ts), read from it so the list cannot drift. */
export const ALL_SPOOL_OBJECTS: Record<string, ObjectBinding> = Object.fromEntries(
  Object.entries(readWranglerToml(readFileSync(join(ROOT, "wrangler.toml"), "utf8")).durableObjects)
    .map(([name, o]) => [name, { className: o.className, useSQLite: true as const }]),
);

/**
 * Runs the bundle Miniflare ran (`<workDir>/worker.mjs`) through `wrangler dev`, from a
 * config generated beside it (bench/wrangler.bench.toml with `main` pointing at the bundle
 * and `no_bundle`), so the reference figures are of exactly the same code.
 */
export async function startWranglerDev(workDir: string): Promise<BenchServer> {
  const toml = readFileSync(join(ROOT, "bench/wrangler.bench.toml"), "utf8")
    .replace(/^main = .*$/m, 'main = "worker.mjs"\nno_bundle = true');
  const config = join(workDir, "wrangler.generated.toml");
  writeFileSync(config, toml);
  const server = await startServer({ config, vars: VARS });
  const root = listeningPid(server.port);
  return {
    kind: "wrangler-dev",
    url: server.url,
    adminKey: server.adminKey,
    // wrangler, its proxy workerd and the user workerd share one process group.
    pids: () => (root === undefined ? [] : processGroupOf(root)),
    stop: async () => {
      await server.stop();
      rmSync(server.persistTo, { recursive: true, force: true });
    },
  };
}

/** A server someone else started (`--url`): CPU and RSS are those of the listening process group. */
export function externalServer(url: string, adminKey: string): BenchServer {
  const port = Number(new URL(url).port || 80);
  const root = listeningPid(port);
  return {
    kind: "external",
    url,
    adminKey,
    pids: () => (root === undefined ? [] : processGroupOf(root)),
    stop: async () => {},
  };
}
