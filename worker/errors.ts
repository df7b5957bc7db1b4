/**
 * The renderer for the API's JSON error shape. Routes throw `ApiError`
 * (durable-objects/shared/errors.ts); `onError` and `notFound` in index.ts turn everything
 * into `{error: {code, message, details}}` so no path can answer with another shape.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ErrorCodes, type ErrorBody, type ErrorCode } from "../protocol/errors";
import { ApiError, asApiError } from "../durable-objects/shared/errors";

export { ErrorCodes, type ErrorCode, type ErrorBody, type ErrorValue, type Result } from "../protocol/errors";
export { ApiError, unwrap } from "../durable-objects/shared/errors";

export function errorResponse(c: Context, err: ApiError): Response {
  const body: ErrorBody = { error: { code: err.code, message: err.message } };
  if (err.details) body.error.details = err.details;
  const headers: Record<string, string> = {};
  if (err.retryAfter !== undefined || err.status === 429 || err.status === 503) {
    headers["Retry-After"] = String(Math.max(1, Math.ceil(err.retryAfter ?? 1)));
  }
  return c.json(body, err.status as ContentfulStatusCode, headers);
}

/** Maps anything thrown in a handler to an `ApiError`; unknown errors become `500 INTERNAL`. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof HTTPException) {
    const byStatus: Partial<Record<number, ErrorCode>> = {
      400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
      405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
    };
    return new ApiError(byStatus[err.status] ?? "BAD_REQUEST", err.message || "bad request");
  }
  return asApiError(err);
}
