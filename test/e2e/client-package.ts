/**
 * Installs this repository into a scratch project as a user's project gets it, for the
 * package and examples tests: `npm pack` (which runs `prepare`, the build) and the tarball
 * unpacked where npm puts it (node_modules/spool). Its dependencies are not installed: they
 * are the Worker's (hono, zod, jose, ulidx), an offline test cannot fetch them, and the
 * client must not need them — a project without them is the proof. Tools a user's project
 * would have of its own (TypeScript, @types/node, esbuild) are linked from this repository.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";

export const ROOT = resolve(import.meta.dirname, "../..");
const run = promisify(execFile);

/** Runs a command; resolves with its output, or fails with everything it printed. */
export async function sh(file: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout } = await run(file, args, { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NO_COLOR: "1", ...env } });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${file} ${args.join(" ")} failed:\n${e.stdout ?? ""}\n${e.stderr ?? ""}\n${e.message}`);
  }
}

/** Packs the repository (running `prepare`) into a fresh directory; returns the tarball's path. */
export async function packRepository(): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), "spool-pack-"));
  const packed = JSON.parse(await sh("npm", ["pack", "--json", "--pack-destination", work], ROOT)) as { filename: string }[];
  return join(work, packed[0]!.filename);
}

/**
 * A scratch project with the tarball installed as node_modules/spool, and these tools of
 * this repository linked into its node_modules. `from`: an app directory to copy in first.
 */
export async function installInto(tarball: string, options: { from?: string; tools?: string[] } = {}): Promise<string> {
  const project = join(mkdtempSync(join(tmpdir(), "spool-app-")), "app");
  if (options.from) cpSync(options.from, project, { recursive: true, filter: (src) => !/node_modules|public|\.db/.test(src.slice(options.from!.length)) });
  else {
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  }
  const installed = join(project, "node_modules", "spool");
  mkdirSync(installed, { recursive: true });
  await sh("tar", ["-xzf", tarball, "-C", installed, "--strip-components=1"], project);
  for (const tool of options.tools ?? []) {
    const target = join(project, "node_modules", tool);
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(join(ROOT, "node_modules", tool), target, "dir");
  }
  return project;
}
