/**
 * Stores for `idempotent()` (idempotent.ts), each keeping per key either a reservation (a
 * run's claim, lapsing at `until`) or a done mark (expiring at `until`):
 *   - `MemoryStore`: this process only, bounded; gone when the process is.
 *   - `sqliteStore(db)`: a SQLite database you open (`node:sqlite` in Node 22, or
 *     better-sqlite3): durable, and shared by every process on the machine that opens the
 *     same file; each reservation is one atomic statement.
 *   - `kvStore(kv)`: Workers KV, shared by every Worker but eventually consistent (a write
 *     may take up to a minute to show elsewhere), so two runs far apart in the world may
 *     both reserve; for a strict guarantee across Workers use a Durable Object (README).
 * The client stays free of runtime modules: the SQLite store is handed a database object.
 */
import type { IdempotencyStore, LegacyIdempotencyStore, Reservation } from "./idempotent.js";

/** Keys the in-memory store keeps before forgetting the oldest. */
export const MEMORY_STORE_MAX_ENTRIES = 100_000;

interface Entry {
  holder: string;
  done: boolean;
  until: number;
}

/** Reservations and processed keys in this process's memory, bounded in count (oldest forgotten first). */
export class MemoryStore implements IdempotencyStore, LegacyIdempotencyStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries: number = MEMORY_STORE_MAX_ENTRIES) {}

  async reserve(key: string, holder: string, seconds: number): Promise<Reservation> {
    const now = Date.now();
    const e = this.entries.get(key);
    if (e && e.until > now) {
      if (e.done) return "done";
      if (e.holder !== holder) return "busy";
    }
    this.set(key, { holder, done: false, until: now + seconds * 1000 });
    return "reserved";
  }

  async commit(key: string, holder: string, ttlSeconds: number): Promise<void> {
    this.set(key, { holder, done: true, until: Date.now() + ttlSeconds * 1000 });
  }

  async release(key: string, holder: string): Promise<void> {
    const e = this.entries.get(key);
    if (e && !e.done && e.holder === holder) this.entries.delete(key);
  }

  /** True when `key` was processed and has not expired. */
  async has(key: string): Promise<boolean> {
    const e = this.entries.get(key);
    return e !== undefined && e.done && e.until > Date.now();
  }

  /** Records `key` as processed (the round-1 interface). */
  async add(key: string, ttlSeconds: number): Promise<void> {
    await this.commit(key, "", ttlSeconds);
  }

  get size(): number {
    return this.entries.size;
  }

  private set(key: string, e: Entry): void {
    this.entries.delete(key); // re-insert at the end: Map order is the eviction order
    this.entries.set(key, e);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}

/** What the SQLite store needs of a database: `node:sqlite`'s `DatabaseSync` and better-sqlite3's `Database` both fit. */
export interface SqliteDatabaseLike {
  exec(sql: string): unknown;
  prepare(sql: string): { run(...params: (string | number)[]): unknown; get(...params: (string | number)[]): unknown };
}

/** Calls between sweeps of expired rows. */
const SWEEP_EVERY = 1000;

/**
 * Reservations and processed keys in a SQLite database (table `spool_idempotency`, created
 * if missing). Durable across restarts and shared by the processes that open the file.
 *
 *   import { DatabaseSync } from "node:sqlite";
 *   const store = sqliteStore(new DatabaseSync("processed.db"));
 */
