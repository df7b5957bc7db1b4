/**
 * Exactly-once effects on top of at-least-once delivery: `idempotent(handler, store)` runs
 * `handler` once per message key (the message `id` by default) and acks redeliveries and
 * duplicates of a key that was already processed.
 *
 *   import { DatabaseSync } from "node:sqlite";
 *   const store = sqliteStore(new DatabaseSync("processed.db"));     // durable, shared by processes on this disk
 *   queue.consume(idempotent(async (m, { idempotencyKey }) => charge(m.body, { idempotencyKey }), store));
 *
 * Reserve, then commit: before the handler runs, the key is reserved in the store for this
 * run (a short claim, renewed while the handler runs); a second copy arriving meanwhile —
 * in this process or another sharing the store — waits for the first to finish instead of
 * running beside it. When the handler resolves the key is committed (done for `ttl`
 * seconds); when it throws the reservation is released so a redelivery can try again.
 *
 * The one gap, stated plainly: a crash after the effect happened and before the commit
 * landed leaves the key reserved, not done; once the claim lapses (`reserveFor`), a
 * redelivery runs the handler again. No store can close that gap from outside the effect,
 * so the handler is given `idempotencyKey` (stable across redeliveries) to pass to the
 * effect itself — a payment API's idempotency key, a unique constraint in your database —
 * which makes even that repeat harmless.
 */
import { sleep } from "./backoff.js";
import type { HandlerContext, MessageHandler } from "./handlers.js";
import { newId } from "./ids.js";
import { SpoolError } from "./errors.js";

/** How long a processed key is remembered (seconds); longer than any redelivery you expect. */
export const IDEMPOTENCY_TTL_S = 24 * 3600;
/** How long a reservation holds without renewal (seconds); renewed every third of it while the handler runs. */
export const IDEMPOTENCY_RESERVE_S = 30;
/** How often a copy that found its key reserved by another run checks again (ms). */
export const IDEMPOTENCY_BUSY_POLL_MS = 1_000;

/** What `reserve` found: the key is now this run's, was already processed, or is another run's. */
export type Reservation = "reserved" | "done" | "busy";

/**
 * Where processed keys are kept. Implementations must make `reserve` atomic (one winner
 * among concurrent callers) for the guarantee to hold across processes.
 */
export interface IdempotencyStore {
  /**
   * Claims `key` for `holder` for `seconds`, unless it is done (`"done"`) or claimed by
   * another holder whose claim has not lapsed (`"busy"`). The same holder claiming again renews.
   */
  reserve(key: string, holder: string, seconds: number): Promise<Reservation>;
  /** Marks `key` done for `ttlSeconds` (whoever claims it next is told `"done"`). */
  commit(key: string, holder: string, ttlSeconds: number): Promise<void>;
  /** Drops `holder`'s claim on `key` (the handler failed; a redelivery may try again). */
  release(key: string, holder: string): Promise<void>;
}

/** @deprecated The round-1 store shape (check, then record after the handler). Still accepted by `idempotent()`; implement `IdempotencyStore` instead. */
export interface LegacyIdempotencyStore {
  has(id: string): Promise<boolean>;
  add(id: string, ttlSeconds: number): Promise<void>;
}

export interface IdempotentOptions<M> {
  /** Seconds to remember a processed key (IDEMPOTENCY_TTL_S). */
  ttl?: number | undefined;
  /** Seconds a reservation holds between renewals (IDEMPOTENCY_RESERVE_S): how soon a crashed run's key may be retried. */
  reserveFor?: number | undefined;
  /** The deduplication key (default: the message `id`). */
  key?: ((message: M) => string) | undefined;
}

/** A copy found its key reserved by a run that neither finished nor lapsed in time: it is handed back for later. */
export class IdempotencyBusyError extends SpoolError {
  constructor(key: string) {
    super({ code: "CONFLICT", status: 0, message: `message ${key} is being processed by another run; handed back for later`, details: { key } });
  }
}

/** Wraps `handler` so each message key is processed once (see the module comment). */
export function idempotent<M extends { id: string }>(handler: MessageHandler<M>, store: IdempotencyStore | LegacyIdempotencyStore, options: IdempotentOptions<M> = {}): MessageHandler<M> {
  const ttl = options.ttl ?? IDEMPOTENCY_TTL_S;
  const reserveFor = Math.max(1, options.reserveFor ?? IDEMPOTENCY_RESERVE_S);
  const s: IdempotencyStore = "reserve" in store ? store : fromLegacy(store);
  // A duplicate that arrives while the first copy is running in this process waits for it here.
  const running = new Map<string, Promise<void>>();
  return async (message, context) => {
    const key = options.key ? options.key(message) : message.id;
    const earlier = running.get(key);
    if (earlier) return earlier;
    const work = runOnce(s, key, reserveFor, ttl, context, (ctx) => handler(message, ctx));
    running.set(key, work);
    try {
      await work;
    } finally {
      running.delete(key);
    }
  };
}

async function runOnce(store: IdempotencyStore, key: string, reserveFor: number, ttl: number, context: HandlerContext, run: (ctx: HandlerContext) => unknown): Promise<void> {
  const holder = newId();
  // Another run holds the key: wait for it to commit (done) or lapse (ours), as long as one claim could last.
  const giveUpAt = Date.now() + reserveFor * 1000 * 2;
  for (;;) {
    const r = await store.reserve(key, holder, reserveFor);
    if (r === "done") return;
    if (r === "reserved") break;
    if (Date.now() >= giveUpAt || context.signal.aborted) throw new IdempotencyBusyError(key);
    await sleep(IDEMPOTENCY_BUSY_POLL_MS, context.signal);
  }
  const renew = setInterval(() => void store.reserve(key, holder, reserveFor).catch(() => {}), (reserveFor * 1000) / 3);
  try {
    await run({ ...context, idempotencyKey: key });
  } catch (err) {
    clearInterval(renew);
    await store.release(key, holder).catch(() => {}); // it lapses by itself if this fails
    throw err;
  }
  clearInterval(renew);
  await store.commit(key, holder, ttl);
}

/** Adapts a round-1 `{has, add}` store: no reservation across processes (in-process duplicates still wait). */
function fromLegacy(legacy: LegacyIdempotencyStore): IdempotencyStore {
  return {
    reserve: async (key) => ((await legacy.has(key)) ? "done" : "reserved"),
    commit: (key, _holder, ttl) => legacy.add(key, ttl),
    release: async () => {},
  };
}
