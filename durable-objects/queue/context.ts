/**
 * A queue's transactions. Every RPC method, socket frame and alarm of the queue object runs
 * its change in ONE `QueueTransactions.run`: it loads the queue's record (cached between
 * calls), creates the queue when the caller asks for that, hands the transition functions
 * (send.ts, leases.ts, dead-letters.ts, dedup.ts) a `QueueContext` with one reading of the
 * clock for the whole transaction, and rolls back everything on an error result.
 */
import type { ErrorValue, Result } from "../../protocol/errors";
import type { QueueConfig, QueueCreated } from "../../protocol/queues";
import { now } from "../shared/clock";
import { resolveConfig } from "./config";
import type { QueueStore, StoredQueue } from "./store/queue-store";

/** What the transition functions know about the queue at the moment of the call. */
export interface QueueContext {
  store: QueueStore;
  config: QueueConfig;
  name: string;
  /** Distinguishes this queue from an earlier one of the same name (its createdAt). */
  incarnation: number;
  /** The objects' clock, read once per transaction. */
  now: number;
}

/**
 * What `run` does about a queue that was never created: "never" answers NOT_FOUND,
 * "implicit" creates it with the default config, "optional" passes `null` to the caller.
 */
export type CreateMode = "never" | "implicit" | "optional";

/** Thrown inside a transaction to roll it back and return an error value instead. */
class Rollback {
  constructor(readonly error: ErrorValue) {}
}

export class QueueTransactions {
  /** The queue's record; `null` when it does not exist, `undefined` when not read yet. */
  #loaded: StoredQueue | null | undefined;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly store: QueueStore,
    private readonly name: () => string,
  ) {}

  /** Runs `fn` in one SQL transaction; an error result rolls back all it wrote, an implicit creation included. */
  run<T>(fn: (q: QueueContext) => Result<T>, create?: "never" | "implicit"): Result<T>;
  run<T>(fn: (q: QueueContext | null) => Result<T>, create: "optional"): Result<T>;
  run<T>(fn: (q: QueueContext) => Result<T>, create: CreateMode = "never"): Result<T> {
    try {
      return this.storage.transactionSync(() => {
        // Counter changes are summed and written once, just before the commit (store/counters.ts).
        const deferring = this.store.counters.defer();
        try {
          const r = this.#body(fn, create);
          if (deferring) this.store.counters.flush();
          return r;
        } finally {
          if (deferring) this.store.counters.end(); // after a throw: the rollback took the rest
        }
      });
    } catch (err) {
      this.#loaded = undefined; // the cache may hold what was rolled back
      if (err instanceof Rollback) return { ok: false, error: err.error };
      throw err;
    }
  }

  /** What `run` does inside its transaction: load or create the queue, then `fn`. */
  #body<T>(fn: (q: QueueContext) => Result<T>, create: CreateMode): Result<T> {
    const at = now();
    let loaded = this.current();
    if (!loaded && create === "optional") return orRollback((fn as (q: QueueContext | null) => Result<T>)(null));
    if (!loaded && create === "implicit") {
      const resolved = resolveConfig(this.name(), null, {});
      if (!resolved.ok) throw new Rollback(resolved.error);
      this.create(resolved.config, at);
      loaded = this.#loaded!;
    }
    if (!loaded) throw new Rollback({ code: "NOT_FOUND", message: `queue '${this.name()}' does not exist`, details: { queue: this.name() } });
    return orRollback(fn({ store: this.store, config: loaded.config, name: this.name(), incarnation: loaded.createdAt, now: at }));
  }

  /** The queue's record (read once, then cached), null when it does not exist. */
  current(): StoredQueue | null {
    if (this.#loaded === undefined) this.#loaded = this.store.meta.load();
    this.store.fifo = this.#loaded?.config.fifo ?? false;
    return this.#loaded;
  }

  /** Creates the queue (inside `run`). */
  create(config: QueueConfig, createdAt: number): QueueCreated {
    this.store.meta.create(this.name(), config, createdAt);
    this.#loaded = { config, createdAt };
    this.store.fifo = config.fifo;
    return { name: this.name(), config, createdAt };
  }

  /** Replaces the config of an existing queue (inside `run`). */
  reconfigure(config: QueueConfig): QueueCreated {
    const createdAt = this.current()?.createdAt ?? now();
    this.store.meta.saveConfig(config);
    this.#loaded = { config, createdAt };
    return { name: this.name(), config, createdAt };
  }

  /** Deletes every stored trace of the queue (inside `run`). */
  wipe(): void {
    this.store.wipe();
    this.#loaded = null;
  }
}

function orRollback<T>(r: Result<T>): Result<T> {
  if (!r.ok) throw new Rollback(r.error);
  return r;
}
