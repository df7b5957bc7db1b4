/** Helpers for the queue tests: RPC results, object access, and moving a queue's clock. */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { Result } from "../../protocol/errors";
import { queueStub } from "../../durable-objects/env";
import type { QueueObject } from "../../durable-objects/queue/object";
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
 * Moves time forward for a queue by `ms`: every stored deadline (leases, delays, dedup and
 * move-key expiry, outbox retries, send times) is shifted back, then the alarm runs.
 */
export async function advance(q: string, ms: number): Promise<boolean> {
  await runInDurableObject(stub(q), (_obj: QueueObject, state) => {
    const sql = state.storage.sql;
    sql.exec("UPDATE messages SET due_at = due_at - ? WHERE due_at > 0", ms);
    sql.exec("UPDATE messages SET sent_at = sent_at - ?", ms);
    sql.exec("UPDATE dedup SET expires_at = expires_at - ?", ms);
    sql.exec("UPDATE moves SET expires_at = expires_at - ?", ms);
    sql.exec("UPDATE outbox SET next_at = next_at - ?", ms);
  });
  // The alarm was set for the old deadlines; running it now applies what is due.
  return runDurableObjectAlarm(stub(q));
}

/** Stats over HTTP. */
export async function statsOf(q: string): Promise<Record<string, number>> {
  const { status, body } = await callJson("GET", `/v1/queues/${q}`);
  if (status !== 200) throw new Error(`GET queue ${q}: ${status} ${JSON.stringify(body)}`);
  return body.stats as Record<string, number>;
}
