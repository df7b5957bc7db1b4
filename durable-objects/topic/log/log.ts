/**
 * The partition's append-only log: offsets, publish (group-committed), read, retention,
 * compaction and dedup. Other modules read it through `LogReader`; the object's RPC
 * methods reach the rest through `append`, `readRange`, `stats` and the config calls.
 * Counters (next offset, bytes) live in one meta row and in memory, so no path counts rows.
 */
import type { Env } from "../../env";
import type { Result } from "../../../protocol/errors";
import { sameStamp, type TopicInfo } from "../config";
import { type TopicConfig } from "../../../protocol/topics";
import { migrate } from "../../shared/sql";
import type { PartitionHooks } from "../object";
import { GroupCommit, MAX_COMMIT_MESSAGES, prepareAppends, writeAppends, type LogState } from "./commit";
import {
  compactKeys, expireByTime, expireDedup, logDeadline, MAX_ROWS_PER_ALARM, trimToBytes, type Freed,
} from "./maintenance";
import { LOG_MIGRATIONS, type AppendOutcome, type AppendRequest, type EntryRow, type MetaRow } from "./schema";
import type { LogEntry, LogReader, PartitionModule } from "../types";

/** How a partition's config copy compares with the one a caller routed by. */
export type Verdict = "ok" | "stale" | "adopt" | "ask-home";

