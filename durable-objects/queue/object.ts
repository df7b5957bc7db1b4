/**
 * QueueObject: one Durable Object per queue. Its public methods are the queue's RPC API
 * (types and usage in queue-types.ts); each runs ONE SQL transaction and then `settle()`s:
 * moves dead letters out, wakes long polls, pushes to WebSocket consumers and sets the one
 * alarm to the earliest deadline. The modules:
 *   queue-store.ts      schema, indexes and row operations
 *   queue-send.ts       send: limits, dedup, backpressure
 *   queue-leases.ts     receive, ack, nack, extend, lease expiry
 *   queue-dlq.ts        dead letters and redrive across objects (outbox + move keys)
 *   queue-consumers.ts  WebSocket consumers (Hibernation API, credit)
 *   queue-config.ts     config defaults, ranges, rules
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import type { ErrorValue } from "../../protocol/errors";
import type { Result } from "../../protocol/errors";
import { catalogStub } from "../env";
import { LIMITS, resolveConfig } from "./config";
import { Consumers } from "./consumers";
import { acceptLetters, flushOutbox, takeForRedrive } from "./dead-letters";
import { ack, extend, nack, takeMessages, tick, type QueueContext } from "./leases";
import { sendMessages } from "./send";
import { QueueStore } from "./store";
import { CATALOG_RETRY_KEY, expireOld, nextDeadline, peek, stats } from "./state";
import type {
  AckResult, DeadLetterInput, DeadLetterResult, ExtendResult, NackResult, PeekedMessage, QueueConfig,
  QueueConfigInput, QueueCreated, QueueInfo, QueueSendInput, QueueSendOptions, QueueSendResult, ReceivedMessage,
  ReceiveOptions, RedriveOptions,
} from "../../protocol/queues";

interface Loaded { config: QueueConfig; createdAt: number }

/** Thrown inside a transaction to roll it back and return an error value instead. */
class Rollback {
  constructor(readonly error: ErrorValue) {}
}

const ok = <T>(value: T): Result<T> => ({ ok: true, value });

