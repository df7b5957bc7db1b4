/**
 * What a Durable Object is billed for, counted: requests (RPC calls, fetches, alarms),
 * incoming WebSocket messages, and SQLite rows read and written (from every SQL cursor's
 * `rowsRead` / `rowsWritten`, the figures Cloudflare bills, plus one row written per
 * `setAlarm` / `deleteAlarm`, which Cloudflare bills as a row write). Used by the bench's cost
 * scenario (bench/worker/index.ts, /bench/meter/...) and by test/workers/cost.test.ts.
 *
 * `install` wraps the methods of each class's prototype in place (every instance, present
 * and future, goes through them); a wrapped call hooks its object's `sql.exec` on first
 * use (and its `setAlarm` / `deleteAlarm`). Counting happens only between `start` and `stop`; `uninstall` restores everything,
 * so a run that measures cost leaves the classes as it found them.
 */

import type { CostCounts } from "./cost-counts";

export type { CostCounts };

/** Handlers that are not billed as requests (a close is not a message). */
const NOT_BILLED = new Set(["webSocketClose", "webSocketError"]);

type AnyMethod = (this: unknown, ...args: unknown[]) => unknown;
type Cursor = { readonly rowsRead: number; readonly rowsWritten: number };
// The prototype of a Durable Object class: methods by name.
type Prototype = Record<string, unknown>;

export class CostMeter {
  #counting = false;
  #cursors: Cursor[] = [];
  #requests = 0;
  #wsMessages = 0;
  #alarmWrites = 0;
  #calls: Record<string, number> = {};
  readonly #restores: Array<() => void> = [];
  readonly #hooked = new WeakSet<object>();

  /** Wraps every method of each class's prototype (idempotent per class until `uninstall`). */
  install(classes: Record<string, { prototype: object }>): void {
    for (const [className, cls] of Object.entries(classes)) {
      const proto = cls.prototype as Prototype;
      if (this.#hooked.has(proto)) continue;
      this.#hooked.add(proto);
      for (const name of Object.getOwnPropertyNames(proto)) {
        const d = Object.getOwnPropertyDescriptor(proto, name);
        if (name === "constructor" || !d || typeof d.value !== "function") continue;
        const original = d.value as AnyMethod;
        const meter = this;
        const wrapped = function (this: unknown, ...args: unknown[]): unknown {
          meter.#called(this, className, name);
          return original.apply(this, args);
        };
        Object.defineProperty(proto, name, { ...d, value: wrapped });
        this.#restores.push(() => Object.defineProperty(proto, name, d));
      }
      this.#restores.push(() => this.#hooked.delete(proto));
    }
  }

  /** Puts every wrapped method and hooked `exec` back. */
  uninstall(): void {
    this.#counting = false;
    for (const restore of this.#restores.splice(0).reverse()) restore();
  }

  /** Counts an object's alarm writes (its storage's `setAlarm` and `deleteAlarm`). */
  hookAlarms(storage: DurableObjectStorage): void {
    if (this.#hooked.has(storage)) return;
    this.#hooked.add(storage);
    const meter = this;
    for (const name of ["setAlarm", "deleteAlarm"] as const) {
      const own = Object.getOwnPropertyDescriptor(storage, name);
      const original = storage[name] as (...args: unknown[]) => Promise<void>;
      const wrapped = function (...args: unknown[]): Promise<void> {
        if (meter.#counting) meter.#alarmWrites++;
        return original.apply(storage, args);
      };
      Object.defineProperty(storage, name, { value: wrapped, configurable: true, writable: true });
      this.#restores.push(() => {
        if (own) Object.defineProperty(storage, name, own);
        else delete (storage as unknown as Record<string, unknown>)[name];
      });
    }
    this.#restores.push(() => this.#hooked.delete(storage));
  }

  /** Hooks one SqlStorage directly (an object reached without a method call first). */
  hookSql(sql: SqlStorage): void {
    if (this.#hooked.has(sql)) return;
    this.#hooked.add(sql);
    const own = Object.getOwnPropertyDescriptor(sql, "exec");
    const exec = sql.exec;
    const meter = this;
    const wrapped = function (this: SqlStorage, query: string, ...bindings: unknown[]) {
      const cursor = exec.call(sql, query, ...(bindings as SqlStorageValue[]));
      if (meter.#counting) {
        meter.#cursors.push(cursor);
        // Counters settle as a cursor is consumed: read them at `stop`, not now.
      }
      return cursor;
    };
    Object.defineProperty(sql, "exec", { value: wrapped, configurable: true, writable: true });
    this.#restores.push(() => {
      if (own) Object.defineProperty(sql, "exec", own);
      else delete (sql as unknown as Record<string, unknown>).exec;
      this.#hooked.delete(sql);
    });
  }

  start(): void {
    this.#cursors = [];
    this.#requests = 0;
    this.#wsMessages = 0;
    this.#alarmWrites = 0;
    this.#calls = {};
    this.#counting = true;
  }

  /** Stops counting and returns the counts since `start`. */
  stop(): CostCounts {
    this.#counting = false;
    let rowsRead = 0;
    let rowsWritten = 0;
    for (const c of this.#cursors) {
      rowsRead += c.rowsRead;
      rowsWritten += c.rowsWritten;
    }
    const out = {
      requests: this.#requests, wsMessages: this.#wsMessages, rowsRead, rowsWritten: rowsWritten + this.#alarmWrites,
      alarmWrites: this.#alarmWrites, statements: this.#cursors.length, calls: { ...this.#calls },
    };
    this.#cursors = [];
    return out;
  }

  #called(self: unknown, className: string, method: string): void {
    const storage = (self as { ctx?: { storage?: DurableObjectStorage } }).ctx?.storage;
    if (storage?.sql) this.hookSql(storage.sql);
    if (storage) this.hookAlarms(storage);
    if (!this.#counting || NOT_BILLED.has(method)) return;
    if (method === "webSocketMessage") {
      this.#wsMessages++;
      return;
    }
    this.#requests++;
    const key = `${className}.${method}`;
    this.#calls[key] = (this.#calls[key] ?? 0) + 1;
  }
}
