/**
 * Catalog: one object (named "catalog") that lists which queues and topics exist, so the
 * list routes need not scan anything. Queue and topic objects register themselves when
 * first created and unregister when deleted. It also keeps the access keys (keys.ts).
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { migrate } from "../shared/sql";
import { now } from "../shared/clock";
import type { Result } from "../../protocol/errors";
import { KEY_MIGRATIONS, KeyStore, type AccessKeyCredential, type AccessKeyPage, type KeyCapabilities, type NewAccessKey } from "./keys";

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
  #keys: KeyStore;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql, MIGRATIONS);
      migrate(ctx.storage.sql, KEY_MIGRATIONS, "keys");
    });
    const masters = (): string[] => [env.SPOOL_TOKEN_SECRET, env.SPOOL_TOKEN_SECRET_PREVIOUS].filter((s): s is string => !!s);
    this.#keys = new KeyStore(ctx.storage.sql, masters);
  }

  // Access keys (keys.ts): the Worker's /v1/keys routes and authentication call these.

  /** Makes an access key; its secret is in this answer only. */
  async createAccessKey(capabilities: KeyCapabilities, description: string | null): Promise<Result<NewAccessKey>> {
    if (!this.env.SPOOL_TOKEN_SECRET) {
      return { ok: false, error: { code: "NOT_CONFIGURED", message: "SPOOL_TOKEN_SECRET is not configured; access keys cannot be stored" } };
    }
    return { ok: true, value: await this.#keys.create(capabilities, description, now()) };
  }

  /** A key and its secret, for authentication; null when unknown or revoked. */
  accessKey(accessKeyId: string): Promise<AccessKeyCredential | null> {
    return this.#keys.credential(accessKeyId);
  }

  listAccessKeys(limit: number, after?: string): AccessKeyPage {
    return this.#keys.list(limit, after);
  }

  /** Revokes a key; false when there was none. */
  deleteAccessKey(accessKeyId: string): boolean {
    return this.#keys.delete(accessKeyId);
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
