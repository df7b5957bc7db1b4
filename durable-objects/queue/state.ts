/**
 * Reading a queue's state (stats, peek) and the housekeeping its alarm does besides leases
 * (leases.ts `applyDue`): dedup records whose window ended (dedup.ts), move keys no retry
 * can need any more (dead-letters.ts), and messages past `retention`.
 */
import type { QueueContext } from "./context";
import { expireDedupRecords } from "./dedup";
import { expireMoveKeys } from "./dead-letters";
import { publicMessage } from "./leases";
import type { PeekedMessage, QueueStats } from "../../protocol/queues";

/** Messages the alarm deletes for retention per run; leftovers keep the next deadline in the past. */
const RETENTION_BATCH = 1000;

export function stats(q: QueueContext, consumers: number): QueueStats {
  return q.store.stats(q.now, consumers);
}

/** The first `limit` messages in seq order with their state; no lease taken. */
export function peek(q: QueueContext, limit: number): PeekedMessage[] {
  return q.store.peek(limit, q.now).map(({ row, state }) => ({ ...publicMessage(row), state }));
}

/** Everything the alarm expires besides leases and delays (bounded per run). */
export function expireOld(q: QueueContext): void {
  expireDedupRecords(q);
  expireMoveKeys(q);
  q.store.enforceRetention(q.now - q.config.retention * 1000, RETENTION_BATCH);
}
