/**
 * QueueObject: one per queue. Messages, leases, dedup, dead letters, delay and WebSocket
 * consumers, all in this object's SQLite. (Behaviour arrives with the queues issue.)
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../worker/env";
import { migrate } from "./sql";

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
];

export class QueueObject extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => migrate(ctx.storage.sql, MIGRATIONS));
  }
}
