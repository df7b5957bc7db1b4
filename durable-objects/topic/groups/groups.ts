/**
 * Consumer groups of a partition: positions, leases, acks, seek, dead-lettering.
 *
 * Members of a group compete: a poll leases each message to one member (one SQL
 * transaction, so two polls never hold the same message), an ack settles it for good, and
 * a lease that runs out makes the message ready again (the object's alarm does this). A
 * message whose lease ran out `maxDeliveries` times goes to the group's dead-letter queue
 * instead (dead-letters.ts). Partition 0 is a group's home: a group exists when partition 0
 * has it; other partitions create their copy with the home's config when first used. The
 * tables, their SQL and the message states are in store.ts.
 */
import type { Env } from "../../env";
import type { ErrorValue, Result } from "../../../protocol/errors";
import { now } from "../../shared/clock";
import { WakeList } from "../../shared/wake-list";
import { moveDeadLetters, type DeadLetterContext } from "./dead-letters";
import { quotaExceeded, quotaOf } from "../../catalog/quotas";
import {
  ackLease, clearGroups, committedOf, dueRows, earliestDeadline, forgetMessage, forgetMessages, groupCount, groupNames, inFlightCount,
  insertGroup, lease, leaseExpired, loadGroup, markDead, MessageState, migrateGroups, nackLease, saveConfig, saveCursor, select, tidy,
  type DueRow, type GroupRow,
} from "./store";
import {
  mergeGroupConfig, makeReceipt, newLease, parseReceipt,
  type GroupAckResult, type GroupConfig, type GroupConfigPatch, type GroupNackResult, type GroupPartitionStatus, type GroupSummary,
  type PollInput, type PolledMessage, type PollResult, type SeekTarget,
} from "./types";
import type { LogEntry, LogReader, PartitionHooks, PartitionModule, PartitionReporter } from "../types";

/** Leases ended (and dead letters moved) per alarm run; the rest waits for the next run. */
const EXPIRE_BATCH = 500;

export interface GroupCreated {
  name: string;
  config: GroupConfig;
  createdAt: number;
}

