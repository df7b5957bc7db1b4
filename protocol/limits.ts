/**
 * Every limit and default of the public contract, defined once. The server's schemas and
 * objects and the client SDK all read them from here (API.md: Conventions, Queues → Config,
 * Topics → Config, consumer groups, WebSocket limits).
 */

/** Longest lease, nack delay and group visibility timeout (seconds): 12 hours. */
export const MAX_LEASE_SECONDS = 43_200;
/** `max` on receive, poll and peek. */
export const MAX_RECEIVE = 100;
/** Long-poll seconds on receive and group poll. */
export const MAX_WAIT_SECONDS = 20;
/** Messages per send or publish batch. */
export const MAX_BATCH = 1000;
/** Receipts per ack / nack / extend. */
export const MAX_RECEIPTS = 1000;
/** Entries per topic read. */
export const MAX_READ_LIMIT = 1000;
/** Headers per message. */
export const MAX_HEADERS = 32;
/** Deepest nesting of arrays/objects in a message body. */
export const MAX_BODY_DEPTH = 64;
/** A queue consumer socket's largest credit window. */
export const MAX_CREDIT = 1000;

/** Inclusive [min, max] of every numeric queue config field (API.md, Queues → Config). */
export const QUEUE_CONFIG_RANGES = {
  visibilityTimeout: [1, MAX_LEASE_SECONDS],
  /** 0 = never dead-letter (as SQS without a redrive policy). */
  maxReceives: [0, 1000],
  deduplicationWindow: [0, 86_400],
  delay: [0, 900],
  retention: [60, 1_209_600],
  maxMessages: [1, 10_000_000],
  maxBytes: [1, 10 * 1024 ** 3],
  maxMessageBytes: [1, 1024 * 1024],
} as const satisfies Record<string, readonly [number, number]>;

/** Queue config defaults (the dead-letter queue defaults to `"{q}.dlq"`). */
export const DEFAULT_QUEUE_CONFIG = {
  visibilityTimeout: 30,
  maxReceives: 5,
  fifo: false,
  deduplicationWindow: 300,
  delay: 0,
  retention: 345_600,
  maxMessages: 100_000,
  maxBytes: 268_435_456,
  maxMessageBytes: 262_144,
  delivery: "at-least-once",
} as const;

/** Paged lists (`GET /v1/queues`, `/v1/topics`, `/v1/keys`): most and default entries per page. */
export const MAX_LIST_LIMIT = 1000;
export const DEFAULT_LIST_LIMIT = 100;

/**
 * Quotas (API.md, Conventions → Quotas): defaults of the Worker vars `SPOOL_MAX_QUEUES`,
 * `SPOOL_MAX_TOPICS`, `SPOOL_MAX_GROUPS_PER_TOPIC`, `SPOOL_MAX_SUBSCRIPTIONS_PER_TOPIC`.
 */
export const DEFAULT_QUOTAS = {
  queues: 10_000,
  topics: 10_000,
  groupsPerTopic: 100,
  subscriptionsPerTopic: 100,
} as const;

/** A queue keeps at most this many dedup records per message of `maxMessages`. */
export const DEDUP_RECORDS_PER_MAX_MESSAGE = 10;
/** Most dedup records one topic partition keeps. */
export const MAX_PARTITION_DEDUP_RECORDS = 1_000_000;

/** Redrive: default and most letters per call. */
export const REDRIVE_DEFAULT = 1000;
export const REDRIVE_MAX = 10_000;

/** Topic config bounds. */
export const MAX_PARTITIONS = 64;
/** A row in a Durable Object's SQLite may not exceed 2 MB; keep a message well under it. */
export const MAX_MESSAGE_BYTES_LIMIT = 1024 * 1024;
export const MAX_RETENTION_SECONDS = 10 * 365 * 86400;
export const MAX_DEDUP_WINDOW_SECONDS = 86400;

/** Consumer-group bounds. */
export const MAX_DELIVERIES_LIMIT = 1000;

/** Largest client → server WebSocket frame accepted (bytes). */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Sustained client → server frames per second per socket, and the burst allowed above it. */
export const FRAMES_PER_SECOND = 50;
export const FRAME_BURST = 200;
/** Most open sockets one object accepts by default (`SPOOL_MAX_SOCKETS_PER_OBJECT`). */
export const MAX_SOCKETS_PER_OBJECT = 5000;
/** What a live subscriber may hold unconfirmed before the server pauses it. */
export const SUBSCRIBER_WINDOW = { messages: 1000, bytes: 1024 * 1024 } as const;
/** How long a paused subscriber may stay paused before it is closed with 4000. */
export const SLOW_GRACE_MS = 10_000;
