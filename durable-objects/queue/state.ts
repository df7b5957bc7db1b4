/**
 * Reading a queue's state (stats, peek), the deadlines its one alarm must cover, and the
 * housekeeping the alarm does besides leases: dedup and move-key expiry, and retention.
 */
import { publicMessage, type QueueContext } from "./leases";
import { DELAYED, INFLIGHT, VISIBLE, type MessageRow, type QueueStore } from "./store";
import type { PeekedMessage, PeekState, QueueConfig, QueueStats } from "../../protocol/queues";

/** Rows each alarm expires per kind; leftovers make the next deadline "now". */
const EXPIRE_BATCH = 1000;

export function stats(q: QueueContext, consumers: number): QueueStats {
  const c = q.store.counters();
  const oldest = q.store.oldest();
  return {
    visible: q.store.countState(VISIBLE),
    inFlight: q.store.countState(INFLIGHT),
    delayed: q.store.countState(DELAYED),
    messages: c.messages ?? 0,
    bytes: c.bytes ?? 0,
    oldestAgeMs: oldest ? Math.max(0, q.now - oldest.sent_at) : 0,
    consumers,
    sent: c.sent ?? 0,
    received: c.received ?? 0,
    acked: c.acked ?? 0,
    deadLettered: c.deadLettered ?? 0,
    duplicates: c.duplicates ?? 0,
  };
}

function peekState(row: MessageRow, now: number): PeekState {
  if (row.state === INFLIGHT) return "inFlight";
  if (row.state === DELAYED && row.due_at > now) return "delayed";
  return "visible";
}

export function peek(q: QueueContext, limit: number): PeekedMessage[] {
  return q.store.sql
    .exec<MessageRow>("SELECT * FROM messages ORDER BY seq LIMIT ?", limit)
    .toArray()
    .map((row) => ({ ...publicMessage(row), state: peekState(row, q.now) }));
}

/** When the oldest message passes `retention`, or null. Seq order is send order, so the oldest is the lowest seq. */
function retentionDeadline(store: QueueStore, config: QueueConfig): number | null {
  const oldest = store.oldest();
  return oldest ? oldest.sent_at + config.retention * 1000 : null;
}

/** Meta key holding when to (re)try registering the queue in the Catalog; absent once registered. */
export const CATALOG_RETRY_KEY = "catalog_register_at";

function catalogRetry(store: QueueStore): number | null {
  const at = store.getMeta(CATALOG_RETRY_KEY);
  return at === null ? null : Number(at);
}

/** The earliest time anything in this queue is due, or null (no alarm needed). */
export function nextDeadline(store: QueueStore, config: QueueConfig | null): number | null {
  const candidates = [
    store.earliestDue(DELAYED),
    store.earliestDue(INFLIGHT),
    store.earliest("dedup", "expires_at"),
    store.earliest("moves", "expires_at"),
    store.earliest("outbox", "next_at"),
    config ? retentionDeadline(store, config) : null,
    catalogRetry(store),
  ].filter((t): t is number => t !== null);
  return candidates.length ? Math.min(...candidates) : null;
}

/** Expires dedup records and move keys, and deletes messages past retention (bounded per call). */
export function expireOld(q: QueueContext): void {
  q.store.expire("dedup", q.now, EXPIRE_BATCH);
  q.store.expire("moves", q.now, EXPIRE_BATCH);
  const cutoff = q.now - q.config.retention * 1000;
  if ((q.store.oldest()?.sent_at ?? Infinity) > cutoff) return;
  const rows = q.store.sql
    .exec<Pick<MessageRow, "seq" | "bytes" | "grp" | "sent_at">>("SELECT seq, bytes, grp, sent_at FROM messages ORDER BY seq LIMIT ?", EXPIRE_BATCH)
    .toArray();
  for (const row of rows) {
    if (row.sent_at > cutoff) break;
    q.store.remove(row);
  }
}
