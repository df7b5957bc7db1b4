/**
 * One soak run against a real local Spool with persisted state (servers.ts: Miniflare with a
 * direct socket by default, or `wrangler dev` as `npm start` runs it): sets up a queue, a partitioned topic with a consumer group and a
 * topic→queue subscription, runs the load for `durationMs` (killing the server with SIGKILL
 * every `killEveryMs` and starting it again on the same state), samples the server's RSS,
 * then stops writers, lets readers catch up, verifies every guarantee and reports. Bounded:
 * every phase has a deadline, and the server is always stopped, whatever fails.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { cpuSecondsBetween, cpuSnapshot, loadAverage, rssBytes, type CpuSnapshot } from "../procstat.ts";
import { Ledger, call, sleep, type Target } from "./ledger.ts";
import { startLoad, type LoadShape, type Stop } from "./load.ts";
import { prefillTopic } from "./prefill.ts";
import { removeState, startSoakServer, type SoakServer, type SoakServerKind } from "./servers.ts";
import { verify, violations, type Guarantees, type Names } from "./verify.ts";

/** The load's shape (names aside, which a run picks itself), plus how long, how often to kill, and how to drain. */
export interface SoakOptions extends Omit<LoadShape, "queue" | "forwardQueue" | "topic" | "group"> {
  durationMs: number;
  /** Which server (servers.ts); default "direct". */
  server?: SoakServerKind;
  /** 0: never kill. */
  killEveryMs: number;
  /** Deadline of each drain at the end. */
  drainMs: number;
  /**
   * Messages published to the topic before the load (default 0), as a long run would leave
   * them retained: the group and the subscription then start at the end, and live subscribers too.
   */
  prefill?: number;
  /** The soak queue's and topic's `deduplicationWindow` in seconds (default: the API's, 300). */
  dedupWindow?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export const DEFAULT_SOAK: SoakOptions = {
  durationMs: 12 * 60_000, killEveryMs: 3 * 60_000, partitions: 4, producers: 4, leaseConsumers: 6, pushConsumers: 1, publishers: 2,
  wsSubscribers: 8, sseSubscribers: 4, batch: 10, pauseMs: 50, reconnectMs: [20_000, 60_000], drainMs: 120_000,
};

export interface RssSample {
  atMs: number;
  /** Every process of the server (wrangler and its proxy too, under wrangler dev). */
  totalBytes: number;
  /** The workerd process running Spool's Worker and objects. */
  spoolBytes: number;
  /** Size of the persisted state (what `.wrangler/state` holds under npm start). */
  stateBytes: number;
  /** The machine's 1-minute load average: latency on a shared machine is read beside it. */
  load1: number;
  /** Spool's V8 heap after a full GC (direct server, once a minute): flat while RSS grows means memory held natively. */
  heapUsedBytes?: number;
  /** The soak's own process: its heap and its event loop's p99 delay since the last sample (its latencies are measured there). */
  clientHeapBytes: number;
  clientLagMs: number;
  /** CPU used since the last sample, in % of one core: Spool's workerd, and the soak's own process. */
  spoolCpuPct: number;
  clientCpuPct: number;
}

export interface SoakReport {
  options: Omit<SoakOptions, "log">;
  startedAt: string;
  wallMs: number;
  counts: Ledger["counts"] & { liveDeliveries: number; reconnects: number; errors5xx: number; groupDelivered: number; forwarded: number };
  rss: RssSample[];
  /** Highest RSS seen per minute (MB), across restarts, and the state's size at the minute's end. */
  rssPerMinuteMb: Array<{
    minute: number; totalMb: number; spoolMb: number; stateMb: number; load1: number; heapMb?: number; clientHeapMb: number; clientLagMs: number;
    /** Mean CPU over the minute, % of one core. */
    spoolCpuPct: number; clientCpuPct: number;
  }>;
  latency: ReturnType<Ledger["latencyPerMinute"]>;
  guarantees: Guarantees;
  violations: number;
  /** Queue deliveries made before an ack but seen here after its answer (Ledger.seenLate): not violations. */
  seenLate: Ledger["seenLate"];
}

/**
 * The soak's latencies are measured in its own process: its event loop delay is sampled beside
 * the server's memory, so a drift in the server can be told apart from one in the client.
 */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });

/** CPU readings at the last sample, to turn the next into a rate. */
interface CpuMark { at: number; spool: CpuSnapshot; client: NodeJS.CpuUsage }

