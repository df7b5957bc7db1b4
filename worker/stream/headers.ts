/**
 * The Durable Streams protocol's HTTP headers: their names, the request headers parsed
 * and checked (a malformed one is `400`), and the headers every stream response carries
 * (PROTOCOL.md §12.7: no MIME sniffing, readable cross-origin by `fetch`).
 */
import { ApiError } from "../../durable-objects/shared/errors";
import type { ProducerTuple } from "../../durable-objects/topic/stream/store";

export const H = {
  nextOffset: "Stream-Next-Offset",
  upToDate: "Stream-Up-To-Date",
  cursor: "Stream-Cursor",
  closed: "Stream-Closed",
  ttl: "Stream-TTL",
  expiresAt: "Stream-Expires-At",
  seq: "Stream-Seq",
  forkedFrom: "Stream-Forked-From",
  forkOffset: "Stream-Fork-Offset",
  forkSubOffset: "Stream-Fork-Sub-Offset",
  sseEncoding: "Stream-SSE-Data-Encoding",
  producerId: "Producer-Id",
  producerEpoch: "Producer-Epoch",
  producerSeq: "Producer-Seq",
  expectedSeq: "Producer-Expected-Seq",
  receivedSeq: "Producer-Received-Seq",
} as const;

/** Request headers a browser may send cross-origin (the Worker's CORS preflight allows them). */
export const STREAM_REQUEST_HEADERS = [
  H.ttl, H.expiresAt, H.seq, H.closed, H.forkedFrom, H.forkOffset, H.forkSubOffset,
  H.producerId, H.producerEpoch, H.producerSeq, "If-None-Match",
];

/** Response headers a browser's `fetch` may read cross-origin. */
export const STREAM_RESPONSE_HEADERS = [
  H.nextOffset, H.upToDate, H.cursor, H.closed, H.ttl, H.expiresAt, H.sseEncoding,
  H.producerEpoch, H.producerSeq, H.expectedSeq, H.receivedSeq, "ETag", "Location", "Content-Type",
];

/** Set on every Durable Streams response, errors included. */
export const SECURITY_HEADERS: Record<string, string> = {
  "X-Content-Type-Options": "nosniff",
  "Cross-Origin-Resource-Policy": "cross-origin",
};

/** A non-negative decimal integer without sign, leading zeros, point or exponent. */
const INTEGER = /^(0|[1-9][0-9]*)$/;
/** RFC 3339 date-time (`Z` or a numeric offset; fractional seconds optional). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function bad(message: string, field: string): ApiError {
  return new ApiError("BAD_REQUEST", message, { field });
}

/** A header holding a non-negative integer (up to 2^53-1), or null when absent. */
export function integerHeader(headers: Headers, name: string): number | null {
  const raw = headers.get(name);
  if (raw === null) return null;
  const value = raw.trim();
  const n = Number(value);
  if (!INTEGER.test(value) || !Number.isSafeInteger(n)) throw bad(`${name} must be a non-negative integer in plain decimal`, name);
  return n;
}

/** `Stream-Expires-At` as ms since the epoch, or null when absent. */
export function expiresAtHeader(headers: Headers): number | null {
  const raw = headers.get(H.expiresAt);
  if (raw === null) return null;
  const ms = Date.parse(raw.trim());
  if (!RFC3339.test(raw.trim()) || !Number.isFinite(ms)) throw bad(`${H.expiresAt} must be an RFC 3339 timestamp`, H.expiresAt);
  return ms;
}

/** `Stream-Closed` counts only when it is `true` (any case); other values are ignored (PROTOCOL.md §4.1). */
export function closedHeader(headers: Headers): boolean {
  return headers.get(H.closed)?.trim().toLowerCase() === "true";
}

/** The three producer headers, all or none (PROTOCOL.md §5.2.1). */
export function producerHeaders(headers: Headers): ProducerTuple | null {
  const id = headers.get(H.producerId);
  const epochRaw = headers.get(H.producerEpoch);
  const seqRaw = headers.get(H.producerSeq);
  if (id === null && epochRaw === null && seqRaw === null) return null;
  if (id === null || epochRaw === null || seqRaw === null) {
    throw bad(`${H.producerId}, ${H.producerEpoch} and ${H.producerSeq} go together`, H.producerId);
  }
  if (id.trim() === "") throw bad(`${H.producerId} must not be empty`, H.producerId);
  return { id, epoch: integerHeader(headers, H.producerEpoch)!, seq: integerHeader(headers, H.producerSeq)! };
}

/** A request's content type, or null when it sent none. */
export function contentTypeHeader(headers: Headers): string | null {
  const raw = headers.get("content-type");
  return raw === null || raw.trim() === "" ? null : raw.trim();
}

/** Adds the security headers to a response (in place when its headers are mutable). */
export function withSecurityHeaders(res: Response): Response {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.headers.set(name, value);
  return res;
}
