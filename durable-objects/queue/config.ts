/**
 * Queue config: defaults, ranges and the rules that need more than one field. The ranges
 * come from protocol/limits.ts: the route's zod schemas are built from `CONFIG_RANGES`, and
 * the object applies `resolveConfig` for implicit creation by other objects too.
 */
import type { ErrorValue } from "../../protocol/errors";
import {
  DEFAULT_QUEUE_CONFIG, MAX_BATCH, MAX_CREDIT, MAX_LEASE_SECONDS, MAX_RECEIPTS, MAX_RECEIVE, MAX_WAIT_SECONDS,
  QUEUE_CONFIG_RANGES, REDRIVE_DEFAULT, REDRIVE_MAX,
} from "../../protocol/limits";
import { defaultDeadLetterQueue, isValidName } from "../../protocol/names";
import type { QueueConfig, QueueConfigInput } from "../../protocol/queues";

/** The ranges and limits live in protocol/limits.ts; re-exported under the names queue code uses. */
export const CONFIG_RANGES = QUEUE_CONFIG_RANGES;

/** Per-message and per-call limits that are not config. */
export const LIMITS = {
  maxReceive: MAX_RECEIVE,
  maxWait: MAX_WAIT_SECONDS,
  maxLeaseSeconds: MAX_LEASE_SECONDS,
  maxBatch: MAX_BATCH,
  maxReceipts: MAX_RECEIPTS,
  redriveDefault: REDRIVE_DEFAULT,
  redriveMax: REDRIVE_MAX,
  maxCredit: MAX_CREDIT,
} as const;

export const DEFAULT_CONFIG: Omit<QueueConfig, "deadLetterQueue"> = { ...DEFAULT_QUEUE_CONFIG };

export { defaultDeadLetterQueue };

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
