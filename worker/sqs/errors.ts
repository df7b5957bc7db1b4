/**
 * SQS errors as AWS answers them. Each error has its shape name (the JSON protocol's
 * `__type`, `com.amazonaws.sqs#<name>`), its query-protocol code (the XML `<Code>` and the
 * `x-amzn-query-error: <code>;Sender` header, which the AWS SDKs use to pick the exception
 * class) and its HTTP status, all as AWS's SQS API reference and the SDK's service model
 * list them (Common Errors; each action's Errors). Spool's own error values (`ApiError`,
 * object `Result`s) become one of these in `sqsErrorOf`.
 */
import { ApiError } from "../../durable-objects/shared/errors";
import { isErrorCode, type ErrorValue } from "../../protocol/errors";

/** Shape name → [query-protocol code, HTTP status]. */
export const SQS_ERRORS = {
  // Modelled SQS errors (the SDK has a class for each).
  QueueDoesNotExist: ["AWS.SimpleQueueService.NonExistentQueue", 400],
  QueueNameExists: ["QueueAlreadyExists", 400],
  ReceiptHandleIsInvalid: ["ReceiptHandleIsInvalid", 404],
  MessageNotInflight: ["AWS.SimpleQueueService.MessageNotInflight", 400],
  BatchEntryIdsNotDistinct: ["AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400],
  BatchRequestTooLong: ["AWS.SimpleQueueService.BatchRequestTooLong", 400],
  EmptyBatchRequest: ["AWS.SimpleQueueService.EmptyBatchRequest", 400],
  InvalidBatchEntryId: ["AWS.SimpleQueueService.InvalidBatchEntryId", 400],
  TooManyEntriesInBatchRequest: ["AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400],
  UnsupportedOperation: ["AWS.SimpleQueueService.UnsupportedOperation", 400],
  InvalidAttributeName: ["InvalidAttributeName", 400],
  InvalidAttributeValue: ["InvalidAttributeValue", 400],
  InvalidMessageContents: ["InvalidMessageContents", 400],
  InvalidAddress: ["InvalidAddress", 404],
  OverLimit: ["OverLimit", 403],
  RequestThrottled: ["RequestThrottled", 403],
  // Common errors of every AWS query/JSON service.
  AccessDenied: ["AccessDenied", 403],
  IncompleteSignature: ["IncompleteSignature", 400],
  InvalidAction: ["InvalidAction", 400],
  InvalidClientTokenId: ["InvalidClientTokenId", 403],
  InvalidParameterValue: ["InvalidParameterValue", 400],
  MalformedQueryString: ["MalformedQueryString", 404],
  MissingAction: ["MissingAction", 400],
  MissingAuthenticationToken: ["MissingAuthenticationToken", 403],
  MissingParameter: ["MissingParameter", 400],
  RequestExpired: ["RequestExpired", 400],
  SerializationException: ["SerializationException", 400],
  SignatureDoesNotMatch: ["SignatureDoesNotMatch", 403],
  InternalFailure: ["InternalFailure", 500],
  ServiceUnavailable: ["ServiceUnavailable", 503],
} as const satisfies Record<string, readonly [string, number]>;

export type SqsErrorName = keyof typeof SQS_ERRORS;

/** An error an SQS action answers with; rendered by protocol.ts in the request's protocol. */
export class SqsError extends Error {
  readonly queryCode: string;
  readonly status: number;

  constructor(readonly type: SqsErrorName, message: string) {
    super(message);
    this.name = type;
    [this.queryCode, this.status] = SQS_ERRORS[type];
  }

  /** `Sender` for the caller's mistakes, `Receiver` for the server's. */
  get fault(): "Sender" | "Receiver" {
    return this.status >= 500 ? "Receiver" : "Sender";
  }
}

/** `InvalidParameterValue` with AWS's sentence shape. */
export function invalidParameter(name: string, value: unknown, reason?: string): SqsError {
  const shown = typeof value === "string" ? value.slice(0, 100) : String(value);
  return new SqsError("InvalidParameterValue", `Value ${shown} for parameter ${name} is invalid.${reason ? ` Reason: ${reason}` : ""}`);
}

export function missingParameter(name: string): SqsError {
  return new SqsError("MissingParameter", `The request must contain the parameter ${name}.`);
}

export function queueDoesNotExist(): SqsError {
  return new SqsError("QueueDoesNotExist", "The specified queue does not exist.");
}

/** Spool's error codes → SQS errors (object results, thrown `ApiError`s, anything else). */
export function sqsErrorOf(err: unknown): SqsError {
  if (err instanceof SqsError) return err;
  const value: ErrorValue | null =
    err instanceof ApiError ? err.toValue() : isErrorValue(err) ? err : null;
  if (!value) return new SqsError("InternalFailure", "We encountered an internal error. Please try again.");
  switch (value.code) {
    case "NOT_FOUND": return queueDoesNotExist();
    case "QUEUE_FULL":
    case "RATE_LIMITED": return new SqsError("RequestThrottled", value.message);
    case "QUOTA_EXCEEDED": return new SqsError("OverLimit", value.message);
    case "RECEIPT_INVALID": return new SqsError("ReceiptHandleIsInvalid", value.message);
    case "CONFLICT": return new SqsError("InvalidAttributeValue", value.message);
    case "FORBIDDEN": return new SqsError("AccessDenied", value.message);
    case "UNAUTHORIZED": return new SqsError("InvalidClientTokenId", value.message);
    case "NOT_CONFIGURED": return new SqsError("ServiceUnavailable", value.message);
    case "INTERNAL": return new SqsError("InternalFailure", "We encountered an internal error. Please try again.");
    default: return new SqsError("InvalidParameterValue", value.message);
  }
}

function isErrorValue(v: unknown): v is ErrorValue {
  return typeof v === "object" && v !== null && isErrorCode((v as ErrorValue).code) && typeof (v as ErrorValue).message === "string";
}
