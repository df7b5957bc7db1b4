/**
 * Catalog: one object (named "catalog") that lists which queues and topics exist, so the
 * list routes need not scan anything, and gates the queue and topic quotas: a queue or
 * topic is listed before it is created, and a name the quota has no room for is refused
 * (entries.ts). Objects unregister themselves when deleted. It also keeps the access keys
 * (keys.ts).
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { migrate } from "../shared/sql";
import { now } from "../shared/clock";
import type { Result } from "../../protocol/errors";
import { ENTRY_MIGRATIONS, EntryStore, type CatalogEntry, type CatalogKind, type CatalogPage } from "./entries";
import { KEY_MIGRATIONS, KeyStore, type AccessKeyCredential, type AccessKeyPage, type KeyCapabilities, type NewAccessKey } from "./keys";
import { quotaOf } from "./quotas";

export type { CatalogEntry, CatalogKind, CatalogPage } from "./entries";

export const CATALOG_NAME = "catalog";

export class Catalog extends DurableObject<Env> {
  #keys: KeyStore;
  #entries: EntryStore;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql, ENTRY_MIGRATIONS);
      migrate(ctx.storage.sql, KEY_MIGRATIONS, "keys");
    });
    const masters = (): string[] => [env.SPOOL_TOKEN_SECRET, env.SPOOL_TOKEN_SECRET_PREVIOUS].filter((s): s is string => !!s);
    this.#keys = new KeyStore(ctx.storage.sql, masters);
    this.#entries = new EntryStore(ctx.storage.sql, (fn) => ctx.storage.transactionSync(fn));
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

  // Queues and topics (entries.ts).

  /**
   * Lists a queue or topic, or updates the info of one listed already (its `createdAt` is
   * kept). A new name is refused with QUOTA_EXCEEDED when its kind is at its quota
   * (`SPOOL_MAX_QUEUES`, `SPOOL_MAX_TOPICS`), unless `force`: for an object that exists
   * already and must be listed whatever the count (a dead-letter queue created by a move).
   */
  register(kind: CatalogKind, name: string, createdAt: number, info: Record<string, unknown> = {}, force = false): Result<null> {
    const quota = force ? null : quotaOf(this.env, kind);
    return this.#entries.register(kind, name, createdAt, info, { quota });
  }

  /** Takes a queue or topic off the list (it was deleted, or its creation failed); false when it was not listed. */
  unregister(kind: CatalogKind, name: string): boolean {
    return this.#entries.unregister(kind, name);
  }

  /** How many queues or topics are listed (what the quota counts). */
  count(kind: CatalogKind): number {
    return this.#entries.count(kind);
  }

  /** One page in name order, after the cursor `after` (a previous page's `next`). */
  page(kind: CatalogKind, limit: number, after?: string): CatalogPage {
    return this.#entries.page(kind, limit, after);
  }

  /** The first `limit` entries in name order. */
  list(kind: CatalogKind, limit = 10_000): CatalogEntry[] {
    return this.#entries.list(kind, limit);
  }
}
