/**
 * The one error type of the Worker and the renderer for the API's JSON error shape.
 * Routes throw `ApiError`; `onError` and `notFound` in index.ts turn everything into
 * `{error: {code, message, details}}` so no path can answer with another shape.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ErrorCodes, type ErrorBody, type ErrorCode, type ErrorValue } from "./error-codes";

export { ErrorCodes, type ErrorCode, type ErrorBody, type ErrorValue } from "./error-codes";

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: ContentfulStatusCode;
  readonly details?: Record<string, unknown>;
  readonly retryAfter?: number;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, retryAfter?: number) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = ErrorCodes[code] as ContentfulStatusCode;
    this.details = details;
    this.retryAfter = retryAfter;
  }

  static from(value: ErrorValue): ApiError {
    return new ApiError(value.code, value.message, value.details, value.retryAfter);
  }
}

/** What Durable Object RPC methods return: a value, or an error as data (RPC loses classes). */
export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorValue };

/** Returns the value of an RPC result or throws its error as an `ApiError`. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw ApiError.from(result.error);
}

export function errorResponse(c: Context, err: ApiError): Response {
  const body: ErrorBody = { error: { code: err.code, message: err.message } };
  if (err.details) body.error.details = err.details;
  const headers: Record<string, string> = {};
  if (err.retryAfter !== undefined || err.status === 429 || err.status === 503) {
    headers["Retry-After"] = String(Math.max(1, Math.ceil(err.retryAfter ?? 1)));
  }
  return c.json(body, err.status, headers);
}

/** Maps anything thrown in a handler to an `ApiError`; unknown errors become `500 INTERNAL`. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException) {
    const byStatus: Partial<Record<number, ErrorCode>> = {
      400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
      405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
    };
    return new ApiError(byStatus[err.status] ?? "BAD_REQUEST", err.message || "bad request");
  }
  // Errors that crossed an RPC boundary keep own properties but not their class.
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string" && err.code in ErrorCodes) {
    const e = err as { code: ErrorCode; message?: string; details?: Record<string, unknown> };
    return new ApiError(e.code, e.message ?? e.code, e.details);
  }
  return new ApiError("INTERNAL", "internal error");
}
