/**
 * Load generator: fixed-connection HTTP load with autocannon, one phase per route (Spool's
 * and its baseline's), each after a warm-up. Reports messages/s and latency percentiles
 * of the 2xx answers, and every non-2xx or socket error.
 */
import autocannon from "autocannon";
import { call, emit, endPhase, finish, generatorArgs, startPhase } from "./common.ts";
import type { GeneratorArgs } from "./protocol.ts";

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
