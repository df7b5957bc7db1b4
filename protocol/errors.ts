/**
 * The stable error codes of the public API and the HTTP status each one answers with.
 * Part of protocol/: no dependencies, so the client SDK imports it too. Never rename a code; only add.
 */
export const ErrorCodes = {
  BAD_REQUEST: 400,
  INVALID_NAME: 400,
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  /** A Durable Stream that was deleted while forks still read it, or an offset retention removed. */
  GONE: 410,
  QUOTA_EXCEEDED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UPGRADE_REQUIRED: 426,
  QUEUE_FULL: 429,
  TOPIC_FULL: 429,
  RATE_LIMITED: 429,
  RECEIPT_INVALID: 400,
  NOT_CONFIGURED: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** The JSON body of every non-2xx response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

/** An error as a plain value: what Durable Object RPC methods return instead of throwing. */
export interface ErrorValue {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown> | undefined;
  /** Seconds, for 429/503 answers. */
  retryAfter?: number | undefined;
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ErrorCodes, code);
}

/** What Durable Object RPC methods return: a value, or an error as data (RPC loses classes). */
export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorValue };
