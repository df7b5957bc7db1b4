// Running a bench script as the bench tests do (test/e2e/bench*.test.ts): a child Node
// process in the repository root, its output collected, killed if it overruns.
import { spawn } from "node:child_process";
import { resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");

/** Runs `node <script> ...args` from the repository root; answers its exit code and output. */
export function runBench(script: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("close", (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

/** A figure that was measured: a finite number above zero. */
export const positive = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v) && v > 0;
