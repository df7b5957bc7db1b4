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
import type { Env } from "../worker/env";
import { ConsumerGroups } from "./topic-groups";
import { Forwarder } from "./topic-forward";
import { LiveSubscribers } from "./topic-live";
import { TopicLog } from "./topic-log";
import type { LogEntry, PartitionModule } from "./topic-types";

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

  // ---- RPC: consumer groups (topics part 2) ----

  // ---- RPC: subscriptions (fan-out) ----

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
