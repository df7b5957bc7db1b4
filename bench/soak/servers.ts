/**
 * The servers a soak runs against, both killable with SIGKILL and restartable on the same
 * persisted state:
 *   - "direct" (the default): Spool as shipped (worker/index.ts, bundled once per run) under
 *     Miniflare with a direct socket to the Worker, as the benchmarks run it: no wrangler
 *     proxy and no local trace store, so its memory and latency are Spool's own;
 *   - "wrangler-dev": what `npm start` runs (test/e2e/server.ts), with wrangler's proxy
 *     process in front, which holds memory of its own (reported apart as `proxyBytes`).
 * The server's processes (for RSS) are the workerd processes serving it.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startServer } from "../../test/e2e/server.ts";
import { Inspector, type HeapUsage } from "../inspector.ts";
import { listeningPid, processGroupOf, processNames } from "../procstat.ts";
import { ALL_SPOOL_OBJECTS, BENCH_ADMIN_KEY, bundleWorker, ROOT, runMiniflare } from "../server.ts";

export type SoakServerKind = "direct" | "wrangler-dev";

export interface SoakServer {
  kind: SoakServerKind;
  url: string;
  adminKey: string;
  persistTo: string;
  /** workerd processes running Spool's Worker and objects. */
  spoolPids(): number[];
  /** Other processes of the server (wrangler and its proxy); none for "direct". */
  otherPids(): number[];
  stop(): Promise<void>;
  /** SIGKILL to every server process at once, as a crash would; the state stays. */
  crash(): Promise<void>;
  /** Spool's V8 heap after a full GC, over workerd's inspector (the direct server only). */
  heap?(): Promise<HeapUsage>;
}

/** Where the direct server's bundle is built, once per soak process. */
let bundled: Promise<string> | undefined;

export async function startSoakServer(kind: SoakServerKind, persistTo?: string): Promise<SoakServer> {
  return kind === "direct" ? startDirect(persistTo) : startWrangler(persistTo);
}

async function startDirect(persistTo = mkdtempSync(join(tmpdir(), "spool-soak-"))): Promise<SoakServer> {
  bundled ??= (async () => {
    // Inside the project: Miniflare names modules relative to the working directory and refuses "..".
    const dir = join(ROOT, "bench/results/tmp", `soak-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    return bundleWorker(dir, ROOT, join(ROOT, "worker/index.ts"));
  })();
  // workerd's inspector is open (attached only when `heap()` is first read), so a run can read Spool's heap beside RSS.
  const inspectorPort = await freePort();
  const server = await runMiniflare(await bundled, { name: "spool", durableObjects: ALL_SPOOL_OBJECTS, persistTo, inspectorPort });
  let inspector: Promise<Inspector> | undefined;
  const detach = async (): Promise<void> => (await inspector?.catch(() => undefined))?.close();
  return {
    kind: "direct",
    url: server.url,
    adminKey: BENCH_ADMIN_KEY,
    persistTo,
    spoolPids: () => server.pids(),
    otherPids: () => [],
    stop: async () => {
      await detach();
      await server.stop();
    },
    heap: async () => {
      inspector ??= Inspector.connect(inspectorPort, "core:user:spool");
      return (await inspector).heapUsage();
    },
    crash: async () => {
      await detach();
      for (const pid of server.pids()) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      // Miniflare's control side sees its runtime gone; disposing it only tidies up.
      await server.stop().catch(() => undefined);
    },
  };
}

async function startWrangler(persistTo?: string): Promise<SoakServer> {
  const server = await startServer(persistTo ? { persistTo } : {});
  const group = (): number[] => {
    const pid = listeningPid(server.port);
    return pid === undefined ? [] : processGroupOf(pid);
  };
  // Two workerd processes: the one listening on the public port is wrangler's proxy; the other runs Spool.
  const split = (): { spool: number[]; other: number[] } => {
    const pids = group();
    const names = processNames(pids);
    const proxy = listeningPid(server.port);
    const spool = pids.filter((pid, i) => names[i] === "workerd" && pid !== proxy);
    return { spool, other: pids.filter((pid) => !spool.includes(pid)) };
  };
  return {
    kind: "wrangler-dev",
    url: server.url,
    adminKey: server.adminKey,
    persistTo: server.persistTo,
    spoolPids: () => split().spool,
    otherPids: () => split().other,
    stop: () => server.stop(),
    crash: () => server.crash(),
  };
}

/** Removes a run's state directory (after the final check). */
export function removeState(server: SoakServer): void {
  rmSync(server.persistTo, { recursive: true, force: true });
}
