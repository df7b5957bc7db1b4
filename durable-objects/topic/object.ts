/**
 * TopicPartition: one Durable Object per topic partition (named "<topic>#<p>").
 *
 * The object is a composition of modules, each with its own tables and its share of the
 * single alarm:
 *   log        (topic-log.ts)     the append-only log: publish, read, retention, compaction
 *   live       (topic-live.ts)    WebSocket and SSE subscribers
 *   groups     (topic-groups.ts)  consumer groups: positions, leases, acks
 *   forwarder  (topic-forward.ts) subscriptions forwarding into queues and webhooks
 * Public methods here are the RPC API; each delegates to one module and is one SQL
 * transaction.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { ConsumerGroups } from "./groups/groups";
import { Forwarder } from "./forward/forwarder";
import { LiveSubscribers } from "./live/live";
import { TopicLog } from "./log/log";
import { configureTopic, describeTopic, destroyTopic, reconcile, type PartitionContext } from "./log/home";
import type { AppendOutcome, AppendRequest, ReadOutcome, ReadRequest, StatsOutcome } from "./log/schema";
import type { TopicConfigPatch } from "../../protocol/topics";
import type { TopicInfo } from "./config";
import { CloseCodes } from "../shared/socket-limits";
import type { LogEntry, PartitionModule, PartitionReporter } from "./types";
import type { PartitionSubscription, PutSubscriptionInput, StoredSubscription } from "./forward/types";
import type { ErrorValue, Result } from "../../protocol/errors";
import type { GroupCreated } from "./groups/groups";
import type {
  GroupAckResult, GroupConfig, GroupConfigPatch, GroupPartitionStatus, PollInput, PollResult, SeekTarget,
} from "./groups/types";

export class TopicPartition extends DurableObject<Env> {
  readonly log: TopicLog;
  readonly live: LiveSubscribers;
  readonly groups: ConsumerGroups;
  readonly forwarder: Forwarder;
  private readonly modules: PartitionModule[];

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const hooks = { afterAppend: (entries: LogEntry[]) => this.afterAppend(entries), scheduleAlarm: () => this.scheduleAlarm() };
    this.log = new TopicLog(ctx, env, hooks);
    this.live = new LiveSubscribers(ctx, env, this.log, hooks);
    this.groups = new ConsumerGroups(ctx, env, this.log, hooks);
    this.forwarder = new Forwarder(ctx, env, this.log, hooks);
    this.modules = [this.log, this.live, this.groups, this.forwarder];
    ctx.blockConcurrencyWhile(async () => {
      for (const m of this.modules) m.migrate();
    });
  }

  // ---- RPC: the log (topics part 1) ----
  // Every call carries the caller's copy of the topic config (TopicInfo); see
  // topic-log-home.ts for how partitions agree on it.

  /** Home only: the topic's authoritative config, or null. */
  describeTopic(): TopicInfo | null {
    return describeTopic(this.logContext());
  }

  /** Home only: create or change the topic (`put`), or create it if missing (`ensure`). */
  async configureTopic(topic: string, patch: TopicConfigPatch, mode: "put" | "ensure"): Promise<Result<TopicInfo>> {
    return configureTopic(this.logContext(), topic, patch, mode);
  }

  /** Takes the home's config (growth, config changes); false if this partition knows a newer one. */
  async adoptTopic(topic: string, partition: number, info: TopicInfo): Promise<boolean> {
    return reconcile(this.logContext(), topic, partition, info);
  }

  /** Home only: deletes the topic in every partition. */
  async destroyTopic(topic: string): Promise<Result<null>> {
    return destroyTopic(this.logContext(), topic);
  }

  /** Deletes this partition's state (called by the home when the topic is deleted). */
  async destroyPartition(): Promise<void> {
    if (this.log.exists()) await this.wipeObject();
  }

  /** Appends one publish's messages for this partition, written whole or not at all. */
  async publish(req: AppendRequest): Promise<Result<AppendOutcome>> {
    if (!(await reconcile(this.logContext(), req.topic, req.partition, req.info))) return { ok: true, value: { stale: true } };
    return this.log.append(req);
  }

  /** Reads from an offset or a time (GET /v1/topics/{t}/messages). */
  async readLog(req: ReadRequest): Promise<Result<ReadOutcome>> {
    if (!(await reconcile(this.logContext(), req.topic, req.partition, req.info))) return { ok: true, value: { stale: true } };
    const r = this.log.readRange(req.from, req.since, req.limit);
    return r.ok ? { ok: true, value: { stale: false, ...r.value } } : r;
  }

  /** This partition's line in GET /v1/topics/{t}. */
  async partitionStats(topic: string, partition: number, info: TopicInfo): Promise<StatsOutcome> {
    if (!(await reconcile(this.logContext(), topic, partition, info))) return { stale: true };
    // The live and groups modules report through PartitionReporter.
    const live: PartitionReporter = this.live;
    const groups: PartitionReporter = this.groups;
    return {
      stale: false,
      partition,
      first: this.log.first(),
      next: this.log.next(),
      bytes: this.log.bytes(),
      subscribers: live.subscriberCount?.() ?? 0,
      groups: groups.groupLags?.() ?? [],
    };
  }

  private logContext(): PartitionContext {
    return {
      env: this.env,
      log: this.log,
      wipe: () => this.wipeObject(),
      exclusive: (fn) => this.ctx.blockConcurrencyWhile(fn),
    };
  }

  /** Deletes everything this object stores, for every module, and closes its sockets. */
  private async wipeObject(): Promise<void> {
    this.live.reset();
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.close(CloseCodes.GONE, "topic deleted");
      } catch {
        // already closing
      }
    }
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    for (const m of this.modules) m.migrate();
  }

  // ---- RPC: consumer groups (topics part 2) ----
  // Thin delegations to ConsumerGroups. Each carries the caller's TopicInfo like the log's
  // calls; a stale copy answers CONFLICT with `details.stale` and the Worker repeats.

  async putGroup(info: TopicInfo, partition: number, name: string, patch: GroupConfigPatch, defaults: GroupConfig): Promise<Result<GroupCreated>> {
    return (await this.staleFor(info, partition)) ?? this.groups.put(info.name, name, patch, defaults);
  }

  async groupConfig(info: TopicInfo, partition: number, name: string, createWith: GroupConfig | null): Promise<Result<GroupConfig>> {
    return (await this.staleFor(info, partition)) ?? this.groups.config(info.name, name, createWith);
  }

  async pollGroup(info: TopicInfo, partition: number, input: PollInput): Promise<Result<PollResult>> {
    return (await this.staleFor(info, partition)) ?? this.groups.poll(input);
  }

  /** Long-poll helper: true once the group has something to deliver here, false after `ms`. */
  async waitForGroupWork(name: string, ms: number): Promise<boolean> {
    return this.groups.waitForWork(name, ms);
  }

  async ackGroup(info: TopicInfo, partition: number, name: string, receipts: string[]): Promise<Result<GroupAckResult>> {
    return (await this.staleFor(info, partition)) ?? this.groups.ack(name, receipts);
  }

  async seekGroup(info: TopicInfo, partition: number, name: string, target: SeekTarget, createWith: GroupConfig | null): Promise<Result<GroupPartitionStatus>> {
    return (await this.staleFor(info, partition)) ?? this.groups.seek(info.name, name, partition, target, createWith);
  }

  async groupStatus(info: TopicInfo, partition: number, name: string, fallback: GroupConfig | null): Promise<Result<GroupPartitionStatus | null>> {
    return (await this.staleFor(info, partition)) ?? this.groups.status(name, partition, fallback);
  }

  private async staleFor(info: TopicInfo, partition: number): Promise<{ ok: false; error: ErrorValue } | null> {
    if (await reconcile(this.logContext(), info.name, partition, info)) return null;
    return { ok: false, error: { code: "CONFLICT", message: "the topic's config changed during the request; repeat it", details: { stale: true } } };
  }

  // ---- RPC: subscriptions (fan-out) ----

  /** Creates or updates subscription `input.name` in this partition (the Worker calls every partition). */
  async putSubscription(input: PutSubscriptionInput, info: TopicInfo): Promise<Result<PartitionSubscription>> {
    if (!(await reconcile(this.logContext(), info.name, input.partition, info))) {
      return { ok: false, error: { code: "CONFLICT", message: "the topic's config changed during the request; repeat it" } };
    }
    const result = this.forwarder.put(input);
    await this.scheduleAlarm();
    return result;
  }

  getSubscription(name: string): Result<PartitionSubscription> {
    return this.forwarder.get(name);
  }

  /** Removes the subscription here; forwarding stops at once (an in-flight webhook call is aborted). */
  async deleteSubscription(name: string): Promise<Result<{ deleted: boolean }>> {
    const result = this.forwarder.delete(name);
    await this.scheduleAlarm();
    return result;
  }

  /** Internal: the stored webhook secret, so a PUT without `secret` keeps it in every partition. */
  subscriptionSecret(name: string): string | null {
    return this.forwarder.secret(name);
  }

  /** Internal: every subscription here, to copy into partitions added when the topic grows. */
  subscriptionConfigs(): StoredSubscription[] {
    return this.forwarder.configs();
  }

  /** WebSocket (`/subscribe`) and SSE (`/events`) requests forwarded by the Worker. */
  override async fetch(request: Request): Promise<Response> {
    return this.live.fetch(request);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.live.onMessage(ws, message);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    await this.live.onClose(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.live.onClose(ws, 1011, "error");
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    try {
      for (const m of this.modules) await m.onAlarm(now);
    } finally {
      await this.scheduleAlarm();
    }
  }

  /** Sets the one alarm to the earliest deadline any module has, or clears it. */
  async scheduleAlarm(): Promise<void> {
    let earliest: number | null = null;
    for (const m of this.modules) {
      const d = m.nextDeadline();
      if (d !== null && (earliest === null || d < earliest)) earliest = d;
    }
    if (earliest === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(earliest);
  }

  /** Called by the log after an append committed; never awaits slow consumers. */
  private afterAppend(entries: LogEntry[]): void {
    this.live.onAppend(entries);
    this.groups.onAppend(entries);
    this.forwarder.onAppend(entries);
  }
}

/** Callbacks a module may use on its object. */
export interface PartitionHooks {
  afterAppend(entries: LogEntry[]): void;
  scheduleAlarm(): Promise<void>;
}
