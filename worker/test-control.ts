/**
 * The test kit's control path (spool/testing's `advanceTime` and `settle`): moves the
 * objects' clock (durable-objects/shared/clock.ts) and makes every object run what became
 * due, in deadline order, as if that much time had passed.
 *
 * Why a deployed Worker can never reach it: the path exists only when the Worker has the
 * `SPOOL_TEST_CONTROL` binding, a service binding to a function in the Node process that
 * runs Miniflare (Miniflare's `serviceBindings: {NAME: (request) => Response}`). A
 * wrangler.toml can bind a service only to another Worker, and Spool's binds none; and even
 * a deployment that bound some Worker under that name gets nothing, because every control
 * request must carry the key that the binding hands out, which only the test kit's Node
 * function knows (a fresh random one per server). Without the binding, or with a wrong key,
 * the path is an unknown path like any other (404). test/e2e/testing-kit.test.ts proves both.
 *
 * The objects are listed by the caller (Miniflare's `listDurableObjectIds` for every Durable
 * Object binding): every queue, topic partition, relay and MQTT object, whatever created it.
 * Each has `runDue()`: its alarm's own work, run now if its deadline has come on the moved
 * clock, and its next deadline (`DueReport` in shared/clock.ts).
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app-env";
import { timingSafeEqual } from "./auth";
import { advanceClock, clockOffset, now, type DueReport } from "../durable-objects/shared/clock";

export const TEST_CONTROL_PATH = "/__spool/test/advance";
export const TEST_CONTROL_KEY_HEADER = "spool-test-control";

/** Most steps one advance takes through its window (each step runs the objects due then). */
const MAX_STEPS = 64;
/** Most passes at one instant for work that made more work due at once. */
const MAX_CASCADES = 8;
/** Calls in flight at once during a pass. */
const CONCURRENCY = 64;

export interface AdvanceInput {
  /** How far to move the clock (ms, ≥ 0; 0 only runs what is due: `settle`). */
  ms: number;
  /** Object ids (hex) by Durable Object binding name. */
  objects: Record<string, string[]>;
}

export interface AdvanceResult {
  /** How far the clock is ahead of real time now. */
  offsetMs: number;
  /** Object runs that did due work, over all passes. */
  ran: number;
  passes: number;
  objects: number;
  /** Objects that could not be asked (a class without `runDue`, such as the Catalog). */
  skipped: number;
  /** The last pass found nothing due (false: work kept making more; ask again to settle). */
  quiet: boolean;
}

interface DueRunner {
  runDue(options: { rearm?: boolean }): Promise<DueReport>;
}

/** Middleware placed first in the app: answers the control path when (and only when) the binding vouches for the key. */
export const testControl: MiddlewareHandler<AppEnv> = async (c, next) => {
  const binding = (c.env as { SPOOL_TEST_CONTROL?: Fetcher }).SPOOL_TEST_CONTROL;
  if (!binding || c.req.path !== TEST_CONTROL_PATH || c.req.method !== "POST") return next();
  const key = await (await binding.fetch("http://spool-test-control/key")).text();
  if (key === "" || !timingSafeEqual(c.req.header(TEST_CONTROL_KEY_HEADER) ?? "", key)) return next();
  const input = (await c.req.json()) as AdvanceInput;
  if (!Number.isFinite(input.ms) || input.ms < 0) return c.json({ error: { code: "VALIDATION_FAILED", message: "ms must be ≥ 0" } }, 400);
  return c.json(await advance(c.env as unknown as Record<string, unknown>, input));
};

/**
 * Moves the clock `ms` forward in steps: each step goes to the earliest deadline an object
 * reported (at most MAX_STEPS strides through the window) and runs the objects due there.
 * At the end of the window every object is asked again, and work that made more work due at
 * once (a will published into a topic that forwards) is run before it returns. A deadline
 * that one object's work created in another during the window falls due at the end of the
 * window at the latest.
 *
 * Alarms are not re-armed for the moved clock (`rearm: false`): that is a storage write per
 * object per call, the whole cost of an advance over many idle objects, and buys only this:
 * a deadline set before the clock moved, and still ahead of it, fires by real time as late
 * as it was set for. Tests move time with advanceTime, not by waiting.
 */
export async function advance(env: Record<string, unknown>, input: AdvanceInput): Promise<AdvanceResult> {
  const all: DueRunner[] = [];
  for (const [binding, ids] of Object.entries(input.objects)) {
    const ns = env[binding] as DurableObjectNamespace | undefined;
    if (!ns || typeof ns.idFromString !== "function") continue;
    for (const id of ids) all.push(ns.get(ns.idFromString(id)) as unknown as DueRunner);
  }
  const next = new Map<DueRunner, number | null>();
  const target = now() + input.ms;
  const minStride = input.ms / MAX_STEPS;
  let ran = 0;
  let passes = 0;
  const pass = async (stubs: DueRunner[]): Promise<number> => {
    passes++;
    const n = await runPass(stubs, next);
    ran += n;
    return n;
  };
  const due = (): DueRunner[] => [...next].filter(([, at]) => at !== null && at <= now()).map(([stub]) => stub);
  let last = await pass(all);
  while (now() < target) {
    let earliest = target;
    for (const at of next.values()) if (at !== null && at < earliest) earliest = at;
    advanceClock(Math.min(target, Math.max(earliest, now() + minStride)) - now());
    for (let i = 0; i < MAX_CASCADES && (await pass(due())) > 0; i++);
  }
  if (input.ms > 0) last = await pass([...next.keys()]);
  for (let i = 0; i < MAX_CASCADES && last > 0; i++) last = await pass([...next.keys()]);
  return { offsetMs: clockOffset(), ran, passes, objects: all.length, skipped: all.length - next.size, quiet: last === 0 };
}

/** Asks each object to run what is due; records each one's next deadline in `next`. Answers how many did due work. */
async function runPass(stubs: DueRunner[], next: Map<DueRunner, number | null>): Promise<number> {
  let ran = 0;
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < stubs.length) {
      const stub = stubs[i++]!;
      try {
        const r = await stub.runDue({ rearm: false });
        if (r.ran) ran++;
        next.set(stub, r.next);
      } catch (err) {
        // A class with no runDue (the Catalog keeps no deadlines) is left out of later passes.
        if (/does not implement|runDue/i.test(String(err))) next.delete(stub);
        else {
          console.error("test control: an object failed to run what was due", err instanceof Error ? err.message : String(err));
          if (!next.has(stub)) next.set(stub, null); // asked again at the end
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, stubs.length) }, worker));
  return ran;
}