function sampleRss(server: SoakServer, last: CpuMark): { sample: Omit<RssSample, "atMs">; mark: CpuMark } {
  const pids = server.spoolPids();
  const spool = rssBytes(pids);
  const clientLagMs = loopDelay.count > 0 ? Math.round(loopDelay.percentile(99) / 1e6) : 0;
  loopDelay.reset();
  const mark: CpuMark = { at: performance.now(), spool: cpuSnapshot(pids), client: process.cpuUsage() };
  const seconds = Math.max(0.001, (mark.at - last.at) / 1000);
  const clientCpuMicros = mark.client.user - last.client.user + mark.client.system - last.client.system;
  const sample = {
    totalBytes: spool + rssBytes(server.otherPids()), spoolBytes: spool, stateBytes: dirBytes(server.persistTo), load1: loadAverage()[0],
    clientHeapBytes: process.memoryUsage().heapUsed, clientLagMs,
    spoolCpuPct: Math.round((100 * cpuSecondsBetween(last.spool, mark.spool)) / seconds),
    clientCpuPct: Math.round(clientCpuMicros / 1e4 / seconds),
  };
  return { sample, mark };
}

/** Bytes of every file under `dir` (files vanish as SQLite checkpoints: those count as 0). */
function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    try {
      total += statSync(join(entry.parentPath, entry.name)).size;
    } catch {
      // removed meanwhile
    }
  }
  return total;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const ledger = new Ledger(options.batch);
  const started = Date.now();
  const kind = options.server ?? "direct";
  let server = await startSoakServer(kind);
  loopDelay.enable();
  let cpuMark: CpuMark = { at: performance.now(), spool: cpuSnapshot(server.spoolPids()), client: process.cpuUsage() };
  const on: Target = { url: server.url, adminKey: server.adminKey };
  const names: Names = { queue: "soak-q", topic: "soak-t", partitions: options.partitions, group: "soak-g", subscription: "soak-fwd", forwardQueue: "soak-fwd-q" };
  const rss: RssSample[] = [];
  const writers: Stop = { now: false };
  const readers: Stop = { now: false };
  try {
    // Short leases so expiries happen; never dead-letter, so "not lost" means "still in the queue".
    const setup = async (steps: Array<[string, string, unknown]>): Promise<void> => {
      for (const [method, path, body] of steps) {
        const r = await call(on, ledger, method, path, body);
        if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
      }
    };
    const dedup = options.dedupWindow === undefined ? {} : { deduplicationWindow: options.dedupWindow };
    await setup([
      ["PUT", `/v1/queues/${names.queue}`, { visibilityTimeout: 2, maxReceives: 0, ...dedup }],
      // The dedup window covers the forwarder's retries after a kill (seconds), with room to spare.
      ["PUT", `/v1/queues/${names.forwardQueue}`, { deduplicationWindow: 900, maxReceives: 0 }],
      ["PUT", `/v1/topics/${names.topic}`, { partitions: names.partitions, ...dedup }],
    ]);
    const prefill = options.prefill ?? 0;
    const from = prefill > 0 ? await prefillTopic(on, ledger, names.topic, names.partitions, prefill) : [];
    if (prefill > 0) log(`prefilled ${prefill} messages: partitions end at ${from.join(", ")}`);
    await setup([
      ["PUT", `/v1/topics/${names.topic}/groups/${names.group}`, { visibilityTimeout: 5, start: prefill > 0 ? "latest" : "earliest" }],
      ["PUT", `/v1/topics/${names.topic}/subscriptions/${names.subscription}`, { queue: names.forwardQueue }],
    ]);
    const shape: LoadShape = { ...names, ...options };
    const { running, views } = startLoad(on, ledger, shape, writers, readers, from);

    const end = Date.now() + options.durationMs; // after setup: a prefill does not shorten the load (minutes still count from the start)
    let nextKill = options.killEveryMs > 0 ? started + options.killEveryMs : Infinity;
    let nextRss = Date.now();
    while (Date.now() < end) {
      if (Date.now() >= nextRss) {
        const taken = sampleRss(server, cpuMark);
        cpuMark = taken.mark;
        const sample: RssSample = { atMs: Date.now() - started, ...taken.sample };
        if (server.heap && rss.length % 12 === 0) sample.heapUsedBytes = await server.heap().then((h) => h.usedBytes, () => undefined);
        rss.push(sample);
        nextRss += 5_000;
        const last = rss[rss.length - 1]!;
        if (rss.length % 12 === 1) log(`${Math.round(last.atMs / 1000)} s: rss ${Math.round(last.totalBytes / 1e6)} MB, sends ${ledger.counts.sends}, publishes ${ledger.counts.publishes}, live ${ledger.liveDeliveries}, client heap ${Math.round(last.clientHeapBytes / 1e6)} MB, loop p99 ${last.clientLagMs} ms, cpu spool ${last.spoolCpuPct}% soak ${last.clientCpuPct}%`);
      }
      if (Date.now() >= nextKill && end - Date.now() > 20_000) {
        log(`kill -9 at ${Math.round((Date.now() - started) / 1000)} s`);
        await server.crash();
        ledger.counts.kills++;
        server = await startSoakServer(kind, server.persistTo);
        on.url = server.url; // the clients read it on every call
        nextKill += options.killEveryMs;
      }
      await sleep(250);
    }

    // Writers stop; readers catch up to the end of each partition (bounded), then stop.
    writers.now = true;
    const catchUp = Date.now() + options.drainMs;
    const ends: number[] = [];
    for (let p = 0; p < names.partitions; p++) {
      const r = await call(on, ledger, "GET", `/v1/topics/${names.topic}`);
      ends[p] = Number((r.body?.partitions as Array<{ next: number }> | undefined)?.[p]?.next ?? 0);
    }
    while (Date.now() < catchUp && views.some((v) => v.next < (ends[v.partition] ?? 0))) await sleep(250);
    const behind = views.filter((v) => v.next < (ends[v.partition] ?? 0)).map((v) => `${v.name}: stopped at ${v.next}, partition end ${ends[v.partition]}`);
    ledger.liveViolations.push(...behind);
    readers.now = true;
    await running;
    log("verifying");
    const guarantees = await verify(on, ledger, names, views, options.drainMs);
    const { log: _log, ...plain } = options;
    return {
      options: plain,
      startedAt: new Date(started).toISOString(),
      wallMs: Date.now() - started,
      counts: { ...ledger.counts, liveDeliveries: ledger.liveDeliveries, reconnects: ledger.reconnects, errors5xx: ledger.errors5xx, ...ledger.topicDeliveryCounts() },
      rss,
      rssPerMinuteMb: perMinute(rss),
      latency: ledger.latencyPerMinute(),
      guarantees,
      violations: violations(guarantees),
      seenLate: ledger.seenLate,
    };
  } finally {
    writers.now = readers.now = true; // on a failure too, so no client loop outlives the run
    loopDelay.disable();
    await server.stop();
    removeState(server);
  }
}

