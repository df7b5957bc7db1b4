/**
 * What a live subscriber asks for, checked before the partition acts on it: where a
 * subscription starts (`from`, or SSE's `Last-Event-ID`), and the frames a WebSocket
 * client may send (`ack`, `publish`, `auth`). Refusals are answered the way the API answers
 * errors: a JSON error body for the upgrade, an `error` frame on an open socket.
 */
import type { ErrorCode } from "../../../protocol/errors";
import { refusal } from "../../shared/refusals";
import type { LogReader } from "../types";

/** Where delivery starts, and the offset a `gap` frame starts at when `from` is gone. */
export type Start = { next: number; gapFrom: number | null } | { error: Response };

/** Resolves `from` (`latest` by default, `earliest` or an offset) against the log. */
export function resolveStart(log: LogReader, from: string | null): Start {
  const first = log.first();
  const next = log.next();
  if (from === null || from === "" || from === "latest") return { next, gapFrom: null };
  if (from === "earliest") return { next: first, gapFrom: null };
  const n = Number(from);
  if (!/^\d+$/.test(from) || !Number.isSafeInteger(n)) {
    return { error: errorResponse("VALIDATION_FAILED", "from must be 'latest', 'earliest' or an offset", { field: "from" }) };
  }
  if (n > next) {
    return { error: errorResponse("VALIDATION_FAILED", `from ${n} is past the end of the partition (next is ${next})`, { field: "from", next }) };
  }
  return n < first ? { next: first, gapFrom: n } : { next: n, gapFrom: null };
}

/** An SSE stream resumes after its `Last-Event-ID` (an offset), which wins over `from`. */
export function sseFrom(request: Request, url: URL): string | null {
  const lastId = request.headers.get("last-event-id");
  return lastId !== null && /^\d+$/.test(lastId.trim()) ? String(Number(lastId.trim()) + 1) : url.searchParams.get("from");
}

/** A client frame the partition understands; anything else closes the socket. */
export type ClientFrame =
  | { type: "ack"; offset?: unknown }
  | { type: "publish"; messages?: unknown; ref?: unknown }
  | { type: "auth"; token?: unknown };

const FRAME_TYPES: ReadonlySet<unknown> = new Set(["ack", "publish", "auth"]);

export function parseFrame(message: string | ArrayBuffer): ClientFrame | null {
  if (typeof message !== "string") return null;
  try {
    const v: unknown = JSON.parse(message);
    if (typeof v === "object" && v !== null && "type" in v && FRAME_TYPES.has(v.type)) return v as ClientFrame;
  } catch {
    // not JSON
  }
  return null;
}

/** The offset an `ack` frame confirms, or null when it names none. */
export function ackOffset(frame: { offset?: unknown }): number | null {
  const o = frame.offset;
  return typeof o === "number" && Number.isSafeInteger(o) && o >= 0 ? o : null;
}

export { errorFrame } from "../../shared/refusals";

export function errorResponse(code: ErrorCode, message: string, details?: Record<string, unknown>): Response {
  return refusal({ code, message, ...(details ? { details } : {}) });
}
