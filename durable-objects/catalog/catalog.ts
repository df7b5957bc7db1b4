/**
 * Catalog: one object (named "catalog") that lists which queues and topics exist, so the
 * list routes need not scan anything. Queue and topic objects register themselves when
 * first created and unregister when deleted.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { migrate } from "../shared/sql";

const MIGRATIONS = [
  `CREATE TABLE entries (
     kind TEXT NOT NULL,
     name TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     info TEXT NOT NULL DEFAULT '{}',
     PRIMARY KEY (kind, name)
   ) WITHOUT ROWID`,
];

export type CatalogKind = "queues" | "topics";

export interface CatalogEntry {
  name: string;
  createdAt: number;
  /** Small per-kind facts the list route shows (a topic's partition count, say). */
  info: Record<string, unknown>;
}

export const CATALOG_NAME = "catalog";

export class Catalog extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => migrate(ctx.storage.sql, MIGRATIONS));
  }

  /** Adds or updates an entry; `createdAt` of an existing entry is kept. */
  register(kind: CatalogKind, name: string, createdAt: number, info: Record<string, unknown> = {}): void {
    this.ctx.storage.sql.exec(
      `INSERT INTO entries (kind, name, created_at, info) VALUES (?, ?, ?, ?)
       ON CONFLICT (kind, name) DO UPDATE SET info = excluded.info`,
      kind, name, createdAt, JSON.stringify(info),
    );
  }

  unregister(kind: CatalogKind, name: string): void {
    this.ctx.storage.sql.exec("DELETE FROM entries WHERE kind = ? AND name = ?", kind, name);
  }

  list(kind: CatalogKind, limit = 10_000): CatalogEntry[] {
    return this.ctx.storage.sql
      .exec<{ name: string; created_at: number; info: string }>(
        "SELECT name, created_at, info FROM entries WHERE kind = ? ORDER BY name LIMIT ?", kind, limit,
      )
      .toArray()
      .map((r) => ({ name: r.name, createdAt: r.created_at, info: JSON.parse(r.info) as Record<string, unknown> }));
  }
}