export class TopicLog implements PartitionModule, LogReader {
  private state: LogState | null = null;
  private firstCache: number | null = null;
  /** The log deadline last handed to the object's alarm (null: none or unknown). */
  private armed: number | null = null;
  private readonly writer: GroupCommit<AppendRequest, Result<AppendOutcome>>;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly hooks: PartitionHooks,
  ) {
    this.writer = new GroupCommit((reqs) => this.commit(reqs), (r) => r.messages.length, MAX_COMMIT_MESSAGES);
  }

  private get sql(): SqlStorage {
    return this.ctx.storage.sql;
  }

  // ---- PartitionModule ----

  migrate(): void {
    migrate(this.sql, LOG_MIGRATIONS, "topic-log");
    const row = this.sql.exec<MetaRow>("SELECT * FROM log_meta WHERE id = 0").toArray()[0];
    this.state = row ? toState(row) : null;
    this.firstCache = null;
    this.armed = null;
  }

  nextDeadline(): number | null {
    return this.state ? logDeadline(this.sql, this.state, Date.now()) : null;
  }

  async onAlarm(now: number): Promise<void> {
    const s = this.state;
    if (!s) return;
    let budget = MAX_ROWS_PER_ALARM;
    const run = (step: (st: LogState) => Freed & { more?: boolean }): boolean => {
      const freed = this.ctx.storage.transactionSync(() => {
        const f = step(s);
        if (f.rows > 0) this.saveCounters({ bytes: s.bytes - f.bytes });
        return f;
      });
      if (freed.rows > 0) {
        s.bytes -= freed.bytes;
        this.firstCache = null;
      }
      budget -= freed.rows;
      return budget > 0 && (freed.rows > 0 || freed.more === true);
    };
    while (run((st) => expireByTime(this.sql, st, now)));
    while (run((st) => trimToBytes(this.sql, st)));
    if (s.compactDue !== null) {
      let more = true;
      while (more && budget > 0) {
        const r = this.ctx.storage.transactionSync(() => {
          const f = compactKeys(this.sql);
          s.compactDue = f.more ? now : null;
          this.saveCounters({ bytes: s.bytes - f.bytes, compactDue: s.compactDue });
          return f;
        });
        s.bytes -= r.bytes;
        if (r.rows > 0) this.firstCache = null;
        budget -= Math.max(1, r.rows);
        more = r.more;
      }
    }
    while (budget > 0) {
      const n = expireDedup(this.sql, now);
      budget -= n;
      if (n === 0) break;
    }
    this.armed = this.nextDeadline();
  }

  // ---- LogReader ----

  first(): number {
    if (!this.state) return 0;
    if (this.firstCache === null) {
      const row = this.sql.exec<{ offset: number }>("SELECT offset FROM log_entries ORDER BY offset LIMIT 1").toArray()[0];
      this.firstCache = row ? row.offset : this.state.next;
    }
    return this.firstCache;
  }

  next(): number {
    return this.state?.next ?? 0;
  }

  read(from: number, limit: number): LogEntry[] {
    const partition = this.state?.partition ?? 0;
    return this.sql
      .exec<EntryRow>(
        "SELECT offset, id, key, body, headers, ts FROM log_entries WHERE offset >= ? ORDER BY offset LIMIT ?",
        from, limit,
      )
      .toArray()
      .map((r) => ({
        partition, offset: r.offset, id: r.id, key: r.key, body: JSON.parse(r.body) as unknown,
        headers: r.headers ? (JSON.parse(r.headers) as Record<string, string>) : {}, timestamp: r.ts,
      }));
  }

  offsetAtTime(timestamp: number): number {
    const row = this.sql
      .exec<{ offset: number }>("SELECT offset FROM log_entries WHERE ts >= ? ORDER BY ts LIMIT 1", timestamp)
      .toArray()[0];
    return row ? row.offset : this.next();
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
    const now = Date.now();
    if (s && (s.stamp.incarnation !== info.stamp.incarnation || s.partition !== partition)) {
      throw new Error("adopt: the partition holds another incarnation; wipe the object first");
    }
    if (!s) {
      const fresh: LogState = {
        topic, partition, stamp: { ...info.stamp }, config: { ...info.config }, createdAt: info.createdAt,
        next: 0, bytes: 0, lastTs: 0, compactDue: null,
      };
      this.sql.exec(
        `INSERT OR REPLACE INTO log_meta (id, topic, partition, incarnation, version, config, created_at, next_offset, bytes, last_ts, compact_due)
         VALUES (0, ?, ?, ?, ?, ?, ?, 0, 0, 0, NULL)`,
        topic, partition, info.stamp.incarnation, info.stamp.version, JSON.stringify(info.config), info.createdAt,
      );
      this.state = fresh;
      this.firstCache = null;
      return;
    }
    const turnedOnCompaction = info.config.compaction && !s.config.compaction;
    this.ctx.storage.transactionSync(() => {
      if (turnedOnCompaction) {
        this.sql.exec("INSERT OR IGNORE INTO log_compact (key) SELECT DISTINCT key FROM log_entries WHERE key IS NOT NULL");
      }
      const due = turnedOnCompaction ? now : s.compactDue;
      this.sql.exec(
        "UPDATE log_meta SET version = ?, config = ?, compact_due = ? WHERE id = 0",
        info.stamp.version, JSON.stringify(info.config), due,
      );
      s.stamp = { ...info.stamp };
      s.config = { ...info.config };
      s.compactDue = due;
    });
    // Retention, byte limits or compaction may now be due sooner.
    this.armed = null;
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
    const now = Date.now();
    const prepared = this.ctx.storage.transactionSync(() => {
      const p = prepareAppends(this.sql, s, requests, now);
      writeAppends(this.sql, p, now);
      return p;
    });
    // Committed: only now does memory follow the database.
    const wasEmpty = s.next === this.firstCache;
    Object.assign(s, prepared.state);
    if (wasEmpty && prepared.entries.length > 0) this.firstCache = null;
    if (prepared.entries.length > 0) {
      await this.armFor(prepared.state, now);
      this.hooks.afterAppend(prepared.entries);
    }
    if (prepared.outcomes.some((o) => !o.ok && o.error.code === "TOPIC_FULL")) {
      // Full means the trim is behind; make sure its alarm is set whatever happened to it.
      this.armed = null;
      await this.hooks.scheduleAlarm();
    }
    return prepared.outcomes;
  }

  /** Re-arms the alarm only when this commit brought a log deadline earlier than the armed one. */
  private async armFor(s: LogState, now: number): Promise<void> {
    let candidate: number | null = null;
    const consider = (t: number): void => {
      if (candidate === null || t < candidate) candidate = t;
    };
    if (s.bytes > s.config.retentionBytes) consider(now);
    if (s.compactDue !== null) consider(s.compactDue);
    if (s.config.retention > 0) consider(now + s.config.retention * 1000);
    if (s.config.deduplicationWindow > 0) consider(now + s.config.deduplicationWindow * 1000);
    if (candidate === null || (this.armed !== null && this.armed <= candidate)) return;
    this.armed = candidate;
    await this.hooks.scheduleAlarm();
  }

  private saveCounters(change: { bytes: number; compactDue?: number | null }): void {
    if (change.compactDue === undefined) this.sql.exec("UPDATE log_meta SET bytes = ? WHERE id = 0", change.bytes);
    else this.sql.exec("UPDATE log_meta SET bytes = ?, compact_due = ? WHERE id = 0", change.bytes, change.compactDue);
  }
}

function toState(row: MetaRow): LogState {
  return {
    topic: row.topic, partition: row.partition, stamp: { incarnation: row.incarnation, version: row.version },
    config: JSON.parse(row.config) as TopicConfig, createdAt: row.created_at, next: row.next_offset, bytes: row.bytes,
    lastTs: row.last_ts, compactDue: row.compact_due,
  };
}
