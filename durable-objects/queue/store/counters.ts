/**
 * The queue's counters (the `counters` table: next seq, messages and bytes stored, the
 * totals stats show, dedup records kept). Each change is one row written, and a batch of
 * 100 sends would change four counters 100 times: so inside a transaction (`defer` …
 * `flush`, context.ts) changes are summed in memory and each counter is written once, at
 * the end of the transaction; a counter is read from SQL once per transaction too. Reads
 * always see the stored value plus what is pending.
 * Outside a deferred transaction a change is written at once, as before.
 */
import type { CounterName } from "./schema";

export class Counters {
  /** Changes not written yet, while a transaction defers them; null: write at once. */
  #pending: Map<CounterName, number> | null = null;
  /** Stored values read during the deferred transaction (nothing else writes them meanwhile). */
  #stored = new Map<CounterName, number>();

  constructor(private readonly sql: SqlStorage) {}

  /**
   * Sums changes in memory until `flush`. Returns false (and changes nothing) when already
   * deferring: only the call that started deferring flushes.
   */
  defer(): boolean {
    if (this.#pending) return false;
    this.#pending = new Map();
    this.#stored.clear();
    return true;
  }

  /** Writes every pending change, one statement per counter that changed; stops deferring. */
  flush(): void {
    const pending = this.#pending;
    this.#pending = null;
    this.#stored.clear();
    if (!pending) return;
    for (const [name, by] of pending) this.#write(name, by);
  }

  /** Forgets pending changes (the transaction rolled back, or the table was emptied). */
  discard(): void {
    if (this.#pending) this.#pending.clear();
    this.#stored.clear();
  }

  /** Stops deferring without writing (after a rollback). */
  end(): void {
    this.#pending = null;
    this.#stored.clear();
  }

  get(name: CounterName): number {
    if (!this.#pending) return this.#read(name);
    let stored = this.#stored.get(name);
    if (stored === undefined) {
      stored = this.#read(name);
      this.#stored.set(name, stored);
    }
    return stored + (this.#pending.get(name) ?? 0);
  }

  add(name: CounterName, by: number): void {
    if (by === 0) return;
    if (this.#pending) this.#pending.set(name, (this.#pending.get(name) ?? 0) + by);
    else this.#write(name, by);
  }

  /** Every counter, pending changes included. */
  all(): Partial<Record<CounterName, number>> {
    const c: Partial<Record<CounterName, number>> = {};
    for (const r of this.sql.exec<{ name: CounterName; value: number }>("SELECT name, value FROM counters")) c[r.name] = r.value;
    for (const [name, by] of this.#pending ?? []) c[name] = (c[name] ?? 0) + by;
    return c;
  }

  #read(name: CounterName): number {
    return this.sql.exec<{ value: number }>("SELECT value FROM counters WHERE name = ?", name).toArray()[0]?.value ?? 0;
  }

  #write(name: CounterName, by: number): void {
    if (by === 0) return;
    this.sql.exec("INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value", name, by);
  }
}
