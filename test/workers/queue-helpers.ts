/** Helpers for the queue tests: RPC results, object access, and moving the objects' clock. */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { Result } from "../../protocol/errors";
import { queueStub } from "../../durable-objects/env";
import type { QueueObject } from "../../durable-objects/queue/object";
import { QueueStore } from "../../durable-objects/queue/store/queue-store";
import { advanceClock } from "../../durable-objects/shared/clock";
import { callJson } from "./helpers";

/** The value of an RPC result; fails the test on an error result. */
export async function value<T>(p: Promise<unknown>): Promise<T> {
  const r = (await p) as Result<T>;
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.value;
}

/** The error code of an RPC result ("ok" when it succeeded). */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  const r = (await p) as Result<unknown>;
  return r.ok ? "ok" : r.error.code;
}

export const stub = (q: string) => queueStub(env, q);

/**
 * Moves the objects' clock forward by `ms` and runs queue `q`'s alarm, which applies what
 * became due (leases, delays, dedup and move-key expiry, outbox retries, retention). The
 * clock is shared by every object in this test file and never moves back. Resolves to
 * whether an alarm was set.
 */
export async function advance(q: string, ms: number): Promise<boolean> {
  advanceClock(ms);
  // The stored alarm is still at its real time; running it now is what time would have done.
  return runDurableObjectAlarm(stub(q));
}

/**
 * Runs `fn` inside queue `q`'s object with a store over its SQL, for looking at what is
 * stored (or arranging a crash) through store functions rather than raw SQL.
 */
export async function withStore<T>(q: string, fn: (store: QueueStore, obj: QueueObject, state: DurableObjectState) => T | Promise<T>): Promise<T> {
  return runInDurableObject(stub(q), (obj: QueueObject, state) => fn(new QueueStore(state.storage.sql), obj, state));
}

/** Stats over HTTP. */
export async function statsOf(q: string): Promise<Record<string, number>> {
  const { status, body } = await callJson("GET", `/v1/queues/${q}`);
  if (status !== 200) throw new Error(`GET queue ${q}: ${status} ${JSON.stringify(body)}`);
  return body.stats as Record<string, number>;
}
