/**
 * Message bodies of the Cloudflare Queues adapters (cf-queues.ts) as Spool message bodies.
 * Cloudflare Queues take four content types; Spool stores JSON:
 *   json   the value as it is (it must be JSON)                    no header
 *   text   a string, stored as that string                         header cf-content-type: text
 *   bytes  an ArrayBuffer or view, as {"base64": "…"}             header cf-content-type: bytes
 *   v8     (the default) any structured-clonable value: a plain JSON value is stored as it
 *          is (so Spool's other consumers read it), anything else (Date, Map, Set, bigint,
 *          undefined, typed arrays, …) in a tagged JSON form      header cf-content-type: v8
 * A message without the header (sent by a non-Cloudflare producer) is delivered as its JSON body.
 */

export type QueueContentType = "text" | "bytes" | "json" | "v8";

/** The message header that says how a body was encoded. */
export const CONTENT_TYPE_HEADER = "cf-content-type";

/** Marks a tagged value in the v8 form; a plain object that has this key is tagged too, so it survives. */
const TAG = "$cf";

export interface EncodedBody {
  body: unknown;
  headers: Record<string, string>;
}

export function encodeBody(value: unknown, contentType: QueueContentType = "v8"): EncodedBody {
  switch (contentType) {
    case "json":
      if (JSON.stringify(value) === undefined) throw new TypeError("a json message body must be a JSON value");
      return { body: value, headers: {} };
    case "text":
      if (typeof value !== "string") throw new TypeError("a text message body must be a string");
      return { body: value, headers: { [CONTENT_TYPE_HEADER]: "text" } };
    case "bytes":
      return { body: { base64: toBase64(bytesOf(value)) }, headers: { [CONTENT_TYPE_HEADER]: "bytes" } };
    case "v8":
      return isPlainJson(value, new Set()) ? { body: value, headers: {} } : { body: tag(value, new Set()), headers: { [CONTENT_TYPE_HEADER]: "v8" } };
    default:
      throw new TypeError(`unknown contentType '${String(contentType)}' (text, bytes, json or v8)`);
  }
}

export function decodeBody(body: unknown, headers: Record<string, string> | undefined): unknown {
  const type = headers?.[CONTENT_TYPE_HEADER];
  if (type === "bytes" && isObject(body) && typeof body.base64 === "string") return fromBase64(body.base64).buffer;
  if (type === "v8") return untag(body);
  return body;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

/** True when JSON holds `value` exactly (no -0, NaN, undefined, class instances, tag keys or cycles). */
function isPlainJson(value: unknown, seen: Set<object>): boolean {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value) && !Object.is(value, -0);
  if (!isObject(value) || seen.has(value)) return false;
  seen.add(value);
  if (Array.isArray(value)) {
    // Holes and extra properties are not JSON either.
    if (Object.keys(value).length !== value.length) return false;
    return value.every((v) => isPlainJson(v, seen));
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  if (Object.hasOwn(value, TAG)) return false;
  return Object.values(value).every((v) => isPlainJson(v, seen));
}

const VIEWS: Record<string, new (buffer: ArrayBuffer) => ArrayBufferView> = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array,
  BigInt64Array, BigUint64Array, DataView,
};

/** The v8 form: JSON with `{"$cf": kind, "v": …}` wherever JSON cannot say what the value is. */
function tag(value: unknown, seen: Set<object>): unknown {
  if (value === undefined) return { [TAG]: "undefined" };
  if (typeof value === "number") return Number.isFinite(value) && !Object.is(value, -0) ? value : { [TAG]: "number", v: String(value) };
  if (typeof value === "bigint") return { [TAG]: "bigint", v: value.toString() };
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value !== "object") throw new TypeError(`a ${typeof value} could not be cloned (v8 content type)`);
  if (seen.has(value)) throw new TypeError("a message body with a cycle could not be cloned");
  seen.add(value);
  try {
    if (value instanceof Date) return { [TAG]: "Date", v: value.getTime() };
    if (value instanceof RegExp) return { [TAG]: "RegExp", v: [value.source, value.flags] };
    if (value instanceof Map) return { [TAG]: "Map", v: [...value].map(([k, v]) => [tag(k, seen), tag(v, seen)]) };
    if (value instanceof Set) return { [TAG]: "Set", v: [...value].map((v) => tag(v, seen)) };
    if (value instanceof ArrayBuffer) return { [TAG]: "ArrayBuffer", v: toBase64(new Uint8Array(value)) };
    if (ArrayBuffer.isView(value)) {
      const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      return { [TAG]: value.constructor.name, v: toBase64(bytes) };
    }
    if (value instanceof Error) return { [TAG]: "Error", v: { name: value.name, message: value.message } };
    if (Array.isArray(value)) return value.map((v) => tag(v, seen));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = tag(v, seen);
    return Object.hasOwn(out, TAG) ? { [TAG]: "object", v: out } : out;
  } finally {
    seen.delete(value);
  }
}

function untag(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(untag);
  if (!isObject(value)) return value;
  const kind = value[TAG];
  if (typeof kind !== "string") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, untag(v)]));
  const v = value.v;
  switch (kind) {
    case "undefined": return undefined;
    case "number": return Number(v);
    case "bigint": return BigInt(String(v));
    case "Date": return new Date(Number(v));
    case "RegExp": return new RegExp(...(v as [string, string]));
    case "Map": return new Map((v as [unknown, unknown][]).map(([k, x]) => [untag(k), untag(x)]));
    case "Set": return new Set((v as unknown[]).map(untag));
    case "ArrayBuffer": return fromBase64(String(v)).buffer;
    case "Error": return Object.assign(new Error(String((v as { message?: unknown }).message ?? "")), { name: String((v as { name?: unknown }).name ?? "Error") });
    case "object": return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, untag(x)]));
    default: {
      const View = VIEWS[kind];
      if (!View) return value;
      const bytes = fromBase64(String(v));
      return new View(bytes.buffer);
    }
  }
}

function bytesOf(value: unknown): Uint8Array {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError("a bytes message body must be an ArrayBuffer or a typed array");
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
