/**
 * Exactly-once effects on top of at-least-once delivery: `idempotent(handler, store)`
 * runs `handler` once per message id and skips redeliveries and duplicates whose id the
 * store has recorded as processed. The store is an interface; an in-memory store (one
 * process) and a Workers KV store (shared, eventually consistent) come with the client,
 * and the README shows a Durable-Object-backed one (shared, strongly consistent).
 *
 *   queue.consume(idempotent(async (m) => charge(m.body), new MemoryStore()));
 *
 * The id is recorded after the handler succeeds: a crash between the two runs the handler
 * again, so the effect itself should tolerate that rare repeat (or use a transactional store).
 */
import type { MessageHandler } from "./handlers";

/** How long a processed id is remembered (seconds); longer than any redelivery you expect. */
export const IDEMPOTENCY_TTL_S = 24 * 3600;
/** Ids the in-memory store keeps before forgetting the oldest. */
export const MEMORY_STORE_MAX_ENTRIES = 100_000;

export interface IdempotencyStore {
  /** True when `id` was recorded and has not expired. */
  has(id: string): Promise<boolean>;
  /** Records `id` as processed for `ttlSeconds`. */
  add(id: string, ttlSeconds: number): Promise<void>;
}

export interface IdempotentOptions<M> {
  /** Seconds to remember an id (IDEMPOTENCY_TTL_S). */
  ttl?: number;
  /** The deduplication key (default: the message `id`). */
  key?: (message: M) => string;
}

/** Wraps `handler` so each message id is processed once (see the module comment). */
export function idempotent<M extends { id: string }>(handler: MessageHandler<M>, store: IdempotencyStore, options: IdempotentOptions<M> = {}): MessageHandler<M> {
  const ttl = options.ttl ?? IDEMPOTENCY_TTL_S;
  // A duplicate that arrives while the first copy is still running waits for it here.
  const running = new Map<string, Promise<void>>();
  return async (message, context) => {
    const key = options.key ? options.key(message) : message.id;
    const earlier = running.get(key);
    if (earlier) return earlier;
    const work = (async () => {
      if (await store.has(key)) return;
      await handler(message, context);
      await store.add(key, ttl);
    })();
    running.set(key, work);
    try {
      await work;
    } finally {
      running.delete(key);
    }
  };
}

/** Processed ids in this process's memory, expiring after their ttl, bounded in count. */
export class MemoryStore implements IdempotencyStore {
  private readonly seen = new Map<string, number>();

  constructor(private readonly maxEntries: number = MEMORY_STORE_MAX_ENTRIES) {}

  async has(id: string): Promise<boolean> {
    const expires = this.seen.get(id);
    if (expires === undefined) return false;
    if (expires > Date.now()) return true;
    this.seen.delete(id);
    return false;
  }

  async add(id: string, ttlSeconds: number): Promise<void> {
    this.seen.delete(id); // re-insert at the end: Map order is the eviction order
    this.seen.set(id, Date.now() + ttlSeconds * 1000);
    while (this.seen.size > this.maxEntries) this.seen.delete(this.seen.keys().next().value!);
  }

  get size(): number {
    return this.seen.size;
  }
}

/** The part of a Workers KV namespace the KV store uses (so the client needs no Workers types). */
export interface KVNamespaceLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
}

/** KV allows no expiry shorter than this. */
const KV_MIN_TTL_S = 60;

/**
 * Processed ids in Workers KV, shared by every consumer. KV is eventually consistent
 * (a write may take up to a minute to show elsewhere), which is fine for redeliveries
 * after a lease ends; for a strict guarantee use a Durable Object (README).
 */
export function kvStore(kv: KVNamespaceLike, prefix = "spool:processed:"): IdempotencyStore {
  return {
    has: async (id) => (await kv.get(prefix + id)) !== null,
    add: (id, ttl) => kv.put(prefix + id, "1", { expirationTtl: Math.max(KV_MIN_TTL_S, Math.ceil(ttl)) }),
  };
}
