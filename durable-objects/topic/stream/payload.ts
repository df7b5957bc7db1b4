/**
 * How a Durable Stream's data is kept as the messages of its topic, and read back.
 *
 *  - `application/json` streams: one log entry per JSON message (a POSTed array is
 *    flattened one level), its body the JSON value itself. Spool's subscribers see the
 *    stream's messages as they are.
 *  - `text/*` streams: the bytes in chunks of at most CHUNK_BYTES, cut on UTF-8 character
 *    boundaries, each entry's body the chunk as a JSON string. A chunk that is not valid
 *    UTF-8 is kept as binary is.
 *  - any other type: body `{"base64": "…"}` with the header `stream-payload: base64`
 *    (the shape MQTT payloads use), so byte streams round-trip exactly.
 *
 * Read back (also for messages published through `/v1/topics`): a base64-marked body is
 * its bytes, a string body its UTF-8 bytes, anything else its JSON text; in JSON mode
 * every body is one JSON message.
 */
import type { ErrorValue, Result } from "../../../protocol/errors";
import { MAX_BODY_DEPTH } from "../../../protocol/limits";
import { utf8Length } from "../../../protocol/key-hash";
import { nestedDeeperThan } from "../../shared/message-schemas";
import type { LogEntry } from "../types";

/** The header marking a base64 body, and its value. */
export const PAYLOAD_HEADER = "stream-payload";
export const BASE64 = "base64";

/** Largest raw chunk of a byte stream per log entry (a 100 KiB append is two entries). */
export const CHUNK_BYTES = 64 * 1024;

/** The default content type of a stream created without one. */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

/** One log entry to write: the body as JSON text, headers as JSON text (or null), counted bytes. */
export interface EncodedEntry {
  body: string;
  headers: string | null;
  size: number;
}

/** `type/subtype` in lower case, without parameters: what content types are compared by. */
export function mediaEssence(contentType: string): string {
  return contentType.split(";")[0]!.trim().toLowerCase();
}

export function isJsonType(contentType: string): boolean {
  return mediaEssence(contentType) === "application/json";
}

/** Text streams carry UTF-8 text in SSE; every other non-JSON type is base64 there. */
export function isTextType(contentType: string): boolean {
  return mediaEssence(contentType).startsWith("text/");
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

function invalid(message: string): ErrorValue {
  return { code: "BAD_REQUEST", message };
}

/**
 * The JSON messages of a JSON-mode body, each as compact JSON text: a top-level array is
 * flattened one level. An empty array is refused on append and means "no messages" on
 * create; invalid UTF-8 or JSON, or a message nested deeper than MAX_BODY_DEPTH, is 400.
 */
export function parseJsonMessages(data: Uint8Array, forCreate: boolean): Result<string[]> {
  let text: string;
  try {
    text = fatalUtf8.decode(data);
  } catch {
    return { ok: false, error: invalid("body is not valid UTF-8") };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: invalid("body is not valid JSON") };
  }
  const messages = Array.isArray(value) ? (value as unknown[]) : [value];
  if (messages.length === 0 && !forCreate) return { ok: false, error: invalid("an empty JSON array appends nothing") };
  for (const m of messages) {
    if (nestedDeeperThan(m, MAX_BODY_DEPTH)) {
      return { ok: false, error: { code: "VALIDATION_FAILED", message: `a message nests arrays and objects more than ${MAX_BODY_DEPTH} deep` } };
    }
  }
  return { ok: true, value: messages.map((m) => JSON.stringify(m)) };
}

/** JSON messages (compact JSON texts) as entries; a message over `maxBytes` is refused whole. */
export function encodeJsonEntries(messages: string[], maxBytes: number): Result<EncodedEntry[]> {
  const out: EncodedEntry[] = [];
  for (const body of messages) {
    const size = utf8Length(body);
    if (size > maxBytes) {
      return { ok: false, error: { code: "PAYLOAD_TOO_LARGE", message: `a JSON message of ${size} bytes exceeds the topic's maxMessageBytes (${maxBytes})`, details: { limit: maxBytes } } };
    }
    out.push({ body, headers: null, size });
  }
  return { ok: true, value: out };
}

const BASE64_HEADERS = JSON.stringify({ [PAYLOAD_HEADER]: BASE64 });

/** Bytes of a non-JSON stream as entries (text chunks for text types, base64 otherwise). */
export function encodeByteEntries(contentType: string, data: Uint8Array, maxMessageBytes: number): EncodedEntry[] {
  // A base64 chunk of `limit` raw bytes needs about 4/3 of it plus the wrapper.
  const limit = Math.max(1, Math.min(CHUNK_BYTES, Math.floor(((maxMessageBytes - 32) * 3) / 4)));
  const text = isTextType(contentType);
  const out: EncodedEntry[] = [];
  for (let at = 0; at < data.length; ) {
    let end = Math.min(data.length, at + limit);
    // Never cut a UTF-8 sequence in two: back off over continuation bytes (at most 3).
    if (text && end < data.length) {
      let cut = end;
      while (cut > at && cut > end - 4 && (data[cut]! & 0xc0) === 0x80) cut--;
      if (cut > at) end = cut;
    }
    out.push(encodeChunk(data.subarray(at, end), text, maxMessageBytes));
    at = end;
  }
  return out;
}

function encodeChunk(chunk: Uint8Array, text: boolean, maxMessageBytes: number): EncodedEntry {
  if (text) {
    try {
      const body = JSON.stringify(fatalUtf8.decode(chunk));
      const size = utf8Length(body);
      // Escapes can make a JSON string longer than its text; such a chunk goes as base64.
      if (size <= maxMessageBytes) return { body, headers: null, size };
    } catch {
      // not UTF-8: kept as bytes
    }
  }
  const body = JSON.stringify({ [BASE64]: toBase64(chunk) });
  return { body, headers: BASE64_HEADERS, size: body.length };
}

/** The bytes an entry contributes to a byte stream. */
export function entryBytes(entry: LogEntry): Uint8Array {
  const body = entry.body;
  if (entry.headers[PAYLOAD_HEADER] === BASE64 && typeof body === "object" && body !== null && typeof (body as Record<string, unknown>)[BASE64] === "string") {
    return fromBase64((body as Record<string, string>)[BASE64]!);
  }
  return encoder.encode(typeof body === "string" ? body : JSON.stringify(body));
}

/** The JSON message an entry is in a JSON-mode stream. */
export function entryJson(entry: LogEntry): string {
  return JSON.stringify(entry.body) ?? "null";
}

/** Standard base64 (RFC 4648) of `bytes`. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Concatenates byte arrays. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A JSON array of already-serialised messages, as bytes. */
export function jsonArrayBytes(items: string[]): Uint8Array {
  return encoder.encode(`[${items.join(",")}]`);
}
