/**
 * What a queue keeps about itself beyond its config, for the SQS API: tags (TagQueue,
 * UntagQueue, ListQueueTags) and protocol attributes that are not Spool config
 * (`ContentBasedDeduplication`, `ReceiveMessageWaitTimeSeconds`, …: strings the Worker's
 * SQS translation sets and reads). Both live in the queue's `meta`, so deleting the queue
 * deletes them. Every function runs inside the caller's transaction.
 */
import type { Result } from "../../protocol/errors";
import type { QueueConfigInput, QueueDescription } from "../../protocol/queues";
import { resolveConfig } from "./config";
import type { QueueContext, QueueTransactions } from "./context";
import { stats } from "./state";

/** Most tags a queue may have (as SQS allows). */
export const MAX_QUEUE_TAGS = 50;

/** The queue's info, creation time, tags and protocol attributes. */
export function describe(q: QueueContext, consumers: number): QueueDescription {
  return {
    name: q.name,
    config: q.config,
    stats: stats(q, consumers),
    createdAt: q.incarnation,
    tags: q.store.meta.stringMap("tags"),
    attributes: q.store.meta.stringMap("attributes"),
  };
}

/**
 * Changes config and protocol attributes together (an attribute set to null is removed).
 * The config rules are `PUT`'s (config.ts): `fifo` cannot change, ranges, dead-letter queue.
 */
export function setAttributes(
  q: QueueContext,
  tx: QueueTransactions,
  input: QueueConfigInput,
  attributes: Record<string, string | null>,
  consumers: number,
): Result<QueueDescription> {
  const resolved = resolveConfig(q.name, q.config, input);
  if (!resolved.ok) return resolved;
  tx.reconfigure(resolved.config);
  const kept = q.store.meta.stringMap("attributes");
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null) delete kept[name];
    else define(kept, name, value);
  }
  q.store.meta.saveStringMap("attributes", kept);
  return { ok: true, value: describe({ ...q, config: resolved.config }, consumers) };
}

/** Adds or replaces tags; refused (nothing changed) past `MAX_QUEUE_TAGS`. */
export function tag(q: QueueContext, tags: Record<string, string>): Result<{ tags: Record<string, string> }> {
  const kept = q.store.meta.stringMap("tags");
  for (const [key, value] of Object.entries(tags)) define(kept, key, value);
  if (Object.keys(kept).length > MAX_QUEUE_TAGS) {
    return {
      ok: false,
      error: { code: "VALIDATION_FAILED", message: `a queue may have at most ${MAX_QUEUE_TAGS} tags`, details: { field: "tags", limit: MAX_QUEUE_TAGS } },
    };
  }
  q.store.meta.saveStringMap("tags", kept);
  return { ok: true, value: { tags: kept } };
}

/** Removes tags by key (keys it does not have are ignored). */
export function untag(q: QueueContext, keys: readonly string[]): { tags: Record<string, string> } {
  const kept = q.store.meta.stringMap("tags");
  for (const key of keys) delete kept[key];
  q.store.meta.saveStringMap("tags", kept);
  return { tags: kept };
}

/** An own property even for a `__proto__` key. */
function define(target: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