export class ConsumerGroups implements PartitionModule, PartitionReporter {
  /** Long polls waiting for something to deliver, per group (in memory: a poll dies with the instance). */
  private readonly waiters = new Map<string, WakeList>();

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly log: LogReader,
    private readonly hooks: PartitionHooks,
  ) {}

  private get sql(): SqlStorage {
    return this.ctx.storage.sql;
  }

  migrate(): void {
    migrateGroups(this.sql);
  }

  nextDeadline(): number | null {
    return earliestDeadline(this.sql);
  }

  /** Leases that ran out: ready again, or (past maxDeliveries) moved to the dead-letter queue. */
  async onAlarm(at: number): Promise<void> {
    const expired = this.ctx.storage.transactionSync(() => {
      const rows = dueRows(this.sql, at, EXPIRE_BATCH);
      const dead: DueRow[] = [];
      for (const r of rows) {
        const max = loadGroup(this.sql, r.grp)?.config.maxDeliveries ?? 0;
        if (r.state === MessageState.dead || (max > 0 && r.attempts >= max)) {
          markDead(this.sql, r.grp, r.offset);
          dead.push(r);
        } else {
          leaseExpired(this.sql, r.grp, r.offset);
        }
      }
      return { count: rows.length, dead };
    });
    const mover: DeadLetterContext = {
      env: this.env, sql: this.sql, log: this.log, transaction: (fn) => this.ctx.storage.transactionSync(fn),
    };
    for (const [grp, rows] of groupBy(expired.dead)) await moveDeadLetters(mover, grp, rows);
    if (expired.count > 0) this.wake(null);
  }

  /** New messages may satisfy any waiting poll. */
  onAppend(_entries: LogEntry[]): void {
    this.wake(null);
  }

  /** Creates the group here, or changes its config (`start` matters only at creation). */
  put(topic: string, name: string, patch: GroupConfigPatch, defaults: GroupConfig): Result<GroupCreated> {
    if (!this.log.exists()) return notFound("topic");
    return this.ctx.storage.transactionSync(() => {
      const g = loadGroup(this.sql, name);
      if (!g) {
        const created = this.create(topic, name, mergeGroupConfig(defaults, patch));
        if (!created.ok) return created;
        return ok({ name, config: created.value.config, createdAt: created.value.createdAt });
      }
      const config = mergeGroupConfig(g.config, patch);
      saveConfig(this.sql, name, config);
      return ok({ name, config, createdAt: g.createdAt });
    });
  }

  /** The group's config here, creating it with `createWith` when given and missing. */
  config(topic: string, name: string, createWith: GroupConfig | null): Result<GroupConfig> {
    if (!this.log.exists()) return notFound("topic");
    const g = loadGroup(this.sql, name);
    if (g) return ok(g.config);
    if (!createWith) return notFound("group");
    const created = this.create(topic, name, createWith);
    return created.ok ? ok(created.value.config) : created;
  }

  /** Leases up to `max` messages to the caller (`[]` when nothing is deliverable). */
  async poll(input: PollInput): Promise<Result<PollResult>> {
    if (!this.log.exists()) return notFound("topic");
    // A long poll that began on an earlier incarnation of the topic: its topic is gone.
    if (input.incarnation !== undefined && this.log.incarnation?.() !== input.incarnation) return ok({ messages: [], created: false, gone: true });
    const leasedAt = now();
    let leaseEnds = leasedAt;
    const result = this.ctx.storage.transactionSync((): Result<PollResult> => {
      const existing = loadGroup(this.sql, input.group);
      const made = existing ? ok(existing) : input.createWith ? this.create(input.topic, input.group, input.createWith) : notFound("group");
      if (!made.ok) return made;
      const g = made.value;
      tidy(this.sql, this.log, g);
      leaseEnds = leasedAt + (input.visibilityTimeout ?? g.config.visibilityTimeout) * 1000;
      const sel = select(this.sql, this.log, g, leasedAt, input.max);
      for (const offset of sel.vanished) forgetMessage(this.sql, g.name, offset);
      const out: PolledMessage[] = [];
      for (const { entry, attempts } of sel.picks) {
        const id = newLease();
        lease(this.sql, g.name, entry, id, attempts, leaseEnds);
        out.push({ ...entry, receipt: makeReceipt(entry.partition, entry.offset, id), attempts });
      }
      if (sel.cursor !== g.cursor) saveCursor(this.sql, g.name, sel.cursor);
      return ok({ messages: out, created: existing === null });
    });
    if (result.ok && result.value.messages.length > 0) await this.hooks.alarmBy(leaseEnds);
    return result;
  }

  /**
   * Resolves true as soon as the group has something to deliver here (at once if it has),
   * false after `ms`. The Worker's long poll races this across partitions, then polls.
   */
  async waitForWork(name: string, ms: number): Promise<boolean> {
    if (!this.log.exists()) return false;
    if (this.hasWork(name)) return true;
    let list = this.waiters.get(name);
    if (!list) this.waiters.set(name, (list = new WakeList()));
    return list.wait(ms);
  }

  /** Settles leased messages. A receipt that is not a live lease of this group fails. */
  ack(name: string, receipts: string[]): Result<GroupAckResult> {
    if (!this.log.exists()) return notFound("topic");
    const result = this.ctx.storage.transactionSync((): GroupAckResult => {
      const g = loadGroup(this.sql, name);
      const at = now();
      let acked = 0;
      const failed: GroupAckResult["failed"] = [];
      for (const receipt of receipts) {
        const r = parseReceipt(receipt);
        const done = g !== null && r !== null && ackLease(this.sql, name, r.offset, r.lease, at);
        if (done) acked++;
        else failed.push({ receipt, code: "RECEIPT_INVALID" });
      }
      if (g && acked > 0) tidy(this.sql, this.log, g);
      return { acked, failed };
    });
    // Under `ordered`, an ack frees its key for the next message.
    if (result.acked > 0) this.wake(name);
    return ok(result);
  }

  /**
   * Hands leased messages back: each lease ends `delayMs` from now (0: at once) as if it had
   * run out then. `attempted` false says the member never ran them, so these deliveries do
   * not count in `attempts`. A receipt that is not a live lease of this group fails.
   */
  async nack(name: string, receipts: string[], delayMs: number, attempted: boolean): Promise<Result<GroupNackResult>> {
    if (!this.log.exists()) return notFound("topic");
    const at = now();
    const until = at + delayMs;
    const result = this.ctx.storage.transactionSync((): GroupNackResult => {
      const g = loadGroup(this.sql, name);
      let nacked = 0;
      const failed: GroupNackResult["failed"] = [];
      for (const receipt of receipts) {
        const r = parseReceipt(receipt);
        const done = g !== null && r !== null && nackLease(this.sql, name, r.offset, r.lease, at, until, attempted);
        if (done) nacked++;
        else failed.push({ receipt, code: "RECEIPT_INVALID" });
      }
      return { nacked, failed };
    });
    if (result.nacked > 0) {
      // Due now: a waiting poll may take it at once; the alarm ends it (or dead-letters it) otherwise.
      await this.hooks.alarmBy(until);
      this.wake(name);
    }
    return ok(result);
  }

  /** Moves the group's position here; leases out are void (their acks fail). */
  seek(topic: string, name: string, partition: number, target: SeekTarget, createWith: GroupConfig | null): Result<GroupPartitionStatus> {
    if (!this.log.exists()) return notFound("topic");
    const result = this.ctx.storage.transactionSync((): Result<GroupPartitionStatus> => {
      const existing = loadGroup(this.sql, name);
      const made = existing ? ok(existing) : createWith ? this.create(topic, name, createWith) : notFound("group");
      if (!made.ok) return made;
      const g = made.value;
      const first = this.log.first();
      const next = this.log.next();
      let offset: number;
      if ("since" in target) offset = this.log.offsetAtTime(target.since);
      else if (target.to === "earliest") offset = first;
      else if (target.to === "latest") offset = next;
      else offset = target.to;
      g.cursor = Math.min(Math.max(offset, first), next);
      forgetMessages(this.sql, name);
      saveCursor(this.sql, name, g.cursor);
      return ok(this.statusOf(g, partition));
    });
    if (result.ok) this.wake(name);
    return result;
  }

  /**
   * Where the group stands here. A partition that has not yet made its copy answers as the
   * copy would start (`fallback`, the home's config); null when the group is unknown.
   */
  status(name: string, partition: number, fallback: GroupConfig | null): Result<GroupPartitionStatus | null> {
    if (!this.log.exists()) return notFound("topic");
    const g = loadGroup(this.sql, name);
    if (g) return ok(this.statusOf(g, partition));
    if (!fallback) return ok(null);
    const committed = fallback.start === "latest" ? this.log.next() : this.log.first();
    return ok({ partition, committed, lag: this.log.next() - committed, inFlight: 0 });
  }

  /** Every group here with its position (for `GET /v1/topics/{t}`). */
  list(partition: number): GroupSummary[] {
    if (!this.log.exists()) return [];
    return groupNames(this.sql).flatMap((name) => {
      const g = loadGroup(this.sql, name);
      return g ? [{ name, ...this.statusOf(g, partition) }] : [];
    });
  }

  /** Each group's lag here (PartitionReporter, for `GET /v1/topics/{t}`). */
  groupLags(): Array<{ name: string; lag: number }> {
    return this.list(0).map((g) => ({ name: g.name, lag: g.lag }));
  }

  /** Forgets every group (the topic was deleted). */
  clear(): void {
    clearGroups(this.sql);
    this.wake(null);
  }

  private statusOf(g: GroupRow, partition: number): GroupPartitionStatus {
    const committed = committedOf(this.sql, this.log, g);
    return { partition, committed, lag: Math.max(0, this.log.next() - committed), inFlight: inFlightCount(this.sql, g.name, now()) };
  }

  /**
   * Creates the group here, unless the topic already has as many groups as
   * `SPOOL_MAX_GROUPS_PER_TOPIC` allows: QUOTA_EXCEEDED, nothing created. The home (partition
   * 0) decides, in the transaction that creates the group there; every other partition holds
   * a subset of the home's groups, so its copy of a group the home has always fits.
   */
  private create(topic: string, name: string, config: GroupConfig): Result<GroupRow> {
    const limit = quotaOf(this.env, "groupsPerTopic");
    if (groupCount(this.sql) >= limit) return { ok: false, error: quotaExceeded("groupsPerTopic", limit) };
    const g: GroupRow = {
      name, topic, config, createdAt: now(),
      cursor: config.start === "latest" ? this.log.next() : this.log.first(),
    };
    insertGroup(this.sql, g);
    return ok(g);
  }

  private hasWork(name: string): boolean {
    const g = loadGroup(this.sql, name);
    // Not created here yet: a first poll would start it, so any kept message may be work.
    if (!g) return this.log.first() < this.log.next();
    return select(this.sql, this.log, g, now(), 1).picks.length > 0;
  }

  /** Wakes the long polls of one group, or of all groups (null). */
  private wake(name: string | null): void {
    if (name === null) for (const list of this.waiters.values()) list.wake();
    else this.waiters.get(name)?.wake();
  }
}

function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

function notFound(what: "topic" | "group"): { ok: false; error: ErrorValue } {
  return { ok: false, error: { code: "NOT_FOUND", message: `${what} not found`, details: { missing: what } } };
}

function groupBy<T extends { grp: string }>(rows: T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const list = out.get(r.grp);
    if (list) list.push(r);
    else out.set(r.grp, [r]);
  }
  return out;
}
