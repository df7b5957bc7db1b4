/**
 * Runs one load generator in its own Node process and accounts for CPU: at each phase's
 * `start` and `end` line it snapshots the server's processes and the generator's, so every
 * window reports how many cores each side used on the shared machine. The child is killed
 * if it outlives its time budget, so no run can hang.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { cpuSecondsBetween, cpuSnapshot, rssBytes, type CpuSnapshot } from "./procstat.ts";
import type { BenchServer } from "./server.ts";
import type { GeneratorArgs, GeneratorEvent } from "./load/protocol.ts";

export interface CpuWindow {
  seconds: number;
  /** Cores the server used on average during the window (CPU seconds / wall seconds). */
  serverCores: number;
  generatorCores: number;
}

export interface GeneratorRun<R> {
  result: R;
  windows: Record<string, CpuWindow>;
  /** Server RSS in bytes at each `sample` the generator asked for. */
  samples: Record<string, number>;
}

/** Called around every measured phase of every generator (the profiler uses it). */
export interface PhaseHooks {
  onStart(phase: string): Promise<void>;
  onEnd(phase: string): Promise<void>;
}
let hooks: PhaseHooks | null = null;
export function setPhaseHooks(h: PhaseHooks | null): void {
  hooks = h;
}

/** Starts `bench/load/<script>.ts` and waits for its result (or kills it after `budgetMs`). */
export async function runGenerator<R>(
  script: string,
  server: BenchServer,
  args: Omit<GeneratorArgs, "url" | "adminKey"> & Record<string, unknown>,
  budgetMs: number,
  log: (line: string) => void = () => {},
): Promise<GeneratorRun<R>> {
  const full: GeneratorArgs = { url: server.url, adminKey: server.adminKey, ...args };
  // Arguments go through stdin: a 1,000-message body is too long for one argv entry.
  const child = spawn(process.execPath, [join(import.meta.dirname, "load", `${script}.ts`)], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, NODE_NO_WARNINGS: "1" },
  });
  child.stdin.end(JSON.stringify(full));
  const pid = child.pid!;
  const windows: Record<string, CpuWindow> = {};
  const samples: Record<string, number> = {};
  const open = new Map<string, { at: number; server: CpuSnapshot; generator: CpuSnapshot }>();
  const hookCalls: Promise<void>[] = [];
  let result: { value: R } | undefined;
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });

  const lines = createInterface({ input: child.stdout });
  lines.on("line", (line) => {
    let ev: GeneratorEvent;
    try {
      ev = JSON.parse(line) as GeneratorEvent;
    } catch {
      log(`[${script}] ${line}`);
      return;
    }
    if (ev.event === "start") {
      if (hooks) hookCalls.push(hooks.onStart(ev.phase).catch((e: Error) => log(`profile: ${e.message}`)));
      open.set(ev.phase, { at: performance.now(), server: cpuSnapshot(server.pids()), generator: cpuSnapshot([pid]) });
    } else if (ev.event === "end") {
      const begun = open.get(ev.phase);
      if (!begun) return;
      const seconds = (performance.now() - begun.at) / 1000;
      const serverCpu = cpuSecondsBetween(begun.server, cpuSnapshot(server.pids()));
      const generatorCpu = cpuSecondsBetween(begun.generator, cpuSnapshot([pid]));
      // A phase measured in several slices (interleaved with its baseline's) adds up.
      const before = windows[ev.phase];
      const total = seconds + (before?.seconds ?? 0);
      windows[ev.phase] = {
        seconds: total,
        serverCores: (serverCpu + (before ? before.serverCores * before.seconds : 0)) / total,
        generatorCores: (generatorCpu + (before ? before.generatorCores * before.seconds : 0)) / total,
      };
      if (hooks) hookCalls.push(hooks.onEnd(ev.phase).catch((e: Error) => log(`profile: ${e.message}`)));
    } else if (ev.event === "sample") {
      samples[ev.label] = rssBytes(server.pids());
    } else if (ev.event === "log") {
      log(`[${script}] ${ev.message}`);
    } else if (ev.event === "result") {
      result = { value: ev.result as R };
    }
  });

  // "close" (not "exit") fires after stdout is drained, so the result line has been read.
  const closed = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  const timer = setTimeout(() => child.kill("SIGKILL"), budgetMs);
  const code = await closed;
  clearTimeout(timer);
  await Promise.all(hookCalls);
  if (!result) {
    const why = stderr.split("\n").find((l) => /^\w*Error\b/.test(l)) ?? stderr.trim().split("\n").pop() ?? "";
    throw new Error(`generator ${script} ended (code ${code}) without a result: ${why}`);
  }
  return { result: result.value, windows, samples };
}
