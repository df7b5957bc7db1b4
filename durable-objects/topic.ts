/**
 * TopicPartition: one per topic partition. The append-only log with its offsets,
 * retention, consumer groups and live subscribers. (Behaviour arrives with the topic issues.)
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../worker/env";
import { migrate } from "./sql";

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
];

export class TopicPartition extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => migrate(ctx.storage.sql, MIGRATIONS));
  }
}
