/**
 * TopicPartition: one Durable Object per topic partition (named "<topic>#<p>").
 *
 * The object is a composition of modules, each with its own tables and its share of the
 * single alarm:
 *   log        (log/)      the append-only log: publish, read, retention, compaction
 *   live       (live/)     WebSocket and SSE subscribers, here and on relays (relay/)
 *   groups     (groups/)   consumer groups: positions, leases, acks, dead letters
 *   forwarder  (forward/)  subscriptions forwarding into queues and webhooks
 *   retained   (retained/) MQTT retained messages, the newest per MQTT topic
 *   stream     (stream/)   Durable Streams: content type, expiry, closure, producers, forks
 * Each module's SQL lives in its store.ts; the one alarm is an AlarmScheduler here.
 * Public methods here are the RPC API; each delegates to one module and is one SQL
 * transaction.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { ConsumerGroups } from "./groups/groups";
import { Forwarder } from "./forward/forwarder";
import { LiveSubscribers } from "./live/live";
import type { PartitionPosition, RelayRead } from "./relay/types";
import { TopicLog } from "./log/log";
import { RetainedMessages } from "./retained/retained";
import { StreamModule } from "./stream/stream";
import type {
  AppendStreamInput, AppendStreamOutcome, CreateStreamInput, CreateStreamOutcome, ForkAcquireInput, ForkGrant, InheritedChunk,
  ReadStreamInput, ReadStreamOutcome, StreamFacts,
} from "./stream/types";
import { configureTopic, describeTopic, destroyTopic, reconcile, type PartitionContext } from "./log/home";
import type { AppendedMessage, AppendOutcome, AppendRequest, PartitionStats, ReadRequest } from "./log/schema";
import type { TopicConfigPatch } from "../../protocol/topics";
import type { TopicInfo } from "./config";
import { CloseCodes } from "../shared/socket-limits";
import type { LogEntry, PartitionHooks, PartitionModule, PartitionReporter } from "./types";
import { AlarmScheduler, earliestOf } from "../shared/alarm";
import { now, type DueReport, type RunDueOptions } from "../shared/clock";
import type { PartitionSubscription, PutSubscriptionInput, StoredSubscription } from "./forward/types";
import type { Result } from "../../protocol/errors";
import { staleAnswer, type StaleAnswer } from "./router/retry";
import type { GroupCreated } from "./groups/groups";
import type {
  GroupAckResult, GroupConfig, GroupConfigPatch, GroupNackResult, GroupPartitionStatus, PollInput, PollResult, SeekTarget,
} from "./groups/types";

export class TopicPartition extends DurableObject<Env> {
  readonly log: TopicLog;
  readonly live: LiveSubscribers;
  readonly groups: ConsumerGroups;
  readonly forwarder: Forwarder;
  readonly retained: RetainedMessages;
  readonly stream: StreamModule;
  readonly #modules: PartitionModule[];
  /** The object's one alarm, cached: every module's deadline goes through it. */
  readonly #scheduler: AlarmScheduler;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#scheduler = new AlarmScheduler(ctx.storage);
    const hooks: PartitionHooks = {
      afterAppend: (entries) => this.#afterAppend(entries),
      scheduleAlarm: () => this.#scheduleAlarm(),
      alarmBy: (deadline) => this.#scheduler.armBy(deadline),
    };
    this.log = new TopicLog(ctx, env, hooks);
    this.live = new LiveSubscribers(ctx, env, this.log, hooks);
    this.groups = new ConsumerGroups(ctx, env, this.log, hooks);
    this.forwarder = new Forwarder(ctx, env, this.log, hooks);
    this.retained = new RetainedMessages(ctx);
    this.stream = new StreamModule({
      ctx, env, log: this.log, hooks,
      ensureTopic: (topic, patch) => configureTopic(this.#logContext(), topic, patch, "ensure"),
      destroyTopic: (topic) => destroyTopic(this.#logContext(), topic),
    });
    // The stream module goes last: its alarm may delete the whole topic.
    this.#modules = [this.log, this.live, this.groups, this.forwarder, this.retained, this.stream];
    ctx.blockConcurrencyWhile(async () => {
      for (const m of this.#modules) m.migrate();
      // After a crash the sockets are gone but their deadline rows are not: drop those and
      // re-arm the alarm for what remains (or clear it), instead of waking for nobody.
      if (this.live.hub.reconcile() > 0) await this.#scheduleAlarm();
    });
  }

  // ---- RPC: the log (topics part 1) ----
  // Every call that carries the caller's copy of the topic config (TopicInfo) reconciles it
  // first (log/home.ts) and answers an older copy with the one stale answer, `#stale`; the
  // caller's router repeats it with a fresh config (router/retry.ts).

  /** Home only: the topic's authoritative config, or null. */
  describeTopic(): TopicInfo | null {
    return describeTopic(this.#logContext());
  }

  /** Home only: create or change the topic (`put`), or create it if missing (`ensure`). */
  async configureTopic(topic: string, patch: TopicConfigPatch, mode: "put" | "ensure"): Promise<Result<TopicInfo>> {
    return configureTopic(this.#logContext(), topic, patch, mode);
  }

  /** Takes the home's config (growth, config changes); stale if this partition knows a newer one. */
  async adoptTopic(info: TopicInfo, partition: number): Promise<Result<null>> {
    return (await this.#stale(info, partition)) ?? { ok: true, value: null };
  }

  /** Home only: deletes the topic in every partition. */
  async destroyTopic(topic: string): Promise<Result<null>> {
    await this.stream.beforeTopicDelete();
    return destroyTopic(this.#logContext(), topic);
  }

  /** Deletes this partition's state (called by the home when the topic is deleted). */
  async destroyPartition(): Promise<void> {
    if (this.log.exists()) await this.#wipeObject();
  }

  /** Appends one publish's messages for this partition, written whole or not at all. */
  async publish(req: AppendRequest): Promise<Result<{ messages: AppendedMessage[] }>> {
    // A Durable Stream's topic takes no publish once the stream is closed (stream/stream.ts).
    return (await this.#stale(req.info, req.partition)) ?? appended(await this.log.append({ ...req, admit: this.stream.publishAdmission() }));
  }

  /** Reads from an offset or a time (GET /v1/topics/{t}/messages). */
  async readLog(req: ReadRequest): Promise<Result<{ messages: LogEntry[]; first: number; next: number }>> {
    return (await this.#stale(req.info, req.partition)) ?? this.log.readRange(req.from, req.since, req.limit);
  }

  /** This partition's line in GET /v1/topics/{t}. */
  async partitionStats(info: TopicInfo, partition: number): Promise<Result<PartitionStats>> {
    const stale = await this.#stale(info, partition);
    if (stale) return stale;
    // The groups module reports through PartitionReporter; the live module asks its relays.
    const groups: PartitionReporter = this.groups;
    const subscribers = await this.live.countSubscribers();
    return {
      ok: true,
      value: {
        partition,
        first: this.log.first(),
        next: this.log.next(),
        bytes: this.log.bytes(),
        subscribers,
        groups: groups.groupLags?.() ?? [],
      },
    };
  }

  /** The one stale answer, when `info` is older than this partition's config; else null. */
  async #stale(info: TopicInfo, partition: number): Promise<StaleAnswer | null> {
    return (await reconcile(this.#logContext(), info.name, partition, info)) ? null : staleAnswer();
  }

  #logContext(): PartitionContext {
    return {
      env: this.env,
      log: this.log,
      wipe: () => this.#wipeObject(),
      exclusive: (fn) => this.ctx.blockConcurrencyWhile(fn),
    };
  }

  /** Deletes everything this object stores, for every module, and closes its sockets. */
  async #wipeObject(): Promise<void> {
    await this.live.closeRelays();
    this.live.reset();
    this.stream.reset();
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.close(CloseCodes.GONE, "topic deleted");
      } catch {
        // already closing
      }
    }
    await this.#scheduler.clear();
    await this.ctx.storage.deleteAll();
    for (const m of this.#modules) m.migrate();
  }

  // ---- RPC: consumer groups (topics part 2) ----
  // Thin delegations to ConsumerGroups. Each carries the caller's TopicInfo like the log's
  // calls and answers a stale copy the same way.

  async putGroup(info: TopicInfo, partition: number, name: string, patch: GroupConfigPatch, defaults: GroupConfig): Promise<Result<GroupCreated>> {
    return (await this.#stale(info, partition)) ?? this.groups.put(info.name, name, patch, defaults);
  }

  async groupConfig(info: TopicInfo, partition: number, name: string, createWith: GroupConfig | null): Promise<Result<GroupConfig>> {
    return (await this.#stale(info, partition)) ?? this.groups.config(info.name, name, createWith);
  }

  async pollGroup(info: TopicInfo, partition: number, input: PollInput): Promise<Result<PollResult>> {
    return (await this.#stale(info, partition)) ?? this.groups.poll(input);
  }

  /** Long-poll helper: true once the group has something to deliver here, false after `ms`. */
  async waitForGroupWork(name: string, ms: number): Promise<boolean> {
    return this.groups.waitForWork(name, ms);
  }

  async ackGroup(info: TopicInfo, partition: number, name: string, receipts: string[]): Promise<Result<GroupAckResult>> {
    return (await this.#stale(info, partition)) ?? this.groups.ack(name, receipts);
  }

  async nackGroup(info: TopicInfo, partition: number, name: string, receipts: string[], delaySeconds: number, attempted: boolean): Promise<Result<GroupNackResult>> {
    return (await this.#stale(info, partition)) ?? this.groups.nack(name, receipts, delaySeconds * 1000, attempted);
  }

  async seekGroup(info: TopicInfo, partition: number, name: string, target: SeekTarget, createWith: GroupConfig | null): Promise<Result<GroupPartitionStatus>> {
    return (await this.#stale(info, partition)) ?? this.groups.seek(info.name, name, partition, target, createWith);
  }

  async groupStatus(info: TopicInfo, partition: number, name: string, fallback: GroupConfig | null): Promise<Result<GroupPartitionStatus | null>> {
    return (await this.#stale(info, partition)) ?? this.groups.status(name, partition, fallback);
  }

  // ---- RPC: MQTT retained messages ----

  /** The retained MQTT messages here whose MQTT topic starts with `prefix` (at most `limit`). */
  async retainedMessages(info: TopicInfo, partition: number, prefix: string, limit: number): Promise<Result<LogEntry[]>> {
    return (await this.#stale(info, partition)) ?? { ok: true, value: this.retained.withPrefix(prefix, partition, limit) };
  }

  // ---- RPC: subscriptions (fan-out) ----

  /** Creates or updates subscription `input.name` in this partition (the Worker calls every partition). */
  async putSubscription(input: PutSubscriptionInput, info: TopicInfo): Promise<Result<PartitionSubscription>> {
    const stale = await this.#stale(info, input.partition);
    if (stale) return stale;
    const result = this.forwarder.put(input);
    await this.#scheduleAlarm();
    return result;
  }

  getSubscription(name: string): Result<PartitionSubscription> {
    return this.forwarder.get(name);
  }

  /** Removes the subscription here; forwarding stops at once (an in-flight webhook call is aborted). */
  async deleteSubscription(name: string): Promise<Result<{ deleted: boolean }>> {
    const result = this.forwarder.delete(name);
    await this.#scheduleAlarm();
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

  // ---- RPC: relays (topic/relay/: objects holding this partition's other live subscribers) ----

  /** A relay registers (its first subscriber came): where the log stands, or null when the topic does not exist here. */
  attachRelay(name: string): PartitionPosition | null {
    return this.live.attachRelay(name);
  }

  /** A relay's last subscriber left. */
  detachRelay(name: string): void {
    this.live.detachRelay(name);
  }

  /** Messages from `from` on, for a relay's subscribers behind its tail. */
  readForRelay(from: number, max: number): RelayRead {
    return this.live.readForRelay(from, max);
  }

  // ---- RPC: Durable Streams (/v1/stream/...) ----
  // Thin delegations to the stream module; only partition 0 of a stream's topic serves them.

  async streamCreate(input: CreateStreamInput): Promise<Result<CreateStreamOutcome>> {
    return this.stream.create(input);
  }

  async streamAppend(input: AppendStreamInput): Promise<Result<AppendStreamOutcome>> {
    return this.stream.append(input);
  }

  async streamRead(input: ReadStreamInput): Promise<Result<ReadStreamOutcome>> {
    return this.stream.read(input);
  }

  async streamHead(topic: string): Promise<Result<StreamFacts>> {
    return this.stream.head(topic);
  }

  async streamDelete(topic: string): Promise<Result<null>> {
    return this.stream.remove(topic);
  }

  /** Internal, fork to source: grants a fork and counts it. */
  async streamForkAcquire(topic: string, input: ForkAcquireInput): Promise<Result<ForkGrant>> {
    return this.stream.forkAcquire(topic, input);
  }

  /** Internal, fork to source: the fork is gone. */
  async streamForkRelease(): Promise<void> {
    return this.stream.forkRelease();
  }

  /** Internal, fork to source: entries the fork inherits, from `from` up to `cap`. */
  async streamReadInherited(from: number, cap: number, maxBytes: number): Promise<Result<InheritedChunk>> {
    return this.stream.readInherited(from, cap, maxBytes);
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
    this.#scheduler.fired();
    const at = now();
    try {
      for (const m of this.#modules) await m.onAlarm(at);
    } finally {
      await this.#scheduleAlarm();
    }
  }

  /**
   * The test kit's `advanceTime` (worker/test-control.ts; harmless anywhere, it does what the
   * alarm would): runs the alarm's work now if a module's deadline has come on the objects'
   * clock, which a test moved, and waits for the forwarding it started; else re-arms the
   * alarm for the moved clock.
   */
  async runDue(options: RunDueOptions = {}): Promise<DueReport> {
    await this.forwarder.settled(); // a forward an alarm started is pending work too
    const next = earliestOf(...this.#modules.map((m) => m.nextDeadline()));
    if (next === null || next > now()) {
      if (options.rearm !== false) await this.#scheduler.rearm(next);
      return { ran: false, next };
    }
    await this.#scheduler.takeOver();
    await this.alarm();
    await this.forwarder.settled();
    return { ran: true, next: earliestOf(...this.#modules.map((m) => m.nextDeadline())) };
  }

  /** Sets the one alarm to the earliest deadline any module has, or clears it. */
  async #scheduleAlarm(): Promise<void> {
    await this.#scheduler.arm(earliestOf(...this.#modules.map((m) => m.nextDeadline())));
  }

  /** Called by the log after an append committed; never awaits slow consumers. */
  #afterAppend(entries: LogEntry[]): void {
    this.live.onAppend(entries);
    this.groups.onAppend(entries);
    this.forwarder.onAppend(entries);
    this.retained.onAppend(entries);
    this.stream.onAppend();
  }
}

/**
 * The log's answer to a publish as the RPC answers it: the log may still find the config
 * changed when its group commit runs (it says `{stale: true}`), which is the stale answer too.
 */
function appended(r: Result<AppendOutcome>): Result<{ messages: AppendedMessage[] }> {
  if (!r.ok) return r;
  return r.value.stale ? staleAnswer() : { ok: true, value: r.value };
}
