/**
 * The queue's side tables, each with the SQL of its own transitions: the queue's own record
 * (`meta`), dedup records (the dedup window, dedup.ts), move keys this queue accepted (dead
 * letters moved in) and the outbox of letters waiting to be moved out (dead-letters.ts).
 * Reached through `QueueStore`; everything runs inside the caller's transaction.
 */
import type { QueueConfig } from "../../../protocol/queues";
import type { Counters } from "./counters";
import type { OutboxRow } from "./schema";

/** Earliest value of an indexed time column, or null for an empty table. */
function earliest(sql: SqlStorage, query: string): number | null {
  return sql.exec<{ t: number }>(query).toArray()[0]?.t ?? null;
}

/** What is stored about the queue itself (absent before it is created). */
export interface StoredQueue {
  config: QueueConfig;
  createdAt: number;
}

/** Meta keys of the queue's tags and the protocol attributes the SQS API keeps (queue/tags.ts). */
export type StringMapKey = "tags" | "attributes";

/** Meta key holding when to (re)try registering the queue in the Catalog; absent once registered. */
export const CATALOG_REGISTER_AT = "catalog_register_at";

/** The queue's own record in `meta`: name, creation time, config, Catalog registration. */
export class QueueMeta {
  constructor(private readonly sql: SqlStorage) {}

  load(): StoredQueue | null {
    const config = this.#get("config");
    return config === null ? null : { config: JSON.parse(config) as QueueConfig, createdAt: Number(this.#get("created_at")) };
  }

  /** The name the queue was created under (an object reached by id alone does not know it). */
  storedName(): string | null {
    return this.#get("name");
  }

  /** Creates the queue; it is registered in the Catalog after commit (`catalogRegisterAt`). */
  create(name: string, config: QueueConfig, createdAt: number): void {
    this.#set("name", name);
    this.#set("created_at", String(createdAt));
    this.saveConfig(config);
    this.setCatalogRegisterAt(createdAt);
  }

  saveConfig(config: QueueConfig): void {
    this.#set("config", JSON.stringify(config));
  }

  /** A string map kept in meta under `key` ("tags", "attributes"): `{}` when never set. */
  stringMap(key: StringMapKey): Record<string, string> {
    const raw = this.#get(key);
    return raw === null ? {} : (JSON.parse(raw) as Record<string, string>);
  }

  saveStringMap(key: StringMapKey, map: Record<string, string>): void {
    this.#set(key, JSON.stringify(map));
  }

  /** When to (re)try registering in the Catalog; null once registered. */
  catalogRegisterAt(): number | null {
    const at = this.#get(CATALOG_REGISTER_AT);
    return at === null ? null : Number(at);
  }

  setCatalogRegisterAt(at: number | null): void {
    if (at === null) this.sql.exec("DELETE FROM meta WHERE key = ?", CATALOG_REGISTER_AT);
    else this.#set(CATALOG_REGISTER_AT, String(at));
  }

  #get(key: string): string | null {
    return this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value ?? null;
  }

  #set(key: string, value: string): void {
    this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }
}

/**
 * Ids accepted within the dedup window: `id → seq` until `expires_at`. Their number is kept
 * in the `dedupRecords` counter (never counted by scanning), so a send can check the bound
 * on how many a queue keeps (send.ts).
 */
export class DedupRecords {
  constructor(
    private readonly sql: SqlStorage,
    private readonly counters: Counters,
  ) {}

  /** The seq of each of `ids` accepted within its window at `now` (one indexed lookup for a batch). */
  findMany(ids: readonly string[], now: number): Map<string, number> {
    const found = new Map<string, number>();
    if (ids.length === 0) return found;
    for (const r of this.sql.exec<{ id: string; seq: number }>(
      "SELECT id, seq FROM dedup WHERE id IN (SELECT value FROM json_each(?)) AND expires_at > ?", JSON.stringify(ids), now,
    )) found.set(r.id, r.seq);
    return found;
  }

