#!/usr/bin/env node
// The `spool` command (package.json "bin"). Plain JavaScript so it runs on whatever `node`
// is first on PATH — Node 20 included, which has no TypeScript type stripping. The CLI and
// the SDK it is built on are TypeScript (cli/*.ts, client/, protocol/): this launcher bundles
// them with esbuild (a devDependency, so present after `npm install`) into one ES module,
// cached under node_modules/.cache/spool-cli/ and rebuilt only when a source file changes,
// then runs it in this process. No build step to forget, no stale bundle, one process.
// Installed elsewhere without devDependencies (no esbuild, maybe no sources), it runs the
// bundle `prepare` wrote to dist/cli/spool.mjs instead (`node cli/spool.mjs --build`).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SOURCE_DIRS = ["cli", "client", "protocol"];
/** The bundle shipped in the package, for installs without esbuild. */
const PREBUILT = join(root, "dist", "cli", "spool.mjs");
/** The oldest Node the command supports (package.json "engines"). */
const OLDEST_NODE = "node20";

/** Every .ts file the bundle may include, with what identifies its version. */
function sourceStamp() {
  const hash = createHash("sha256");
  hash.update(`${process.versions.node.split(".")[0]}\0`);
  const walk = (dir) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) {
        const st = statSync(join(root, path));
        hash.update(`${path}\0${st.size}\0${st.mtimeMs}\0`);
      }
    }
  };
  for (const dir of SOURCE_DIRS) walk(dir);
  return hash.digest("hex").slice(0, 16);
}

function cacheDir() {
  const preferred = join(root, "node_modules", ".cache", "spool-cli");
  try {
    mkdirSync(preferred, { recursive: true });
    return preferred;
  } catch {
    const fallback = join(tmpdir(), `spool-cli-${process.getuid?.() ?? "user"}`);
    mkdirSync(fallback, { recursive: true });
    return fallback;
  }
}

async function loadEsbuild() {
  try {
    return await import("esbuild");
  } catch {
    return undefined;
  }
}

async function bundle(esbuild, target, nodeTarget) {
  const result = await esbuild.build({
    entryPoints: [join(root, "cli", "main.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: nodeTarget,
    write: false,
    logLevel: "silent",
    legalComments: "none",
  });
  // Write then rename: two `spool` processes starting at once never read half a file.
  mkdirSync(dirname(target), { recursive: true });
  const temp = `${target}.${process.pid}.tmp`;
  writeFileSync(temp, result.outputFiles[0].contents);
  renameSync(temp, target);
}

/** The module to run: a cached bundle of the sources, or the shipped one. */
async function entry() {
  const sources = existsSync(join(root, "cli", "main.ts"));
  const dir = sources ? cacheDir() : undefined;
  const stamp = sources ? sourceStamp() : undefined;
  const target = sources ? join(dir, `spool-${stamp}.mjs`) : undefined;
  if (target && existsSync(target)) return target;
  const esbuild = sources ? await loadEsbuild() : undefined;
  if (!esbuild) {
    if (existsSync(PREBUILT)) return PREBUILT;
    process.stderr.write(`spool: cannot start: esbuild (a dev dependency) is missing and there is no ${PREBUILT}; run \`npm install\` in ${root}.\n`);
    process.exit(2);
  }
  await bundle(esbuild, target, `node${process.versions.node.split(".")[0]}`);
  for (const old of readdirSync(dir)) {
    if (old.startsWith("spool-") && old !== `spool-${stamp}.mjs` && !old.endsWith(".tmp")) rmSync(join(dir, old), { force: true });
  }
  return target;
}

if (process.argv[2] === "--build") {
  // `npm run build:cli` (run by `prepare`): the bundle an install without esbuild runs.
  const esbuild = await loadEsbuild();
  if (!esbuild) throw new Error("--build needs esbuild (npm install)");
  const out = resolve(process.argv[3] ?? PREBUILT);
  await bundle(esbuild, out, OLDEST_NODE);
  process.exit(0);
}
const target = await entry();
const { main } = await import(pathToFileURL(target).href);
const code = await main(process.argv.slice(2), { version: JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version });
process.exitCode = code;
// Idle keep-alive sockets must not hold the command open once it is done.
setTimeout(() => process.exit(code), 500).unref();
