/**
 * Load generator: fixed-connection HTTP load with autocannon (or, for one connection, a
 * timed loop), one phase per route (Spool's and its baseline's), each after a warm-up. Reports messages/s and latency percentiles
 * of the 2xx answers, and every non-2xx or socket error.
 */
import autocannon from "autocannon";
import { call, emit, endPhase, finish, generatorArgs, startPhase } from "./common.ts";
import type { GeneratorArgs } from "./protocol.ts";
import { percentile } from "../stats.ts";

export interface HttpPhase {
  phase: string;
  method: "GET" | "POST";
  path: string;
  body?: string;
  connections: number;
  /** Messages each successful request carries (for msgs/s). */
  messagesPerRequest: number;
  /** Setup calls made before the phase (create the topic, say). */
  setup?: { method: string; path: string; body?: unknown }[];
}

export interface HttpPhaseResult {
  phase: string;
  seconds: number;
  ok: number;
  failed: number;
  requestsPerSec: number;
  messagesPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

interface Args extends GeneratorArgs {
  phases: HttpPhase[];
}

const args = generatorArgs<Args>();
const results: HttpPhaseResult[] = [];

/**
 * One connection, one request at a time, timed with performance.now(): autocannon reports
 * whole milliseconds, too coarse for an unloaded request that takes about one.
 */
async function serial(p: HttpPhase, seconds: number): Promise<Omit<HttpPhaseResult, "phase">> {
  const latencies: number[] = [];
  let failed = 0;
  const headers = { authorization: `Bearer ${args.adminKey}`, "content-type": "application/json" };
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end && latencies.length < 1_000_000) {
    const t = performance.now();
    try {
      const res = await fetch(`${args.url}${p.path}`, { method: p.method, headers, body: p.body, signal: AbortSignal.timeout(30_000) });
      await res.arrayBuffer();
      if (res.status >= 200 && res.status < 300) latencies.push(performance.now() - t);
      else failed++;
    } catch {
      failed++;
    }
  }
  const elapsed = (performance.now() - t0) / 1000;
  return {
    seconds: elapsed,
    ok: latencies.length,
    failed,
    requestsPerSec: latencies.length / elapsed,
    messagesPerSec: (latencies.length * p.messagesPerRequest) / elapsed,
    p50Ms: percentile(latencies, 50) ?? 0,
    p99Ms: percentile(latencies, 99) ?? 0,
  };
}

for (const p of args.phases) {
  for (const s of p.setup ?? []) {
    // A failing setup (feature not built yet) still measures, and reports, the failures.
    const res = await call(args, s.method, s.path, s.body);
    if (res.status > 299) emit({ event: "log", message: `${s.method} ${s.path} -> ${res.status}` });
  }
  const options = {
    url: `${args.url}${p.path}`,
    method: p.method,
    connections: p.connections,
    headers: { authorization: `Bearer ${args.adminKey}`, "content-type": "application/json" },
    body: p.body,
    timeout: 30,
  };
  if (p.connections === 1) {
    if (args.warmupSeconds > 0) await serial(p, args.warmupSeconds);
    startPhase(p.phase);
    const r = await serial(p, args.seconds);
    endPhase(p.phase);
    results.push({ phase: p.phase, ...r });
    continue;
  }
  if (args.warmupSeconds > 0) await autocannon({ ...options, duration: args.warmupSeconds });
  startPhase(p.phase);
  const r = await autocannon({ ...options, duration: args.seconds });
  endPhase(p.phase);
  results.push({
    phase: p.phase,
    seconds: r.duration,
    ok: r["2xx"],
    failed: r.non2xx + r.errors + r.timeouts,
    requestsPerSec: r["2xx"] / r.duration,
    messagesPerSec: (r["2xx"] * p.messagesPerRequest) / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
  });
}

finish(results);
