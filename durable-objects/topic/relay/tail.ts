/**
 * A relay's bounded tail of its partition's log: the newest messages it was handed
 * (deliveries) or read (fetches), so its subscribers near the head cost the partition
 * nothing. The tail covers a range of offsets `[start, end)`: every message the log kept in
 * that range is in the tail (offsets compaction removed are simply absent). It is bounded
 * in messages and bytes (the oldest go first) and lives in memory: after an eviction the
 * relay starts with an empty tail and reads what its sockets need from the log.
 *
 * The tail also keeps the partition's position as last heard (first kept offset, next
 * offset, incarnation); `next` may run ahead of `end` (messages the relay knows exist but
 * was not handed): subscribers there read from the log.
 */
import { FRAME_CACHE_MAX_BYTES, FRAME_CACHE_MAX_ENTRIES, type CachedMessage } from "../live/frames";
import type { SendSource } from "../live/socket";
import type { PartitionPosition, RelayMessage } from "./types";

export class RelayTail {
  #items: CachedMessage[] = [];
  #bytes = 0;
  /** The covered range. */
  start = 0;
  end = 0;
  /** The partition's first kept offset and next offset, as last heard. */
  first = 0;
  next = 0;
  /** The topic incarnation these offsets belong to; null until the partition was heard. */
  incarnation: string | null = null;
  /** Whether the partition was heard since this instance started. */
  known = false;

  constructor(
    private readonly maxEntries = FRAME_CACHE_MAX_ENTRIES,
    private readonly maxBytes = FRAME_CACHE_MAX_BYTES,
  ) {}

  /**
   * Takes the partition's position. Returns false when it speaks of another incarnation
   * than the tail's (the topic was deleted and created again): the tail then starts over.
   */
  learn(p: PartitionPosition): boolean {
    const same = !this.known || p.incarnation === this.incarnation;
    if (!same || !this.known) {
      this.#items = [];
      this.#bytes = 0;
      this.start = this.end = p.next;
      this.first = p.first;
      this.next = p.next;
    }
    this.incarnation = p.incarnation;
    this.known = true;
    this.first = Math.max(this.first, p.first);
    this.next = Math.max(this.next, p.next);
    return same;
  }

  /**
   * Adds messages covering `[from, end)` (a delivery or a read). A range that meets the
   * tail joins it; a newer one that does not replaces it (the tail must stay one range);
   * an older one that does not is not kept.
   */
  add(from: number, end: number, messages: readonly RelayMessage[]): void {
    if (end <= from) return;
    if (this.start === this.end || from > this.end) {
      this.#items = messages.map(cached);
      this.#bytes = sum(this.#items);
      this.start = from;
      this.end = end;
    } else if (end >= this.start) {
      const before = messages.filter((m) => m.offset < this.start).map(cached);
      const after = messages.filter((m) => m.offset >= this.end).map(cached);
      this.#items = [...before, ...this.#items, ...after];
      this.#bytes += sum(before) + sum(after);
      this.start = Math.min(this.start, from);
      this.end = Math.max(this.end, end);
    } else {
      return;
    }
    this.next = Math.max(this.next, this.end);
    this.#trim();
  }

  /** Whether `offset` can be sent from the tail now. */
  covers(offset: number): boolean {
    return this.known && offset >= this.start && offset < this.end;
  }

  /** The tail as what sending reads: up to its end. */
  source(): SendSource {
    return { first: () => this.first, next: () => this.end, readFrom: (o, max) => this.from(o, max) };
  }

  /** Kept messages from `offset` on, at most `max`. */
  from(offset: number, max: number): CachedMessage[] {
    return fromSorted(this.#items, offset, max);
  }

  get size(): number {
    return this.#items.length;
  }

  /** Forgets everything (the topic was deleted, or the relay went idle). */
  clear(): void {
    this.#items = [];
    this.#bytes = 0;
    this.start = this.end = this.first = this.next = 0;
    this.incarnation = null;
    this.known = false;
  }

  #trim(): void {
    let drop = 0;
    let bytes = this.#bytes;
    const n = this.#items.length;
    while (n - drop > this.maxEntries || (bytes > this.maxBytes && n - drop > 1)) {
      bytes -= this.#items[drop]!.bytes;
      drop++;
    }
    if (drop === 0) return;
    // Offsets up to the last dropped one are no longer covered.
    this.start = this.#items[drop - 1]!.offset + 1;
    this.#items = this.#items.slice(drop);
    this.#bytes = bytes;
  }
}

/** A segment read from the log, as what sending reads (it covers `[from, end)`). */
export function segmentSource(first: number, end: number, messages: readonly RelayMessage[]): SendSource {
  const items = messages.map(cached);
  return {
    first: () => first,
    next: () => end,
    readFrom: (offset, max) => fromSorted(items, offset, max),
  };
}

/** Messages (in offset order) from `offset` on, at most `max`. */
function fromSorted(items: readonly CachedMessage[], offset: number, max: number): CachedMessage[] {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid]!.offset < offset) lo = mid + 1;
    else hi = mid;
  }
  return items.slice(lo, lo + max);
}

function cached(m: RelayMessage): CachedMessage {
  return { offset: m.offset, json: m.json, bytes: m.bytes };
}

function sum(items: readonly CachedMessage[]): number {
  let n = 0;
  for (const m of items) n += m.bytes;
  return n;
}
