/**
 * The log's write path: group commit and the append transaction.
 *
 * Publishes that reach a partition within the same turn of the event loop are queued and
 * written together in one `transactionSync`, so many concurrent single-message publishers
 * share one durable commit instead of paying one each; every caller is answered after
 * the commit that holds its messages. Each request in a commit is still judged on its
 * own (stale config, partition full, a module's admission check): a rejected request
 * writes nothing, the others go on.
 * Inserts are set-based (`json_each` over one bound array, store.ts `append`), so a
 * 1,000-message batch is a handful of statements, and dedup is one indexed lookup for the
 * whole commit (only for producer-chosen ids: a server-assigned id cannot have been seen before).
 */
import type { ErrorValue, Result } from "../../../protocol/errors";
import { MAX_PARTITION_DEDUP_RECORDS } from "../../../protocol/limits";
import { sameStamp } from "../config";
import { AppendedEntry } from "./entry";
import type { AppendOutcome, AppendRequest, AppendedMessage } from "./schema";
import type { AppendBatch, LogState, LogStore } from "./store";
import type { LogEntry } from "../types";

/** Most messages one commit takes; a fuller queue is flushed at once. */
export const MAX_COMMIT_MESSAGES = 5000;

/** Queues requests and hands them to `commit` in batches, one batch at a time. */
export class GroupCommit<Req, Res> {
  private pending: Array<{ req: Req; resolve: (r: Res) => void; reject: (e: unknown) => void }> = [];
  private weight = 0;
  private scheduled = false;

  constructor(
    private readonly commit: (reqs: Req[]) => Promise<Res[]>,
    private readonly weigh: (req: Req) => number,
    private readonly maxWeight: number,
  ) {}

  submit(req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.pending.push({ req, resolve, reject });
      this.weight += this.weigh(req);
      if (this.weight >= this.maxWeight) {
        void this.flush();
      } else if (!this.scheduled) {
        this.scheduled = true;
        // A zero timer lets every request already waiting at the object's door join in.
        setTimeout(() => void this.flush(), 0);
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    this.weight = 0;
    if (batch.length === 0) return;
    try {
      const results = await this.commit(batch.map((p) => p.req));
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }
}

/** A commit decided: each request's answer, the entries to announce, and what to write (store.append). */
export interface Prepared extends AppendBatch {
  outcomes: Array<Result<AppendOutcome>>;
  entries: LogEntry[];
}

/**
 * Decides every request of a commit against `state` and the dedup table, without writing.
 * Returns the rows to insert and the state after them.
 */
export function prepareAppends(store: LogStore, state: LogState, requests: AppendRequest[], now: number): Prepared {
  const next: LogState = { ...state };
  const ts = Math.max(now, state.lastTs);
  const window = state.config.deduplicationWindow;
  const ids = window > 0 ? producerIds(requests) : [];
  const known = window > 0 ? store.knownIds(ids, now) : new Map<string, number>();
  const out: Prepared = { outcomes: [], entries: [], rows: [], firstOffset: state.next, ts, dedup: [], compactKeys: [], state: next };
  // Dedup records are bounded (API.md, Conventions → Quotas); read the count only when needed.
  let dedupRoom = ids.length > 0 ? MAX_PARTITION_DEDUP_RECORDS - store.dedupCount() : Infinity;
  for (const req of requests) {
    if (!sameStamp(req.info.stamp, state.stamp) || req.partition !== state.partition) {
      out.outcomes.push({ ok: true, value: { stale: true } });
      continue;
    }
    const incoming = req.messages.reduce((n, m) => n + m.size, 0);
    const full = fullError(next, incoming);
    if (full) {
      out.outcomes.push({ ok: false, error: full });
      continue;
    }
    // A module's admission check (schema.ts, AppendAdmission), in this same transaction.
    const admission = req.admit?.(next.next) ?? "write";
    if (admission !== "write") {
      out.outcomes.push(admission === "skip" ? { ok: true, value: { stale: false, messages: [] } } : { ok: false, error: admission });
      continue;
    }
    const records = window > 0 ? newDedupRecords(req, known) : 0;
    if (records > dedupRoom) {
      out.outcomes.push({ ok: false, error: dedupFullError(state.partition, store, now) });
      continue;
    }
    dedupRoom -= records;
    const answers: AppendedMessage[] = [];
    for (const m of req.messages) {
      const deduped = window > 0 && m.assigned !== true;
      const original = deduped ? known.get(m.id) : undefined;
      if (original !== undefined) {
        answers.push({ offset: original, duplicate: true });
        continue;
      }
      const offset = next.next++;
      next.bytes += m.size;
      out.rows.push([m.id, m.key, m.body, m.headers, m.size]);
      // Body and headers stay JSON text until a module reads them (entry.ts).
      out.entries.push(new AppendedEntry(state.partition, offset, m.id, m.key, m.body, m.headers, ts));
      if (deduped) {
        known.set(m.id, offset);
        out.dedup.push([m.id, offset]);
      }
      if (state.config.compaction && m.key !== null) out.compactKeys.push(m.key);
      answers.push({ offset, duplicate: false });
    }
    out.outcomes.push({ ok: true, value: { stale: false, messages: answers } });
  }
  if (out.rows.length > 0) next.lastTs = ts;
  if (out.compactKeys.length > 0 && next.compactDue === null) next.compactDue = ts + COMPACTION_DELAY_MS;
  return out;
}

/** How long after a superseding write compaction runs: batches the work, far inside 10 s. */
export const COMPACTION_DELAY_MS = 1000;

/**
 * Byte retention trims by alarm, so stored bytes may run ahead of `retentionBytes` for a
 * moment. A partition refuses writes only when it already holds more than its limit (the
 * trim has not caught up) and the write would take it past twice the limit.
 */
function fullError(state: LogState, incoming: number): ErrorValue | null {
  const limit = state.config.retentionBytes;
  if (state.bytes <= limit || state.bytes + incoming <= 2 * limit) return null;
  return {
    code: "TOPIC_FULL",
    message: `partition ${state.partition} is full (${state.bytes} bytes stored, retentionBytes ${limit}); retry shortly`,
    details: { partition: state.partition, bytes: state.bytes, retentionBytes: limit },
    retryAfter: 1,
  };
}

/** Dedup records a request would add: its producer-chosen ids not seen yet (each once). */
function newDedupRecords(req: AppendRequest, known: Map<string, number>): number {
  const ids = new Set<string>();
  for (const m of req.messages) if (m.assigned !== true && !known.has(m.id)) ids.add(m.id);
  return ids.size;
}

/**
 * A partition keeps at most MAX_PARTITION_DEDUP_RECORDS dedup records; past that, writes
 * with new ids wait (`Retry-After`) until the first records expire.
 */
function dedupFullError(partition: number, store: LogStore, now: number): ErrorValue {
  const first = store.earliestDedupExpiry() ?? now;
  return {
    code: "TOPIC_FULL",
    message: `partition ${partition} keeps ${MAX_PARTITION_DEDUP_RECORDS} dedup records, the most allowed; new ids are refused until records expire`,
    details: { partition, maxDedupRecords: MAX_PARTITION_DEDUP_RECORDS },
    retryAfter: Math.max(1, Math.ceil((first - now) / 1000)),
  };
}

/** The ids a commit must check for duplicates: a server-assigned id is new by construction. */
function producerIds(requests: AppendRequest[]): string[] {
  const ids: string[] = [];
  for (const r of requests) for (const m of r.messages) if (m.assigned !== true) ids.push(m.id);
  return ids;
}
