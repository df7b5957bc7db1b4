/**
 * How an object says no to a socket or stream request, and how it reports an error on an
 * open socket. An object's `fetch` has no Hono context, so a refused upgrade is a Response
 * in the API's error shape; the Worker turns it back into an `ApiError` (`fromRefusal`) so
 * `onError` renders every refusal the same way, `Retry-After` included.
 */
import { ErrorCodes, type ErrorBody, type ErrorCode, type ErrorValue } from "../../protocol/errors";
import { ApiError } from "./errors";

/** Seconds a client should wait before retrying a 429/503 that names no time of its own. */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

/** A refused socket/stream request as a Response in the API's error shape. */
export function refusal(error: ErrorValue): Response {
  const status = ErrorCodes[error.code];
  const body: ErrorBody = { error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
  const headers: Record<string, string> = {};
  if (error.retryAfter !== undefined || status === 429 || status === 503) {
    headers["Retry-After"] = String(Math.max(1, Math.ceil(error.retryAfter ?? DEFAULT_RETRY_AFTER_SECONDS)));
  }
  return Response.json(body, { status, headers });
}

/** The Worker's side: an object's refusal Response as the `ApiError` it stands for. */
export async function fromRefusal(res: Response): Promise<ApiError> {
  let body: Partial<ErrorBody> = {};
  try {
    body = (await res.json()) as ErrorBody;
  } catch {
    // not in the error shape: fall through to INTERNAL
  }
  const e = body.error;
  if (!e || !Object.hasOwn(ErrorCodes, e.code)) return new ApiError("INTERNAL", "internal error");
  const retryAfter = Number(res.headers.get("retry-after") ?? "NaN");
  return new ApiError(e.code, e.message, e.details, Number.isFinite(retryAfter) ? retryAfter : undefined);
}

/** An `error` frame on an open socket: `{"type":"error","code","message"}`. */
export function errorFrame(code: ErrorCode, message: string, details?: Record<string, unknown>): string {
  return JSON.stringify({ type: "error", code, message, ...(details ? { details } : {}) });
}
