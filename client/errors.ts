/**
 * The client's errors: one class per family of API error codes, built from the JSON error
 * body (`{error: {code, message, details}}`) or a WebSocket `error` frame, plus the errors
 * that only a client can have (a connection that failed, a gap in a stream, a closed client).
 * The codes come from the server's own dependency-free table, so the two never disagree;
 * a code added there fails this file's type-check until it is given a family.
 */
import { ErrorCodes, isErrorCode, type ErrorCode } from "../protocol/errors.js";

export { ErrorCodes, type ErrorCode } from "../protocol/errors.js";

/** Codes the client raises itself; they never come from the server. */
export type ClientErrorCode = "CONNECTION_FAILED" | "GAP" | "CLOSED" | "TIMEOUT";

export interface SpoolErrorInit {
  code: ErrorCode | ClientErrorCode | (string & {});
  message: string;
  /** HTTP status; 0 for errors raised by the client. */
  status: number;
  details?: Record<string, unknown> | undefined;
  /** Seconds the server asked us to wait (429, 503). */
  retryAfter?: number | undefined;
  cause?: unknown;
}

/** Base of every error the client throws. `instanceof` one of the subclasses to branch. */
export class SpoolError extends Error {
  readonly code: ErrorCode | ClientErrorCode | (string & {});
  readonly status: number;
  readonly details?: Record<string, unknown> | undefined;
  readonly retryAfter?: number | undefined;

  constructor(init: SpoolErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = init.code;
    this.status = init.status;
    this.details = init.details;
    this.retryAfter = init.retryAfter;
  }
}

/** The request itself is wrong: bad name, failed validation, too large, wrong media type. */
export class InvalidRequestError extends SpoolError {}
/** Missing, expired or wrongly signed credential (401) or a missing capability (403). */
export class AuthError extends SpoolError {}
/** The queue, topic, group or subscription does not exist (or the route does not). */
export class NotFoundError extends SpoolError {}
/** The change conflicts with existing state (e.g. changing `fifo`, lowering `partitions`). */
export class ConflictError extends SpoolError {}
/** A receipt whose lease expired, that was already acked, or that belongs elsewhere. */
export class ReceiptError extends SpoolError {}
/** The server is applying backpressure (full queue or topic, rate limit); retry later. */
export class BackpressureError extends SpoolError {}
/** The server failed or is not configured. */
export class ServerError extends SpoolError {}
/** The network failed or a WebSocket/stream could not be opened or dropped. */
export class ConnectionError extends SpoolError {}
/** The client (or the stream) was closed before the operation could finish. */
export class ClosedError extends SpoolError {}

/** A stream asked for offsets that retention already removed: `from` … `to - 1` are gone. */
export class GapError extends SpoolError {
  readonly partition: number;
  readonly from: number;
  readonly to: number;
  constructor(partition: number, from: number, to: number) {
    super({ code: "GAP", status: 0, message: `offsets ${from}..${to - 1} of partition ${partition} are gone (retention); resume from ${to}`, details: { partition, from, to } });
    this.partition = partition;
    this.from = from;
    this.to = to;
  }
}

type ErrorClass = new (init: SpoolErrorInit) => SpoolError;

/** Every server code and its family. Exhaustive: a new code in protocol/errors.ts must be placed. */
export const ERROR_FAMILIES: { readonly [C in ErrorCode]: ErrorClass } = {
  BAD_REQUEST: InvalidRequestError,
  INVALID_NAME: InvalidRequestError,
  VALIDATION_FAILED: InvalidRequestError,
  METHOD_NOT_ALLOWED: InvalidRequestError,
  PAYLOAD_TOO_LARGE: InvalidRequestError,
  UNSUPPORTED_MEDIA_TYPE: InvalidRequestError,
  UPGRADE_REQUIRED: InvalidRequestError,
  UNAUTHORIZED: AuthError,
  FORBIDDEN: AuthError,
  NOT_FOUND: NotFoundError,
  GONE: NotFoundError,
  CONFLICT: ConflictError,
  QUOTA_EXCEEDED: ConflictError,
  RECEIPT_INVALID: ReceiptError,
  QUEUE_FULL: BackpressureError,
  TOPIC_FULL: BackpressureError,
  RATE_LIMITED: BackpressureError,
  NOT_CONFIGURED: ServerError,
  INTERNAL: ServerError,
};

function classForStatus(status: number): ErrorClass {
  if (status === 401 || status === 403) return AuthError;
  if (status === 404) return NotFoundError;
  if (status === 409) return ConflictError;
  if (status === 429) return BackpressureError;
  if (status >= 500) return ServerError;
  return InvalidRequestError;
}

/** Builds the right error class from a code (known or not) and what else is known. */
export function spoolError(init: SpoolErrorInit): SpoolError {
  const Cls = isErrorCode(init.code) ? ERROR_FAMILIES[init.code] : classForStatus(init.status);
  return new Cls(init);
}

/** The error of a non-2xx response, from its JSON body when it has one. */
export async function errorFromResponse(res: Response): Promise<SpoolError> {
  const retryAfter = parseRetryAfter(res.headers.get("retry-after"));
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const err = isRecord(body) && isRecord(body.error) ? body.error : undefined;
  const code = typeof err?.code === "string" ? err.code : fallbackCode(res.status);
  const message = typeof err?.message === "string" ? err.message : `HTTP ${res.status}`;
  const details = isRecord(err?.details) ? err.details : undefined;
  return spoolError({ code, message, status: res.status, details, retryAfter });
}

/** The error carried by a WebSocket `{"type":"error","code","message"}` frame. */
export function errorFromFrame(frame: Record<string, unknown>): SpoolError {
  const code = typeof frame.code === "string" ? frame.code : "INTERNAL";
  const status = isErrorCode(code) ? ErrorCodes[code] : 500;
  const message = typeof frame.message === "string" ? frame.message : code;
  const details = isRecord(frame.details) ? frame.details : undefined;
  return spoolError({ code, message, status, details });
}

function fallbackCode(status: number): string {
  const byStatus: Record<number, ErrorCode> = { 400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 426: "UPGRADE_REQUIRED", 429: "RATE_LIMITED" };
  return byStatus[status] ?? (status >= 500 ? "INTERNAL" : "BAD_REQUEST");
}

/** `Retry-After` as seconds (delta-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const n = Number(value);
  if (Number.isFinite(n)) return Math.max(0, n);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

/**
 * Should a stream give up on this error instead of reconnecting? Bad requests, missing
 * resources and missing capabilities will not fix themselves; expired credentials,
 * backpressure, server and network failures may.
 */
export function isTerminal(err: unknown): boolean {
  if (!(err instanceof SpoolError)) return false;
  if (err instanceof GapError || err instanceof ClosedError) return true;
  if (err instanceof ConnectionError && err.details?.noWebSocket === true) return true; // this runtime never will (Node 20)
  if (err.code === "UNAUTHORIZED") return false;
  return err instanceof InvalidRequestError || err instanceof AuthError || err instanceof NotFoundError || err instanceof ConflictError;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