export function sqliteStore(db: SqliteDatabaseLike, table = "spool_idempotency"): IdempotencyStore & LegacyIdempotencyStore {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new TypeError("sqliteStore: table must be a plain SQL identifier");
  db.exec("PRAGMA busy_timeout = 5000");
  db.exec(`CREATE TABLE IF NOT EXISTS ${table} (key TEXT PRIMARY KEY, holder TEXT NOT NULL, done INTEGER NOT NULL, until INTEGER NOT NULL)`);
  // One statement, so one winner: a lapsed entry, or our own claim, is (re)claimed; a live one is left alone.
  const claim = db.prepare(
    `INSERT INTO ${table} (key, holder, done, until) VALUES (?, ?, 0, ?)
     ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, done = 0, until = excluded.until
     WHERE ${table}.until <= ? OR (${table}.done = 0 AND ${table}.holder = excluded.holder)
     RETURNING holder`,
  );
  const read = db.prepare(`SELECT done, until FROM ${table} WHERE key = ?`);
  const markDone = db.prepare(
    `INSERT INTO ${table} (key, holder, done, until) VALUES (?, ?, 1, ?)
     ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, done = 1, until = excluded.until`,
  );
  const drop = db.prepare(`DELETE FROM ${table} WHERE key = ? AND holder = ? AND done = 0`);
  const sweep = db.prepare(`DELETE FROM ${table} WHERE until <= ?`);
  let calls = 0;
  return {
    async reserve(key, holder, seconds) {
      const now = Date.now();
      if (++calls % SWEEP_EVERY === 0) sweep.run(now);
      if (claim.get(key, holder, now + Math.round(seconds * 1000), now) !== undefined) return "reserved";
      const row = read.get(key) as { done: number; until: number } | undefined;
      return row !== undefined && row.done === 1 && row.until > now ? "done" : "busy";
    },
    async commit(key, holder, ttlSeconds) {
      markDone.run(key, holder, Date.now() + Math.round(ttlSeconds * 1000));
    },
    async release(key, holder) {
      drop.run(key, holder);
    },
    async has(key) {
      const row = read.get(key) as { done: number; until: number } | undefined;
      return row !== undefined && row.done === 1 && row.until > Date.now();
    },
    async add(key, ttlSeconds) {
      markDone.run(key, "", Date.now() + Math.round(ttlSeconds * 1000));
    },
  };
}

/** The part of a Workers KV namespace the KV store uses (so the client needs no Workers types). */
export interface KVNamespaceLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
  delete?(key: string): Promise<void>;
}

/** KV allows no expiry shorter than this. */
const KV_MIN_TTL_S = 60;
/** The value of a processed key (as round 1 wrote it). */
const KV_DONE = "1";

/**
 * Reservations and processed keys in Workers KV, shared by every consumer, eventually
 * consistent: best effort across Workers (see the module comment).
 */
export function kvStore(kv: KVNamespaceLike, prefix = "spool:processed:"): IdempotencyStore & LegacyIdempotencyStore {
  const ttlOf = (seconds: number): number => Math.max(KV_MIN_TTL_S, Math.ceil(seconds));
  return {
    async reserve(key, holder, seconds) {
      const value = await kv.get(prefix + key);
      if (value === KV_DONE) return "done";
      if (value !== null) {
        const claim = parseClaim(value);
        if (claim && claim.until > Date.now() && claim.holder !== holder) return "busy";
      }
      await kv.put(prefix + key, JSON.stringify({ holder, until: Date.now() + seconds * 1000 }), { expirationTtl: ttlOf(seconds) });
      return "reserved";
    },
    commit: (key, _holder, ttl) => kv.put(prefix + key, KV_DONE, { expirationTtl: ttlOf(ttl) }),
    async release(key, holder) {
      const claim = parseClaim((await kv.get(prefix + key)) ?? "");
      if (!claim || claim.holder !== holder) return;
      if (kv.delete) await kv.delete(prefix + key);
      else await kv.put(prefix + key, JSON.stringify({ holder, until: 0 }), { expirationTtl: KV_MIN_TTL_S });
    },
    has: async (key) => (await kv.get(prefix + key)) === KV_DONE,
    add: (key, ttl) => kv.put(prefix + key, KV_DONE, { expirationTtl: ttlOf(ttl) }),
  };
}

function parseClaim(value: string): { holder: string; until: number } | undefined {
  try {
    const v: unknown = JSON.parse(value);
    const c = v as { holder?: unknown; until?: unknown };
    return typeof c.holder === "string" && typeof c.until === "number" ? { holder: c.holder, until: c.until } : undefined;
  } catch {
    return undefined;
  }
}
