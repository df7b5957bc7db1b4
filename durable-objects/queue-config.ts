/**
 * Queue config: defaults, ranges and the rules that need more than one field. The ranges
 * here are the single source: the route's zod schemas are built from `CONFIG_RANGES`, and
 * the object applies `resolveConfig` for implicit creation by other objects too.
 */
import type { ErrorValue } from "../worker/error-codes";
import { isValidName } from "../worker/names";
import type { QueueConfig, QueueConfigInput } from "./queue-types";

/** Inclusive [min, max] of every numeric config field (API.md, Queues → Config). */
export const CONFIG_RANGES = {
  visibilityTimeout: [1, 43_200],
  maxReceives: [1, 1000],
  deduplicationWindow: [0, 86_400],
  delay: [0, 900],
  retention: [60, 1_209_600],
  maxMessages: [1, 10_000_000],
  maxBytes: [1, 10 * 1024 ** 3],
  maxMessageBytes: [1, 1024 * 1024],
} as const satisfies Record<string, readonly [number, number]>;

/** Per-message and per-call limits that are not config. */
export const LIMITS = {
  /** `max` on receive and `limit` on peek. */
  maxReceive: 100,
  /** Long-poll seconds. */
  maxWait: 20,
  /** nack `delay` and extend `visibilityTimeout` seconds. */
  maxLeaseSeconds: 43_200,
  /** Messages per send. */
  maxBatch: 1000,
  /** Receipts per ack/nack/extend. */
  maxReceipts: 1000,
  /** Redrive: default and most letters per call. */
  redriveDefault: 1000,
  redriveMax: 10_000,
  /** WebSocket credit window. */
  maxCredit: 1000,
} as const;

export const DEFAULT_CONFIG: Omit<QueueConfig, "deadLetterQueue"> = {
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
};

export function defaultDeadLetterQueue(queue: string): string {
  return `${queue}.dlq`;
}

type ConfigResult = { ok: true; config: QueueConfig } | { ok: false; error: ErrorValue };

/**
 * The config a PUT (or an implicit creation, with `input = {}`) leads to: `input` over the
 * current config, or over the defaults for a new queue. Changing `fifo` of an existing
 * queue is `CONFLICT`; a queue whose default `{q}.dlq` would not be a valid name must name
 * its dead-letter queue (or `null`).
 */
export function resolveConfig(queue: string, current: QueueConfig | null, input: QueueConfigInput): ConfigResult {
  if (current && input.fifo !== undefined && input.fifo !== current.fifo) {
    return fail("CONFLICT", `fifo cannot change after creation (queue is ${current.fifo ? "" : "not "}fifo)`, { field: "fifo", current: current.fifo });
  }
  const { visibilityTimeout, maxReceives, ...rest } = DEFAULT_CONFIG;
  // Key order as API.md lists the fields.
  const base: QueueConfig = current ?? { visibilityTimeout, maxReceives, deadLetterQueue: defaultDeadLetterQueue(queue), ...rest };
  const config: QueueConfig = { ...base };
  for (const [key, value] of Object.entries(input) as [keyof QueueConfig, unknown][]) {
    if (value !== undefined) (config as unknown as Record<string, unknown>)[key] = value;
  }
  for (const [key, [min, max]] of Object.entries(CONFIG_RANGES)) {
    const v = config[key as keyof typeof CONFIG_RANGES];
    if (!Number.isInteger(v) || v < min || v > max) {
      return fail("VALIDATION_FAILED", `${key} must be an integer in ${min}..${max}`, { field: key });
    }
  }
  const dlq = config.deadLetterQueue;
  if (dlq !== null) {
    if (!isValidName(dlq)) {
      const implicit = input.deadLetterQueue === undefined && !current;
      return fail(
        "VALIDATION_FAILED",
        implicit
          ? `the default dead-letter queue '${dlq.slice(0, 40)}…' is not a valid name (over 128 characters): PUT the queue with a deadLetterQueue (or null) first`
          : "deadLetterQueue must be a valid queue name or null",
        { field: "deadLetterQueue" },
      );
    }
    if (dlq === queue) return fail("VALIDATION_FAILED", "a queue cannot be its own dead-letter queue", { field: "deadLetterQueue" });
  }
  return { ok: true, config };
}

function fail(code: ErrorValue["code"], message: string, details: Record<string, unknown>): ConfigResult {
  return { ok: false, error: { code, message, details } };
}
