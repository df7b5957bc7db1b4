/**
 * The one error type of the server. Routes and the topic router throw `ApiError`; the
 * Worker's `onError` renders it as `{error: {code, message, details}}` (worker/errors.ts).
 * Objects return errors as `Result` values instead, since RPC loses classes; `unwrap`
 * turns such a value back into an `ApiError` on the calling side.
 */
import { ErrorCodes, type ErrorCode, type ErrorValue, type Result } from "../../protocol/errors";

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: (typeof ErrorCodes)[ErrorCode];
  readonly details?: Record<string, unknown>;
  readonly retryAfter?: number;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, retryAfter?: number) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = ErrorCodes[code];
    this.details = details;
    this.retryAfter = retryAfter;
  }

  static from(value: ErrorValue): ApiError {
    return new ApiError(value.code, value.message, value.details, value.retryAfter);
  }

  /** The error as a plain value, for an RPC answer. */
  toValue(): ErrorValue {
    return { code: this.code, message: this.message, details: this.details, retryAfter: this.retryAfter };
  }
}

/** Returns the value of an RPC result or throws its error as an `ApiError`. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw ApiError.from(result.error);
}

/**
 * Any thrown value as an `ApiError`: errors that crossed an RPC boundary keep their own
 * properties but not their class; anything unknown becomes `500 INTERNAL`.
 */
export function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string" && Object.hasOwn(ErrorCodes, err.code)) {
    const e = err as { code: ErrorCode; message?: string; details?: Record<string, unknown> };
    return new ApiError(e.code, e.message ?? e.code, e.details);
  }
  return new ApiError("INTERNAL", "internal error");
}
