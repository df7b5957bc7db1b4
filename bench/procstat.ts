/**
 * Reading /proc: CPU time and RSS of process sets, process trees and groups, the process
 * listening on a port, and the load average. The bench shares two cores with its load
 * generator (and with whoever else uses the machine), so every figure carries the CPU each
 * side used and the load it ran under.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
const PAGE_SIZE = Number(execFileSync("getconf", ["PAGESIZE"]).toString().trim()) || 4096;

interface Stat { pid: number; ppid: number; pgrp: number; ticks: number; comm: string }

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // gone
  }
  // comm may contain spaces and parentheses; fields after the last ")" are fixed.
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const f = text.slice(close + 2).split(" ");
  // f[0] is field 3 (state): ppid=4, pgrp=5, utime=14, stime=15.
  return { pid, comm, ppid: Number(f[1]), pgrp: Number(f[2]), ticks: Number(f[11]) + Number(f[12]) };
}

function allPids(): number[] {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);
}

/** `root` and all its descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const s = readStat(pid);
    if (!s) continue;
    const list = children.get(s.ppid) ?? [];
    list.push(pid);
    children.set(s.ppid, list);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0 && out.length < 10_000) {
    const pid = todo.pop()!;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Every process in the same process group as `pid`. */
export function processGroupOf(pid: number): number[] {
  const pgrp = readStat(pid)?.pgrp;
  if (pgrp === undefined) return [];
  return allPids().filter((p) => readStat(p)?.pgrp === pgrp);
}

/** Process names, for the report ("workerd", "node"). */
export function processNames(pids: number[]): string[] {
  return pids.map((p) => readStat(p)?.comm ?? "?");
}

/** The process holding a listening TCP socket on 127.0.0.1/0.0.0.0 `port`, if visible to us. */
export function listeningPid(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== "0A") continue; // 0A = LISTEN
      if (parseInt(cols[1]!.split(":")[1]!, 16) === port) inodes.add(cols[9]!);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of allPids()) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return pid;
      } catch {
        // fd closed meanwhile
      }
    }
  }
  return undefined;
}

/** CPU ticks per pid at one moment. */
export type CpuSnapshot = Map<number, number>;

export function cpuSnapshot(pids: number[]): CpuSnapshot {
  const snap: CpuSnapshot = new Map();
  for (const pid of pids) {
    const s = readStat(pid);
    if (s) snap.set(pid, s.ticks);
  }
  return snap;
}

/** CPU seconds used between two snapshots (a process born in between counts from zero). */
export function cpuSecondsBetween(before: CpuSnapshot, after: CpuSnapshot): number {
  let ticks = 0;
  for (const [pid, t] of after) ticks += t - (before.get(pid) ?? 0);
  return ticks / CLK_TCK;
}

/** Resident set size of the processes together, bytes. */
export function rssBytes(pids: number[]): number {
  let pages = 0;
  for (const pid of pids) {
    try {
      pages += Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]);
    } catch {
      // gone
    }
  }
  return pages * PAGE_SIZE;
}

/** 1, 5 and 15 minute load averages. */
export function loadAverage(): [number, number, number] {
  const [a, b, c] = readFileSync("/proc/loadavg", "utf8").split(" ").map(Number);
  return [a ?? 0, b ?? 0, c ?? 0];
}
