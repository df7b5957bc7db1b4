/**
 * The RPC contract of QueueObject: what the Worker routes and other Durable Objects (topic
 * subscription forwarders, consumer-group dead-lettering) pass in and get back. Every
 * method returns `Result<T>` (protocol/errors.ts) because RPC loses error classes.
 *
 * Dependency-free (the client SDK imports these types).
 *
 * Putting messages into a queue from another object:
 *
 * ```ts
 * const r = await queueStub(env, "jobs").send([{ id: topicMessageId, body, headers }]);
 * if (r.ok) r.value.messages[0].duplicate; // true when this id was already accepted
 * ```
 * `send` creates the queue with the default config unless `{ create: false }`; it dedups by
 * `id` within the queue's `deduplicationWindow`, so forwarding with the topic message id is
 * exactly-once. It answers `QUEUE_FULL` (with `retryAfter`), `PAYLOAD_TOO_LARGE` or
 * `VALIDATION_FAILED` (a queue whose `{q}.dlq` name would be too long cannot be created
 * implicitly), and `NOT_FOUND` with `create: false`.
 *
 * Moving a dead letter in from another object (bypasses dedup and space limits, idempotent):
 *
 * ```ts
 * await queueStub(env, "orders.billing.dlq").receiveDeadLetter([
 *   { moveKey: `orders#0/billing/${offset}`, id, body, headers, attempts },
 * ]);
 * ```
 * The target records `moveKey` in the same transaction as the message, so retrying the
 * call after a crash (the caller cannot know whether the first call landed) never
 * duplicates it. Keep the message in your own storage until the call returned `ok`.
 */
/** One message to send (API.md: `{body, id?, group?, delay?, headers?}`). */
export interface QueueSendInput {
  body: unknown;
  /** Producer-chosen id (1–128 printable ASCII); the dedup key. A ULID is assigned when absent. */
  id?: string | undefined;
  /** FIFO group; ignored for ordering on standard queues but stored and returned. */
  group?: string | undefined;
  /** Seconds before the message becomes visible (0–900); defaults to the queue's `delay`. */
  delay?: number | undefined;
  headers?: Record<string, string> | undefined;
  /**
   * SQS message attribute data types of headers that are not plain `String` (`Number`,
   * `Binary`, `String.label`, …), by header name. Kept with the message and returned only
   * to callers that ask (`ReceiveOptions.detail`): the SQS API, so attributes round-trip.
   */
  attributeTypes?: Record<string, string> | undefined;
}

export interface QueueSendOptions {
  /** Create the queue with the default config when it does not exist (default true). */
  create?: boolean | undefined;
}

export interface QueueSentMessage {
  id: string;
  seq: number;
  /** True when the id was accepted within the dedup window; `seq` is then the original's. */
  duplicate: boolean;
}

export interface QueueSendResult {
  messages: QueueSentMessage[];
}

/** A dead letter (or a redriven message) moved into a queue from elsewhere. */
export interface DeadLetterInput {
  /** Idempotency key, unique per move across all senders (e.g. `"<source>@<incarnation>#<seq>"`). */
  moveKey: string;
  id: string;
  body: unknown;
  headers?: Record<string, string> | undefined;
  /** As `QueueSendInput.attributeTypes`: travels with the letter. */
  attributeTypes?: Record<string, string> | undefined;
  group?: string | undefined;
  /** Deliveries so far; kept as is (0 for a redrive). */
  attempts: number;
  /** The queue (or `topic/group`) the message came from; the default target of a redrive. */
  origin?: string | null | undefined;
}

export interface DeadLetterResult {
  /** Letters written by this call. */
  accepted: number;
  /** Letters whose moveKey this queue had already accepted (retries). */
  skipped: number;
}

export type DeliveryMode = "at-least-once" | "at-most-once";

/** A queue's full config, as stored and shown. */
export interface QueueConfig {
  visibilityTimeout: number;
  maxReceives: number;
  deadLetterQueue: string | null;
  fifo: boolean;
  deduplicationWindow: number;
  delay: number;
  retention: number;
  maxMessages: number;
  maxBytes: number;
  maxMessageBytes: number;
  delivery: DeliveryMode;
  /** One of Cloudflare's Durable Object location hints (worker/objects.ts LOCATION_HINTS). */
  locationHint?: string | undefined;
}

/** `PUT /v1/queues/{q}`: every field optional; absent fields keep their current (or default) value. */
export type QueueConfigInput = Partial<QueueConfig>;

export interface QueueStats {
  visible: number;
  inFlight: number;
  delayed: number;
  messages: number;
  bytes: number;
  oldestAgeMs: number;
  consumers: number;
  sent: number;
  received: number;
  acked: number;
  deadLettered: number;
  duplicates: number;
}

export interface QueueCreated {
  name: string;
  config: QueueConfig;
  createdAt: number;
}

export interface QueueInfo {
  name: string;
  config: QueueConfig;
  stats: QueueStats;
}

/**
 * Everything a queue keeps about itself, for the SQS API (`describe`): its info, when it was
 * created, its tags, and the protocol attributes SQS needs that are not Spool config
 * (`ContentBasedDeduplication`, `ReceiveMessageWaitTimeSeconds`, …), as strings.
 */
export interface QueueDescription extends QueueInfo {
  createdAt: number;
  tags: Record<string, string>;
  attributes: Record<string, string>;
}

export interface ReceiveOptions {
  /** 1–100 (default 1). */
  max?: number | undefined;
  /** Long-poll seconds, 0–20 (default 0). */
  wait?: number | undefined;
  /** Lease seconds; defaults to the queue's `visibilityTimeout`. */
  visibilityTimeout?: number | undefined;
  /** Also return each message's `attributeTypes` and `firstReceivedAt` (the SQS API asks). */
  detail?: boolean | undefined;
}

/** A delivered message (`receive` and the WebSocket `message` frame). */
export interface ReceivedMessage {
  id: string;
  seq: number;
  body: unknown;
  headers: Record<string, string>;
  group?: string | undefined;
  /** Absent in at-most-once mode. */
  receipt?: string | undefined;
  attempts: number;
  sentAt: number;
  /** With `ReceiveOptions.detail` only: see `QueueSendInput.attributeTypes`. */
  attributeTypes?: Record<string, string> | undefined;
  /** With `ReceiveOptions.detail` only: when the message was first delivered (ms epoch). */
  firstReceivedAt?: number | undefined;
}

export type PeekState = "visible" | "inFlight" | "delayed";

export interface PeekedMessage {
  id: string;
  seq: number;
  body: unknown;
  headers: Record<string, string>;
  group?: string | undefined;
  attempts: number;
  sentAt: number;
  state: PeekState;
}

export interface ReceiptFailure {
  receipt: string;
  code: "RECEIPT_INVALID";
}

export interface AckResult { acked: number; failed: ReceiptFailure[] }
export interface NackResult { nacked: number; failed: ReceiptFailure[] }
export interface ExtendResult { extended: number; failed: ReceiptFailure[] }

export interface RedriveOptions {
  /** Target queue; default: each dead letter's origin queue. */
  to?: string | undefined;
  /** Most letters to move in this call (default and cap in protocol/limits.ts). */
  max?: number | undefined;
}
