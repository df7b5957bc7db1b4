/**
 * Running the `spool` command in tests: as a child process with a chosen Node (the one in
 * node_modules, or the machine's own, which may be Node 20), optionally on a terminal
 * (util-linux `script`) to see what a person sees, with stdin fed from a string.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");
export const SPOOL_BIN = join(ROOT, "cli", "spool.mjs");
/** The Node npm scripts run on (node_modules/node, Node 22). */
export const BUNDLED_NODE = process.execPath;

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  node?: string;
  /** The launcher to run (default: this repository's cli/spool.mjs). */
  bin?: string;
  /** Run on a pseudo-terminal: stdout and stderr arrive together in `stdout`. */
  tty?: boolean;
  /** On a terminal, stdin comes from this file (`< file`), as a person would redirect it. */
  stdinFile?: string;
  timeoutMs?: number;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment a command gets: the test's, without SPOOL_* unless given. */
function baseEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  delete env.SPOOL_URL;
  delete env.SPOOL_KEY;
  return { ...env, ...extra };
}

/** Runs `spool <args>` to completion. */
export function runSpool(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const child = startSpool(args, options);
  return finish(child, options.timeoutMs ?? 30_000);
}

/** Starts `spool <args>` and leaves it running (for `tail`). */
export function startSpool(args: string[], options: RunOptions = {}): ChildProcess & { output: () => RunResult } {
  const node = options.node ?? BUNDLED_NODE;
  const bin = options.bin ?? SPOOL_BIN;
  const env = baseEnv(options.env);
  const child = options.tty
    ? spawn("script", ["-qefc", `${[node, bin, ...args].map(shellQuote).join(" ")}${options.stdinFile ? ` < ${shellQuote(options.stdinFile)}` : ""}`, "/dev/null"], {
        cwd: options.cwd ?? ROOT,
        env: { ...env, SHELL: "/bin/sh" },
      })
    : spawn(node, [bin, ...args], { cwd: options.cwd ?? ROOT, env });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  if (options.input !== undefined) child.stdin!.end(options.input);
  else if (!options.tty) child.stdin!.end();
  return Object.assign(child, { output: () => ({ code: child.exitCode, stdout, stderr }) });
}

function finish(child: ChildProcess & { output: () => RunResult }, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`spool did not finish within ${timeoutMs} ms:\n${JSON.stringify(child.output())}`));
    }, timeoutMs);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolveRun({ ...child.output(), code });
    });
  });
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/** True where util-linux `script` gives commands a pseudo-terminal (Linux; macOS's differs). */
export const HAS_PTY = ((): boolean => {
  try {
    return execFileSync("script", ["--version"], { encoding: "utf8" }).includes("util-linux");
  } catch {
    return false;
  }
})();

/** JSON lines of stdout. */
export function jsonLines<T = Record<string, unknown>>(stdout: string): T[] {
  return stdout.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as T);
}

/** A terminal's text without carriage returns and escape sequences. */
export function screen(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "");
}

/**
 * The machine's own `node` when it is older than 22 (what a newcomer's `spool` may run
 * on), found on PATH outside node_modules; undefined when there is none.
 */
export function systemNodeOlderThan22(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir.includes("node_modules")) continue;
    const candidate = join(dir, "node");
    if (!existsSync(candidate)) continue;
    try {
      const major = Number(execFileSync(candidate, ["-p", "process.versions.node.split('.')[0]"], { encoding: "utf8" }).trim());
      return major < 22 ? candidate : undefined;
    } catch {
      continue;
    }
  }
  return undefined;
}
