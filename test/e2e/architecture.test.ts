/**
 * The module boundaries of DESIGN.md, proved on the real import graph rather than by
 * reading imports: the client SDK bundles from client/ and protocol/ alone and type-checks
 * with no server code, no server dependency and no runtime-specific types; protocol/
 * depends on nothing; the Durable Objects never import the Worker.
 */
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { build, type BuildOptions } from "esbuild";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const TSC = createRequire(import.meta.url).resolve("typescript/bin/tsc");

/** The input files (relative to the repository) of an esbuild bundle of `entryPoints`. */
async function bundleInputs(entryPoints: string[], options: BuildOptions = {}): Promise<string[]> {
  const result = await build({
    entryPoints, absWorkingDir: ROOT, bundle: true, write: false, metafile: true, format: "esm",
    outdir: "out", logLevel: "silent", platform: "neutral", ...options,
  });
  expect(result.metafile).toBeDefined();
  return Object.keys(result.metafile?.inputs ?? {}).sort();
}

/** Every .ts file under a directory of the repository, relative to the repository. */
function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .map((f) => `${dir}/${f}`)
    .sort();
}

describe("client ships alone", () => {
  it("client bundle - contains only client/ and protocol/ files", async () => {
    // platform "browser": a Node or Workers built-in anywhere in the graph fails the build.
    const inputs = await bundleInputs(["client/index.ts"], { platform: "browser" });
    expect(inputs).toContain("client/index.ts");
    expect(inputs.filter((f) => !f.startsWith("client/") && !f.startsWith("protocol/"))).toEqual([]);
  });

  it("client types - check alone, with no server code, server dependency or runtime-specific types", async () => {
    const run = await promisify(execFile)(process.execPath, [TSC, "--noEmit", "-p", "client", "--listFiles"], { cwd: ROOT })
      .then(({ stdout }) => ({ code: 0, stdout }))
      .catch((err: { code?: number; stdout?: string }) => ({ code: err.code ?? 1, stdout: err.stdout ?? String(err) }));
    expect(run.code, run.stdout).toBe(0);
    const files = run.stdout.split("\n").map((line) => line.trim()).filter(Boolean).map((f) => relative(ROOT, f));
    expect(files).toContain("client/index.ts");
    const forbidden = /^(node_modules\/(zod|hono|@hono|jose|@types\/node|@cloudflare\/workers-types)\/|durable-objects\/|worker\/)/;
    expect(files.filter((f) => forbidden.test(f))).toEqual([]);
    // Nothing else either: the client's own files, protocol/, and TypeScript's standard library.
    const allowed = /^(client\/|protocol\/|node_modules\/typescript\/lib\/)/;
    expect(files.filter((f) => !allowed.test(f))).toEqual([]);
  });
});

describe("boundaries", () => {
  it("protocol - imports nothing outside protocol/", async () => {
    const entries = tsFiles("protocol");
    expect(entries.length).toBeGreaterThan(0);
    const inputs = await bundleInputs(entries, { platform: "browser" });
    expect(inputs.filter((f) => !f.startsWith("protocol/"))).toEqual([]);
  });

  it("durable objects - never import worker/", async () => {
    const entries = tsFiles("durable-objects");
    expect(entries.length).toBeGreaterThan(0);
    // Packages and runtime modules stay external: only the repository's own graph matters here.
    const inputs = await bundleInputs(entries, { packages: "external", external: ["cloudflare:*", "node:*"] });
    expect(inputs).toContain("durable-objects/env.ts");
    expect(inputs.filter((f) => f.startsWith("worker/"))).toEqual([]);
  });
});
