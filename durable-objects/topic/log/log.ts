/**
 * The partition's append-only log: offsets, publish (group-committed, commit.ts), read,
 * retention, compaction and dedup (maintenance.ts); its tables and SQL are in store.ts.
 * Other modules read it through `LogReader`; the object's RPC methods reach the rest
 * through `append`, `readRange` and the config calls (home.ts). Counters (next offset,
 * bytes) live in one meta row and in memory, so no path counts rows.
 */
import type { Env } from "../../env";
import type { Result } from "../../../protocol/errors";
import { sameStamp, type TopicInfo } from "../config";
import { type TopicConfig } from "../../../protocol/topics";
import { now } from "../../shared/clock";
import { GroupCommit, MAX_COMMIT_MESSAGES, prepareAppends } from "./commit";
import { commitDeadline, logDeadline, runMaintenance } from "./maintenance";
import type { AppendOutcome, AppendRequest } from "./schema";
import { LogStore, type LogState } from "./store";
import type { LogEntry, LogReader, PartitionHooks, PartitionModule } from "../types";

/** How a partition's config copy compares with the one a caller routed by. */
export type Verdict = "ok" | "stale" | "adopt" | "ask-home";

export class TopicLog implements PartitionModule, LogReader {
  /** The log's tables (public so tests can read figures through its functions). */
  readonly store: LogStore;
  private state: LogState | null = null;
  private firstCache: number | null = null;
  private readonly writer: GroupCommit<AppendRequest, Result<AppendOutcome>>;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly hooks: PartitionHooks,
  ) {
    this.store = new LogStore(ctx.storage.sql);
    this.writer = new GroupCommit((reqs) => this.commit(reqs), (r) => r.messages.length, MAX_COMMIT_MESSAGES);
  }

  // ---- PartitionModule ----

  migrate(): void {
    this.state = this.store.migrate();
    this.firstCache = null;
  }

  nextDeadline(): number | null {
    return this.state ? logDeadline(this.store, this.state, now()) : null;
  }

  async onAlarm(at: number): Promise<void> {
    const s = this.state;
    if (!s) return;
    if (runMaintenance(this.store, s, at, (fn) => this.ctx.storage.transactionSync(fn))) this.firstCache = null;
  }

  // ---- LogReader ----

  first(): number {
    if (!this.state) return 0;
    if (this.firstCache === null) this.firstCache = this.store.firstOffset() ?? this.state.next;
    return this.firstCache;
  }

  next(): number {
    return this.state?.next ?? 0;
  }

  read(from: number, limit: number): LogEntry[] {
    return this.store.read(from, limit, this.state?.partition ?? 0);
  }

  offsetAtTime(timestamp: number): number {
    return this.store.offsetAtTime(timestamp) ?? this.next();
  }

  exists(): boolean {
    return this.state !== null;
  }

  // ---- config copy ----

  /** This partition's view of the topic (authoritative on partition 0), or null. */
  info(): TopicInfo | null {
    const s = this.state;
    return s ? { name: s.topic, config: { ...s.config }, createdAt: s.createdAt, stamp: { ...s.stamp } } : null;
  }

  incarnation(): string | null {
    return this.state?.stamp.incarnation ?? null;
  }

  partitionIndex(): number | null {
    return this.state?.partition ?? null;
  }

  bytes(): number {
    return this.state?.bytes ?? 0;
  }

  config(): TopicConfig | null {
    return this.state ? { ...this.state.config } : null;
  }

  /** Compares the caller's config copy with this partition's. */
  judge(info: TopicInfo, partition: number): Verdict {
    const s = this.state;
    if (!s || s.stamp.incarnation !== info.stamp.incarnation || s.partition !== partition) {
      return partition === 0 ? "stale" : "ask-home";
    }
    if (info.stamp.version < s.stamp.version) return "stale";
    return info.stamp.version > s.stamp.version ? "adopt" : "ok";
  }

  /**
   * Takes `info` as this partition's config. A partition with no state starts an empty log
   * at offset 0; one that holds another incarnation must be wiped first.
   */
  async adopt(topic: string, partition: number, info: TopicInfo): Promise<void> {
    const s = this.state;
    if (s && sameStamp(s.stamp, info.stamp) && s.partition === partition) return;
    if (s && (s.stamp.incarnation !== info.stamp.incarnation || s.partition !== partition)) {
      throw new Error("adopt: the partition holds another incarnation; wipe the object first");
    }
    if (!s) {
      const fresh: LogState = {
        topic, partition, stamp: { ...info.stamp }, config: { ...info.config }, createdAt: info.createdAt,
        next: 0, bytes: 0, lastTs: 0, compactDue: null,
      };
      this.store.create(fresh);
      this.state = fresh;
      this.firstCache = null;
      return;
    }
    const turnedOnCompaction = info.config.compaction && !s.config.compaction;
    this.ctx.storage.transactionSync(() => {
      const due = turnedOnCompaction ? now() : s.compactDue;
      this.store.reconfigure(info.stamp.version, info.config, due, turnedOnCompaction);
      s.stamp = { ...info.stamp };
      s.config = { ...info.config };
      s.compactDue = due;
    });
    // Retention, byte limits or compaction may now be due sooner (or later).
    await this.hooks.scheduleAlarm();
  }

  // ---- publish and read ----

  /**
   * A read as the API answers it: from an offset (default: the first kept one) or from a
   * time, up to `limit` messages. A start below `first` begins at `first`; the answer
   * always carries `first`, so the caller sees what it missed. `next` is where to go on.
   */
  readRange(from: number | undefined, since: number | undefined, limit: number): Result<{ messages: LogEntry[]; first: number; next: number }> {
    const first = this.first();
    const end = this.next();
    const asked = since !== undefined ? this.offsetAtTime(since) : (from ?? first);
    if (asked > end) {
      return {
        ok: false,
        error: { code: "VALIDATION_FAILED", message: `from: offset ${asked} is past the end of the partition (next is ${end})`, details: { field: "from", next: end } },
      };
    }
    const messages = this.read(Math.max(asked, first), limit);
    const last = messages[messages.length - 1];
    return { ok: true, value: { messages, first, next: messages.length === limit && last ? last.offset + 1 : end } };
  }

  /** Appends one request's messages; resolved after the (shared) commit that holds them. */
  append(req: AppendRequest): Promise<Result<AppendOutcome>> {
    return this.writer.submit(req);
  }

  private async commit(requests: AppendRequest[]): Promise<Array<Result<AppendOutcome>>> {
    const s = this.state;
    if (!s) return requests.map(() => ({ ok: true, value: { stale: true } }));
    const at = now();
    const prepared = this.ctx.storage.transactionSync(() => {
      const p = prepareAppends(this.store, s, requests, at);
      this.store.append(p, at);
      return p;
    });
    // Committed: only now does memory follow the database.
    const wasEmpty = s.next === this.firstCache;
    Object.assign(s, prepared.state);
    if (wasEmpty && prepared.entries.length > 0) this.firstCache = null;
    if (prepared.entries.length > 0) {
      const deadline = commitDeadline(prepared.state, at);
      if (deadline !== null) await this.hooks.alarmBy(deadline);
      this.hooks.afterAppend(prepared.entries);
    }
    if (prepared.outcomes.some((o) => !o.ok && o.error.code === "TOPIC_FULL")) {
      // Full means the trim is behind; make sure its alarm is due now whatever happened to it.
      await this.hooks.alarmBy(at);
    }
    return prepared.outcomes;
  }
}
