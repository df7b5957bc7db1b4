/**
 * Reading a stream: entries from a position on, rendered as the stream's bytes or JSON
 * messages, up to a byte budget. A fork's positions below its base are its source's
 * (read from the source's object, which may itself be a fork), the rest come from its own
 * log, and one read stitches both; entries a fork inherits are never copied.
 */
import type { Result } from "../../../protocol/errors";
import type { Env } from "../../env";
import { partitionStub } from "../../env";
import type { TopicLog } from "../log/log";
import { entryBytes, entryJson, isJsonType, jsonArrayBytes, concatBytes } from "./payload";
import type { StreamMeta } from "./store";
import type { InheritedChunk } from "./types";

/** What one catch-up answer holds at most (at least one entry when there is one). */
export const READ_BYTES = 1024 * 1024;
/** Entries read from the log per step. */
const BATCH = 256;

export interface ReadContext {
  env: Env;
  log: TopicLog;
}

/** The position after the stream's last entry. */
export function tailOf(rc: ReadContext, meta: StreamMeta): number {
  return meta.base + rc.log.next();
}

/** Where `offset=-1` starts: 0 for forks and whole logs, else the first entry retention kept. */
export function startOf(rc: ReadContext, meta: StreamMeta): number {
  return meta.fork ? 0 : meta.base + rc.log.first();
}

function emptyChunk(at: number): InheritedChunk {
  return { items: [], parts: [], size: 0, next: at };
}

/**
 * Entries from position `from` up to `cap` (exclusive; null: the tail), at most `maxBytes`
 * of payload but at least one entry. A start inside the fork's inherited range reads the
 * source first; a start that retention removed is 410.
 */
export async function readChunk(rc: ReadContext, meta: StreamMeta, from: number, cap: number | null, maxBytes: number): Promise<Result<InheritedChunk>> {
  const end = Math.min(cap ?? Number.POSITIVE_INFINITY, tailOf(rc, meta));
  const chunk = emptyChunk(from);
  if (from >= end) return { ok: true, value: chunk };
  if (from < meta.base && meta.fork) {
    const inherited: Result<InheritedChunk> = await partitionStub(rc.env, meta.fork.source, 0).streamReadInherited(from, Math.min(meta.base, end), maxBytes);
    if (!inherited.ok) {
      return { ok: false, error: { code: "GONE", message: "the data this fork inherits from its source is no longer available" } };
    }
    merge(chunk, inherited.value);
    if (chunk.next < meta.base || chunk.size >= maxBytes) return { ok: true, value: chunk };
  }
  if (chunk.next - meta.base < rc.log.first()) {
    // Retention removed entries here: a read never skips them silently.
    if (chunk.size > 0) return { ok: true, value: chunk };
    return { ok: false, error: { code: "GONE", message: "the offset is before the earliest position the stream's retention kept" } };
  }
  readLocal(rc, meta, chunk, end, maxBytes);
  return { ok: true, value: chunk };
}

/** Appends the fork's own (or a plain stream's) entries from `chunk.next` to the chunk. */
function readLocal(rc: ReadContext, meta: StreamMeta, chunk: InheritedChunk, end: number, maxBytes: number): void {
  const json = isJsonType(meta.contentType);
  while (chunk.next < end && chunk.size < maxBytes) {
    const from = chunk.next - meta.base;
    const want = Math.min(BATCH, end - chunk.next);
    const entries = rc.log.read(from, want);
    for (const e of entries) {
      const position = meta.base + e.offset;
      if (position >= end) break;
      if (json) {
        const text = entryJson(e);
        chunk.items.push(text);
        chunk.size += text.length + 1;
      } else {
        const bytes = entryBytes(e);
        chunk.parts.push(bytes);
        chunk.size += bytes.length;
      }
      chunk.next = position + 1;
      if (chunk.size >= maxBytes) return;
    }
    // Fewer than asked: nothing more below `end` (offsets a compaction removed are absent).
    if (entries.length < want) {
      chunk.next = end;
      return;
    }
  }
}

function merge(into: InheritedChunk, part: InheritedChunk): void {
  into.items.push(...part.items);
  into.parts.push(...part.parts);
  into.size += part.size;
  into.next = part.next;
}

/** A chunk as the bytes of a response body: the JSON array in JSON mode, else the bytes. */
export function renderChunk(contentType: string, chunk: InheritedChunk): Uint8Array {
  return isJsonType(contentType) ? jsonArrayBytes(chunk.items) : concatBytes(chunk.parts);
}

/** The first entry at `position` (or after it), rendered, for a fork's sub-offset. */
export async function entryAt(rc: ReadContext, meta: StreamMeta, position: number): Promise<Result<InheritedChunk>> {
  return readChunk(rc, meta, position, position + 1, 1);
}
