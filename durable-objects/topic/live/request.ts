/**
 * What a live subscriber asks for, checked before the partition (or a relay) acts on it:
 * the request the Worker built (`readLiveAsk`), where a subscription starts (`from`, or
 * SSE's `Last-Event-ID`), and the frames a WebSocket client may send (`ack`, `publish`,
 * `auth`). Refusals are answered the way the API answers errors: a JSON error body for the
 * upgrade, an `error` frame on an open socket.
 */
import type { ErrorCode } from "../../../protocol/errors";
import { credentialExpiresAt } from "../../shared/socket-limits";
import { refusal } from "../../shared/refusals";
import type { LogReader } from "../types";

/**
 * Internal headers the Worker sets on the request it forwards (never the client's). The
 * credential's expiry travels on the one header every object reads, CREDENTIAL_EXPIRES_HEADER.
 */
export const LIVE_HEADERS = {
  canPublish: "x-spool-can-publish",
  /** Worker → partition (`auto` placement): answer `useRelay` instead when you hold your share. */
  mayRelay: "x-spool-may-relay",
  /** Partition → Worker: serve this subscriber by a relay (a 204 with this header set to 1). */
  useRelay: "x-spool-use-relay",
  /** Relay → Worker: this shard is at the socket cap (on its 429), try the next one. */
  relayFull: "x-spool-relay-full",
} as const;

/** A live request as the Worker built it (router/live.ts): only headers the route set. */
export interface LiveAsk {
  kind: "subscribe" | "events";
  topic: string;
  partition: number;
  /** `from`, or for SSE the offset after `Last-Event-ID`, which wins. */
  from: string | null;
  expiresAt: number | null;
  canPublish: boolean;
  upgrade: boolean;
}

export function readLiveAsk(request: Request): LiveAsk {
  const url = new URL(request.url);
  const kind = url.pathname.endsWith("/events") ? "events" : "subscribe";
  return {
    kind,
    topic: url.searchParams.get("topic") ?? "",
    partition: Number(url.searchParams.get("partition") ?? "0"),
    from: kind === "events" ? sseFrom(request, url) : url.searchParams.get("from"),
    expiresAt: credentialExpiresAt(request),
    canPublish: request.headers.get(LIVE_HEADERS.canPublish) === "1",
    upgrade: request.headers.get("upgrade")?.toLowerCase() === "websocket",
  };
}

/** Where delivery starts, and the offset a `gap` frame starts at when `from` is gone. */
export type Start = { next: number; gapFrom: number | null } | { error: Response };

/** Resolves `from` (`latest` by default, `earliest` or an offset) against the log. */
export function resolveStart(log: Pick<LogReader, "first" | "next">, from: string | null): Start {
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