export class QueueObject extends DurableObject<Env> {
  readonly store: QueueStore;
  readonly consumers: Consumers;
  /** The queue's config and creation time; `null` when it does not exist, `undefined` when not loaded. */
  private loaded: Loaded | null | undefined;
  /** Long polls waiting for something to change (in memory: they live only as long as their request). */
  private readonly waiters = new Set<() => void>();
  /** The alarm as last set by this instance (`undefined` until read after a restart). */
  private alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new QueueStore(ctx.storage.sql);
    this.consumers = new Consumers(ctx, env, this);
    ctx.blockConcurrencyWhile(async () => this.store.migrate());
  }

  get name(): string {
    return this.ctx.id.name ?? this.store.getMeta("name") ?? "";
  }

  // ---- RPC ----

  /** `PUT /v1/queues/{q}`: creates the queue or changes its config (`fifo` cannot change). */
  async configure(input: QueueConfigInput): Promise<Result<QueueCreated>> {
    const r = this.transact((q) => {
      const resolved = resolveConfig(this.name, q?.config ?? null, input);
      if (!resolved.ok) return resolved;
      if (!q) return ok(this.create(resolved.config, Date.now()));
      this.store.setMeta("config", JSON.stringify(resolved.config));
      this.loaded = { config: resolved.config, createdAt: q.incarnation };
      return ok({ name: this.name, config: resolved.config, createdAt: q.incarnation });
    }, "optional");
    await this.settle();
    return r;
  }

  /** Creates the queue with the default config if it does not exist (subscriptions into a queue). */
  async ensure(): Promise<Result<QueueCreated>> {
    const r = this.transact((q) => ok({ name: q.name, config: q.config, createdAt: q.incarnation }), "implicit");
    if (r.ok) await this.settle();
    return r;
  }

  /** `GET /v1/queues/{q}`. */
  async info(): Promise<Result<QueueInfo>> {
    return this.transact((q) => ok({ name: q.name, config: q.config, stats: stats(q, this.consumers.count()) }));
  }

  /** `DELETE /v1/queues/{q}`: messages, dedup records and outbox gone; sockets closed; unlisted. */
  async delete(): Promise<Result<null>> {
    const r = this.transact(() => {
      this.store.clear();
      this.loaded = null;
      return ok(null);
    });
    if (!r.ok) return r;
    this.consumers.closeAll();
    this.wake();
    await this.ctx.storage.deleteAlarm();
    this.alarmAt = null;
    try {
      await catalogStub(this.env).unregister("queues", this.name);
    } catch (err) {
      // The list route skips names whose queue answers NOT_FOUND, so a stale entry is harmless.
      console.warn("catalog unregister failed", err);
    }
    return r;
  }

  /** `POST /v1/queues/{q}/messages`, and how other objects put messages in (see queue-types.ts). */
  async send(messages: QueueSendInput[], options: QueueSendOptions = {}): Promise<Result<QueueSendResult>> {
    const r = this.transact((q) => sendMessages(q, messages), options.create === false ? "never" : "implicit");
    if (r.ok) await this.settle();
    return r;
  }

  /** `POST /v1/queues/{q}/receive`, long-polling up to `wait` seconds for a message. */
  async receive(options: ReceiveOptions = {}): Promise<Result<{ messages: ReceivedMessage[] }>> {
    const deadline = Date.now() + (options.wait ?? 0) * 1000;
    for (;;) {
      let changed = false;
      const r = this.transact((q) => {
        changed = tick(q);
        const messages = takeMessages(q, options.max ?? 1, options.visibilityTimeout ?? q.config.visibilityTimeout, null);
        return ok({ messages });
      });
      const done = !r.ok || r.value.messages.length > 0 || Date.now() >= deadline;
      if (changed || (r.ok && r.value.messages.length > 0)) await this.settle();
      if (done) return r;
      // Awaiting here does not block other requests to this object; send, nack and the
      // alarm wake us.
      await this.waitForChange(deadline);
    }
  }

  async ack(receipts: string[]): Promise<Result<AckResult>> {
    const r = this.transact((q) => ok(ack(q, receipts)));
    await this.settle();
    return r;
  }

  async nack(receipts: string[], delay = 0): Promise<Result<NackResult>> {
    const r = this.transact((q) => ok(nack(q, receipts, delay)));
    await this.settle();
    return r;
  }

  async extend(receipts: string[], visibilityTimeout: number): Promise<Result<ExtendResult>> {
    const r = this.transact((q) => ok(extend(q, receipts, visibilityTimeout)));
    await this.settle();
    return r;
  }

  /** `GET /v1/queues/{q}/messages?limit=`: in seq order, no lease taken. */
  async peek(limit = 1): Promise<Result<{ messages: PeekedMessage[] }>> {
    return this.transact((q) => ok({ messages: peek(q, limit) }));
  }

  async purge(): Promise<Result<{ purged: number }>> {
    const r = this.transact((q) => {
      const purged = q.store.counter("messages");
      q.store.sql.exec("DELETE FROM messages");
      q.store.sql.exec("DELETE FROM fifo_groups");
      q.store.bump("messages", -purged);
      q.store.bump("bytes", -q.store.counter("bytes"));
      return ok({ purged });
    });
    await this.settle();
    return r;
  }

  /** `POST /v1/queues/{q}/redrive`: moves dead letters (not in flight) to `to` or their origin. */
  async redrive(options: RedriveOptions = {}): Promise<Result<{ moved: number }>> {
    const r = this.transact((q) => ok({ moved: takeForRedrive(q, options.to ?? null, options.max ?? LIMITS.redriveDefault) }));
    await this.settle();
    return r;
  }

  /** Dead letters and redrives moved in from another object; idempotent by `moveKey` (queue-dlq.ts). */
  async receiveDeadLetter(letters: DeadLetterInput[]): Promise<Result<DeadLetterResult>> {
    const r = this.transact((q) => ok(acceptLetters(q, letters)), "implicit");
    if (r.ok) await this.settle();
    return r;
  }

  // ---- WebSocket consumers and the alarm ----

  override async fetch(request: Request): Promise<Response> {
    return this.consumers.accept(request);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.consumers.onMessage(ws, message);
  }

  override async webSocketClose(ws: WebSocket): Promise<void> {
    await this.consumers.onClose(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.consumers.onClose(ws);
  }

  /**
   * Applies what is due (visibility, lease expiry, dedup and move-key expiry, retention) in
   * one transaction, then settles. A throw rolls the transaction back and the runtime
   * retries the alarm, so nothing is lost; outbox failures back off without throwing.
   */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    this.transact((q) => {
      tick(q);
      expireOld(q);
      return ok(null);
    });
    await this.settle();
  }

  // ---- internals (used by the modules, not RPC) ----

  /**
   * Runs `fn` in one SQL transaction with the queue's context. `create`: "never" answers
   * NOT_FOUND for a queue never created (the default), "implicit" creates it with the
   * default config, "optional" passes `null` and lets `fn` decide. An error result rolls
   * back everything `fn` wrote, including an implicit creation.
   */
  transact<T>(fn: (q: QueueContext) => Result<T>, create?: "never" | "implicit"): Result<T>;
  transact<T>(fn: (q: QueueContext | null) => Result<T>, create: "optional"): Result<T>;
  transact<T>(fn: (q: QueueContext) => Result<T>, create: "never" | "implicit" | "optional" = "never"): Result<T> {
    try {
      return this.ctx.storage.transactionSync(() => {
        const now = Date.now();
        let loaded = this.load();
        if (!loaded && create === "optional") return unwrapOrRollback((fn as (q: QueueContext | null) => Result<T>)(null));
        if (!loaded && create === "implicit") {
          const resolved = resolveConfig(this.name, null, {});
          if (!resolved.ok) throw new Rollback(resolved.error);
          this.create(resolved.config, now);
          loaded = this.loaded!;
        }
        if (!loaded) throw new Rollback({ code: "NOT_FOUND", message: `queue '${this.name}' does not exist`, details: { queue: this.name } });
        this.store.fifo = loaded.config.fifo;
        return unwrapOrRollback(fn({ store: this.store, config: loaded.config, name: this.name, incarnation: loaded.createdAt, now }));
      });
    } catch (err) {
      this.loaded = undefined; // the cache may hold what was rolled back
      if (err instanceof Rollback) return { ok: false, error: err.error };
      throw err;
    }
  }

  private load(): Loaded | null {
    if (this.loaded === undefined) {
      const config = this.store.getMeta("config");
      this.loaded = config ? { config: JSON.parse(config) as QueueConfig, createdAt: Number(this.store.getMeta("created_at")) } : null;
    }
    if (this.loaded) this.store.fifo = this.loaded.config.fifo;
    return this.loaded;
  }

  private create(config: QueueConfig, now: number): QueueCreated {
    this.store.setMeta("name", this.name);
    this.store.setMeta("created_at", String(now));
    this.store.setMeta("config", JSON.stringify(config));
    // Registered after commit; until the Catalog has it, the alarm keeps trying.
    this.store.setMeta(CATALOG_RETRY_KEY, String(now));
    this.loaded = { config, createdAt: now };
    this.store.fifo = config.fifo;
    return { name: this.name, config, createdAt: now };
  }

  /**
   * After a state change: register in the Catalog if pending, move dead letters out, wake
   * long polls, push to sockets, and set the alarm to the earliest deadline.
   */
  async settle(): Promise<void> {
    const registerAt = this.store.getMeta(CATALOG_RETRY_KEY);
    if (registerAt !== null && Number(registerAt) <= Date.now() && this.loaded) {
      try {
        await catalogStub(this.env).register("queues", this.name, this.loaded.createdAt);
        this.store.deleteMeta(CATALOG_RETRY_KEY);
      } catch (err) {
        console.warn("catalog register failed; the alarm retries in 5 s", err);
        this.store.setMeta(CATALOG_RETRY_KEY, String(Date.now() + 5000));
      }
    }
    if ((this.store.earliest("outbox", "next_at") ?? Infinity) <= Date.now()) {
      await flushOutbox(this.store, this.env, (f) => this.ctx.storage.transactionSync(f));
    }
    this.wake();
    this.consumers.pump();
    await this.scheduleAlarm();
  }

  private async scheduleAlarm(): Promise<void> {
    const loaded = this.load();
    const next = nextDeadline(this.store, loaded?.config ?? null);
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (next === this.alarmAt) return;
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
    this.alarmAt = next;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private waitForChange(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
      this.waiters.add(done);
    });
  }
}

function unwrapOrRollback<T>(r: Result<T>): Result<T> {
  if (!r.ok) throw new Rollback(r.error);
  return r;
}