  /** Remembers distinct ids as accepted (`[id, seq]`) until `expiresAt`: three statements whatever the batch size. */
  rememberMany(entries: ReadonlyArray<readonly [string, number]>, expiresAt: number): void {
    if (entries.length === 0) return;
    const json = JSON.stringify(entries);
    // Records of these ids whose window ended but the alarm has not deleted are reused, not added.
    const reused = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM dedup WHERE id IN (SELECT value ->> 0 FROM json_each(?))", json).one().n;
    this.sql.exec(
      `INSERT INTO dedup (id, seq, expires_at) SELECT value ->> 0, value ->> 1, ? FROM json_each(?) WHERE true
       ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, expires_at = excluded.expires_at`,
      expiresAt, json,
    );
    this.#count(entries.length - reused);
  }

  /** Deletes up to `limit` records expired at `now`; returns how many. */
  expire(now: number, limit: number): number {
    const n = this.sql.exec(
      "DELETE FROM dedup WHERE id IN (SELECT id FROM dedup WHERE expires_at <= ? ORDER BY expires_at LIMIT ?) RETURNING id", now, limit,
    ).toArray().length;
    this.#count(-n);
    return n;
  }

  /** How many records are kept, expired ones the alarm has not deleted yet included. */
  count(): number {
    return this.counters.get("dedupRecords");
  }

  nextExpiry(): number | null {
    return earliest(this.sql, "SELECT expires_at AS t FROM dedup ORDER BY expires_at LIMIT 1");
  }

  #count(by: number): void {
    this.counters.add("dedupRecords", by);
  }
}

/** Move keys of letters this queue accepted, kept so a retried move is skipped. */
export class MoveKeys {
  constructor(private readonly sql: SqlStorage) {}

  has(moveKey: string): boolean {
    return this.sql.exec("SELECT 1 FROM moves WHERE move_key = ?", moveKey).toArray().length > 0;
  }

  add(moveKey: string, expiresAt: number): void {
    this.sql.exec("INSERT INTO moves (move_key, expires_at) VALUES (?, ?)", moveKey, expiresAt);
  }

  /** Deletes up to `limit` keys expired at `now`; returns how many. */
  expire(now: number, limit: number): number {
    return this.sql.exec(
      "DELETE FROM moves WHERE move_key IN (SELECT move_key FROM moves WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)", now, limit,
    ).rowsWritten;
  }

  nextExpiry(): number | null {
    return earliest(this.sql, "SELECT expires_at AS t FROM moves ORDER BY expires_at LIMIT 1");
  }
}

/** Letters waiting to be written into another queue, each under its move key. */
export class Outbox {
  constructor(private readonly sql: SqlStorage) {}

  /** Queues a letter (JSON) for `target`, due at once (`now`); a key already queued stays as it is. */
  add(moveKey: string, target: string, letter: string, now: number): void {
    this.sql.exec(
      "INSERT INTO outbox (move_key, target, letter, next_at) VALUES (?, ?, ?, ?) ON CONFLICT (move_key) DO NOTHING",
      moveKey, target, letter, now,
    );
  }

  /** Up to `limit` letters due at `now`, earliest first. */
  due(now: number, limit: number): OutboxRow[] {
    return this.sql.exec<OutboxRow>("SELECT * FROM outbox WHERE next_at <= ? ORDER BY next_at LIMIT ?", now, limit).toArray();
  }

  /** The target accepted (or had already accepted) these letters. */
  delivered(moveKeys: readonly string[]): void {
    for (const key of moveKeys) this.sql.exec("DELETE FROM outbox WHERE move_key = ?", key);
  }

  /** A send failed: count the try and wait until `nextAt`. */
  retryAt(moveKey: string, nextAt: number): void {
    this.sql.exec("UPDATE outbox SET tries = tries + 1, next_at = ? WHERE move_key = ?", nextAt, moveKey);
  }

  nextDue(): number | null {
    return earliest(this.sql, "SELECT next_at AS t FROM outbox ORDER BY next_at LIMIT 1");
  }
}
