/**
 * What the soak knows about each message id, as flags (and optionally one number) in typed
 * arrays. An hour of the soak makes millions of ids: kept as strings in Sets and Maps they
 * held most of a gigabyte of the soak's own heap, and its garbage collection became part of
 * the latency it measured. Here an id costs 1 byte (9 with a number), off the V8 heap.
 *
 * Ids are `<kind><client>-<batch>-<index>-<ms>` (`makeId`); each client's ids have a slot
 * `batch × batchSize + index`. Reports name an id without its time: `<kind><client>-<batch>-<index>`.
 */

export function makeId(kind: string, client: number, batch: number, index: number): string {
  return `${kind}${client}-${batch}-${index}-${Date.now()}`;
}

interface Column {
  flags: Uint8Array;
  values: Float64Array | null;
}

export class IdTable {
  readonly #columns = new Map<number, Column>();
  readonly #kind: string;
  readonly #batchSize: number;
  readonly #withValues: boolean;

  constructor(kind: string, batchSize: number, withValues = false) {
    this.#kind = kind;
    this.#batchSize = batchSize;
    this.#withValues = withValues;
  }

  /** Sets `flag` on `id`; returns the flags it had before. */
  set(id: string, flag: number): number {
    const [column, slot] = this.#locate(id, true);
    const before = column.flags[slot]!;
    column.flags[slot] = before | flag;
    return before;
  }

  setValue(id: string, value: number): void {
    const [column, slot] = this.#locate(id, true);
    column.values![slot] = value;
  }

  /** The number stored for `id` (NaN: none). */
  value(id: string): number {
    const [column, slot] = this.#locate(id, false);
    return column.values && slot < column.values.length ? column.values[slot]! : Number.NaN;
  }

  /** How many ids have every bit of `flag`. */
  count(flag: number): number {
    let n = 0;
    for (const { flags } of this.#columns.values()) for (const f of flags) if ((f & flag) === flag) n++;
    return n;
  }

  /** Every id seen (flags not 0), by its report name, with its flags and number. */
  *entries(): Generator<{ name: string; flags: number; value: number }> {
    for (const [client, { flags, values }] of this.#columns) {
      for (let slot = 0; slot < flags.length; slot++) {
        if (flags[slot] === 0) continue;
        const name = `${this.#kind}${client}-${Math.floor(slot / this.#batchSize)}-${slot % this.#batchSize}`;
        yield { name, flags: flags[slot]!, value: values ? values[slot]! : Number.NaN };
      }
    }
  }

  /** The column and slot of `id`; `grow` makes room for it. An id the soak did not make is a bug in the soak. */
  #locate(id: string, grow: boolean): [Column, number] {
    const parts = id.startsWith(this.#kind) ? id.slice(this.#kind.length).split("-") : [];
    const [client, batch, index] = parts.map(Number);
    if (parts.length !== 4 || !Number.isInteger(client) || !Number.isInteger(batch) || !Number.isInteger(index) || index! >= this.#batchSize) {
      throw new Error(`not a soak id of kind '${this.#kind}': ${id}`);
    }
    const slot = batch! * this.#batchSize + index!;
    let column = this.#columns.get(client!);
    if (!column) {
      column = { flags: new Uint8Array(1024), values: this.#withValues ? new Float64Array(1024).fill(Number.NaN) : null };
      this.#columns.set(client!, column);
    }
    if (grow && slot >= column.flags.length) {
      const size = Math.max(slot + 1, column.flags.length * 2);
      const flags = new Uint8Array(size);
      flags.set(column.flags);
      column.flags = flags;
      if (column.values) {
        const values = new Float64Array(size).fill(Number.NaN);
        values.set(column.values);
        column.values = values;
      }
    }
    return [column, slot];
  }
}