function perMinute(rss: RssSample[]): SoakReport["rssPerMinuteMb"] {
  const out = new Map<number, SoakReport["rssPerMinuteMb"][number]>();
  const cpu = new Map<number, { spool: number; client: number; n: number }>(); // sums, for the minute's mean
  for (const s of rss) {
    const minute = Math.floor(s.atMs / 60_000);
    const row = out.get(minute) ?? { minute, totalMb: 0, spoolMb: 0, stateMb: 0, load1: 0, clientHeapMb: 0, clientLagMs: 0, spoolCpuPct: 0, clientCpuPct: 0 };
    row.load1 = Math.max(row.load1, s.load1);
    row.totalMb = Math.max(row.totalMb, Math.round(s.totalBytes / 1e6));
    row.spoolMb = Math.max(row.spoolMb, Math.round(s.spoolBytes / 1e6));
    row.stateMb = Math.round(s.stateBytes / 1e6);
    row.clientHeapMb = Math.max(row.clientHeapMb, Math.round(s.clientHeapBytes / 1e6));
    row.clientLagMs = Math.max(row.clientLagMs, s.clientLagMs);
    const sum = cpu.get(minute) ?? { spool: 0, client: 0, n: 0 };
    sum.spool += s.spoolCpuPct;
    sum.client += s.clientCpuPct;
    sum.n++;
    cpu.set(minute, sum);
    row.spoolCpuPct = Math.round(sum.spool / sum.n);
    row.clientCpuPct = Math.round(sum.client / sum.n);
    if (s.heapUsedBytes !== undefined) row.heapMb = Math.round(s.heapUsedBytes / 1e6);
    out.set(minute, row);
  }
  return [...out.values()];
}
