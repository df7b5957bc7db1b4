/// <reference types="node" />
/**
 * Spool's Worker as Miniflare runs it for the test kit: one ES module bundled the way
 * wrangler bundles it (workerd conditions, `cloudflare:*` and `node:*` left to the runtime
 * under nodejs_compat), plus what wrangler.toml says about it (compatibility, Durable Object
 * bindings and which classes use SQLite, vars). `npm run build` writes both into
 * dist/testing/ (testing/build.mjs), so an installed package needs neither esbuild nor the
 * sources; a source checkout without a build bundles on first use.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** What Miniflare needs besides the bundle, read from wrangler.toml. */
export interface WorkerConfig {
  compatibilityDate: string;
  compatibilityFlags: string[];
  /** Binding name → class, and whether the class stores in SQLite. */
  durableObjects: Record<string, { className: string; useSQLite: boolean }>;
  vars: Record<string, string>;
}

export interface WorkerBundle {
  scriptPath: string;
  config: WorkerConfig;
}

export const BUNDLE_FILE = "spool-worker.mjs";
export const CONFIG_FILE = "spool-worker.json";

/** The built bundle beside this module (dist/testing/), or one made now from the sources of a checkout. */
export async function workerBundle(): Promise<WorkerBundle> {
  const here = dirname(fileURLToPath(import.meta.url));
  if (existsSync(join(here, BUNDLE_FILE)) && existsSync(join(here, CONFIG_FILE))) {
    return { scriptPath: join(here, BUNDLE_FILE), config: JSON.parse(readFileSync(join(here, CONFIG_FILE), "utf8")) as WorkerConfig };
  }
  fromSource ??= buildWorker(resolve(here, ".."), mkdtempSync(join(tmpdir(), "spool-testing-")));
  return fromSource;
}

let fromSource: Promise<WorkerBundle> | undefined;

/** How wrangler bundles a Worker for workerd (its conditions; node: and cloudflare: left to the runtime); the benches use it too. */
export const WORKERD_BUNDLE_OPTIONS = {
  bundle: true,
  format: "esm" as const,
  platform: "neutral" as const,
  target: "es2022",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["browser", "module", "main"],
  external: ["node:*", "cloudflare:*"],
  logLevel: "warning" as const,
};

/** Bundles worker/index.ts of the repository at `root` into `outDir` and writes its config beside it. */
export async function buildWorker(root: string, outDir: string): Promise<WorkerBundle> {
  const esbuild = await import("esbuild");
  const scriptPath = join(outDir, BUNDLE_FILE);
  await esbuild.build({ ...WORKERD_BUNDLE_OPTIONS, entryPoints: [join(root, "worker", "index.ts")], outfile: scriptPath });
  await esbuild.stop();
  const config = readWranglerToml(readFileSync(join(root, "wrangler.toml"), "utf8"));
  writeFileSync(join(outDir, CONFIG_FILE), JSON.stringify(config, null, 2));
  return { scriptPath, config };
}

/**
 * The parts of wrangler.toml the test server needs. A small reader for the shapes Spool's
 * wrangler.toml uses (`key = "string"`, `key = ["a", "b"]`, `[table]`, `[[array of tables]]`,
 * one value per line), not a general TOML parser.
 */
export function readWranglerToml(text: string): WorkerConfig {
  const config: WorkerConfig = { compatibilityDate: "", compatibilityFlags: [], durableObjects: {}, vars: {} };
  const bindings: Record<string, string>[] = [];
  const sqlite = new Set<string>();
  let table = "";
  let entry: Record<string, string | string[]> = {};
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[(\[)?([^\]]+)\]\]?$/.exec(line);
    if (header) {
      table = header[2]!.trim();
      entry = {};
      if (table === "durable_objects.bindings") bindings.push(entry as Record<string, string>);
      continue;
    }
    const kv = /^([A-Za-z0-9_.-]+)\s*=\s*(.+)$/.exec(line);
    if (!kv) continue;
    const key = kv[1]!;
    const value = parseValue(kv[2]!);
    if (table === "" && key === "compatibility_date" && typeof value === "string") config.compatibilityDate = value;
    else if (table === "" && key === "compatibility_flags" && Array.isArray(value)) config.compatibilityFlags = value;
    else if (table === "vars" && typeof value === "string") config.vars[key] = value;
    else if (table === "durable_objects.bindings") entry[key] = value;
    else if (table === "migrations" && key === "new_sqlite_classes" && Array.isArray(value)) for (const c of value) sqlite.add(c);
  }
  for (const b of bindings) {
    if (typeof b.name === "string" && typeof b.class_name === "string") {
      config.durableObjects[b.name] = { className: b.class_name, useSQLite: sqlite.has(b.class_name) };
    }
  }
  return config;
}

function parseValue(text: string): string | string[] {
  const t = text.trim();
  if (t.startsWith("[")) return [...t.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
  const quoted = /^"((?:[^"\\]|\\.)*)"$/.exec(t);
  return quoted ? quoted[1]! : t;
}
