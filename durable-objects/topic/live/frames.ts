/**
 * Serialising log entries for live subscribers, once per message.
 *
 * A publish to a partition with N subscribers must not stringify the message N times: the
 * object turns each appended entry into its JSON text once, keeps the most recent texts in
 * a bounded, contiguous cache, and every WebSocket frame and SSE event is built from that
 * text by concatenation. Subscribers catching up beyond the cache read the log.
 */
import { utf8Length } from "../../../protocol/key-hash";
import { AppendedEntry } from "../log/entry";
import type { LogEntry } from "../types";

/**
 * The message object of API.md, as JSON text: `{"partition",...,"timestamp"}`. A message
 * just appended still holds its body and headers as stored JSON text (log/entry.ts): the
 * object is then built by concatenation, the same text without parsing and re-stringifying.
 */
export function messageJson(e: LogEntry): string {
  if (e instanceof AppendedEntry) {
    return `{"partition":${e.partition},"offset":${e.offset},"id":${JSON.stringify(e.id)},"key":${e.key === null ? "null" : JSON.stringify(e.key)},` +
      `"body":${e.bodyJson},"headers":${e.headersJson ?? "{}"},"timestamp":${e.timestamp}}`;
  }
  return JSON.stringify({
    partition: e.partition, offset: e.offset, id: e.id, key: e.key,
    body: e.body, headers: e.headers, timestamp: e.timestamp,
  });
}

/** A WebSocket `message` frame from the message JSON (no second stringify). */
export function wsMessageFrame(json: string): string {
  return `{"type":"message",${json.slice(1)}`;
}

/** One SSE event for a message: its id is the offset, its data the message JSON. */
export function sseMessageEvent(offset: number, json: string): string {
  return `id: ${offset}\ndata: ${json}\n\n`;
}

/** The `gap` frame: offsets `from … to-1` are gone (retention), delivery resumes at `to`. */
export function wsGapFrame(from: number, to: number): string {
  return JSON.stringify({ type: "gap", from, to });
}

export function sseGapEvent(from: number, to: number): string {
  // No `id:` line, so an EventSource's Last-Event-ID still names the last message it got.
  return `event: gap\ndata: ${JSON.stringify({ from, to })}\n\n`;
}

export const FRAME_CACHE_MAX_ENTRIES = 2048;
export const FRAME_CACHE_MAX_BYTES = 4 * 1024 * 1024;

/** A message as JSON text, with the frame and event built from it on first use (shared). */
export interface CachedMessage {
  offset: number;
  json: string;
  /** UTF-8 bytes of `json`. */
  bytes: number;
  frame?: string;
  sse?: string;
}

export function toCached(e: LogEntry): CachedMessage {
  const json = messageJson(e);
  return { offset: e.offset, json, bytes: utf8Length(json) };
}

/**
 * The newest messages of the partition as JSON text: a contiguous run of offsets ending at
 * the last append. It lives in the instance (it is a cache: empty after eviction, refilled
 * by the next append), bounded in entries and bytes.
 */
export class FrameCache {
  private items: CachedMessage[] = [];
  private head = 0;
  private bytes = 0;
  /** How many messages were stringified (tests prove fan-out cost with it). */
  serialized = 0;

  constructor(
    private readonly maxEntries = FRAME_CACHE_MAX_ENTRIES,
    private readonly maxBytes = FRAME_CACHE_MAX_BYTES,
  ) {}

  /** Serialises appended entries once each and keeps them; returns them in order. */
  append(entries: readonly LogEntry[]): CachedMessage[] {
    const out: CachedMessage[] = [];
    for (const e of entries) {
      const m = toCached(e);
      this.serialized++;
      out.push(m);
      const last = this.items[this.items.length - 1];
      // Only a contiguous run is useful to lookups: a jump (first append after a wake, or
      // after a reset) starts the run over.
      if (last && last.offset + 1 !== e.offset) this.clear();
      this.items.push(m);
      this.bytes += m.bytes;
    }
    this.trim();
    return out;
  }

  /** Cached messages from `offset` on (contiguous), at most `max`; empty when not cached. */
  from(offset: number, max: number): CachedMessage[] {
    const first = this.items[this.head];
    if (!first || offset < first.offset) return [];
    const start = this.head + (offset - first.offset);
    return this.items.slice(start, start + max);
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.bytes = 0;
  }

  private trim(): void {
    while (this.items.length - this.head > this.maxEntries || (this.bytes > this.maxBytes && this.items.length - this.head > 1)) {
      this.bytes -= this.items[this.head]!.bytes;
      this.head++;
    }
    // Compact the array now and then instead of shifting on every trim.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
