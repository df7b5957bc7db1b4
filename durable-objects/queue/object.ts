/**
 * QueueObject: one Durable Object per queue. Its public methods are the queue's RPC API
 * (types and usage in protocol/queues.ts); each runs ONE SQL transaction (context.ts) and
 * then settles: registers the queue in the Catalog, moves dead letters out, wakes long
 * polls, pushes to WebSocket consumers and sets the one alarm to the earliest deadline.
 * Everything else is `#private`. The modules:
 *   store/          all of the queue's SQL: schema, state enum, one function per transition
 *   context.ts      the transaction every method runs in (load, implicit creation, rollback)
 *   send.ts         send: limits, backpressure          dedup.ts   the dedup window
 *   leases.ts       receive, ack, nack, extend, lease expiry redelivers
 *   dead-letters.ts dead letters and redrive across objects (outbox + move keys)
 *   state.ts        stats, peek, retention and the alarm's other housekeeping
 *   consumers.ts    WebSocket consumers (Hibernation API, credit)
 *   config.ts       config defaults, ranges, rules
 * Time is the objects' clock (shared/clock.ts), so tests move it instead of rewriting rows.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import type { Result } from "../../protocol/errors";
import { catalogStub } from "../env";
import { AlarmScheduler } from "../shared/alarm";
import { now } from "../shared/clock";
import { LIMITS, resolveConfig } from "./config";
import { Consumers } from "./consumers";
import { QueueTransactions } from "./context";
import { acceptLetters, flushOutbox, takeForRedrive } from "./dead-letters";
import { ack, applyDue, extend, nack, takeMessages } from "./leases";
import { sendMessages } from "./send";
import { expireOld, peek, stats } from "./state";
import { QueueStore } from "./store/queue-store";
import type {
  AckResult, DeadLetterInput, DeadLetterResult, ExtendResult, NackResult, PeekedMessage, QueueConfigInput,
  QueueCreated, QueueInfo, QueueSendInput, QueueSendOptions, QueueSendResult, ReceivedMessage, ReceiveOptions,
  RedriveOptions,
} from "../../protocol/queues";

/** How long to wait before retrying a failed Catalog registration. */
const CATALOG_RETRY_MS = 5000;

const ok = <T>(value: T): Result<T> => ({ ok: true, value });

export class QueueObject extends DurableObject<Env> {
  readonly #store: QueueStore;
  readonly #queue: QueueTransactions;
  readonly #consumers: Consumers;
  readonly #alarm: AlarmScheduler;
  /** Long polls waiting for something to change (in memory: they live only as long as their request). */
  readonly #waiters = new Set<() => void>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = new QueueStore(ctx.storage.sql);
    this.#queue = new QueueTransactions(ctx.storage, this.#store, () => this.#name);
    this.#consumers = new Consumers(ctx, env, { transact: (fn) => this.#queue.run(fn), settle: () => this.#settle() });
    this.#alarm = new AlarmScheduler(ctx.storage);
    ctx.blockConcurrencyWhile(async () => this.#store.migrate());
  }

  get #name(): string {
    return this.ctx.id.name ?? this.#store.meta.storedName() ?? "";
  }

  // ---- RPC ----

  /** `PUT /v1/queues/{q}`: creates the queue or changes its config (`fifo` cannot change). */
  async configure(input: QueueConfigInput): Promise<Result<QueueCreated>> {
    const r = this.#queue.run((q) => {
      const resolved = resolveConfig(this.#name, q?.config ?? null, input);
      if (!resolved.ok) return resolved;
      return ok(q ? this.#queue.reconfigure(resolved.config) : this.#queue.create(resolved.config, now()));
    }, "optional");
    await this.#settle();
    return r;
  }

  /** Creates the queue with the default config if it does not exist (subscriptions into a queue). */
  async ensure(): Promise<Result<QueueCreated>> {
    const r = this.#queue.run((q) => ok({ name: q.name, config: q.config, createdAt: q.incarnation }), "implicit");
    if (r.ok) await this.#settle();
    return r;
  }

  /** `GET /v1/queues/{q}`. */
  async info(): Promise<Result<QueueInfo>> {
    return this.#queue.run((q) => ok({ name: q.name, config: q.config, stats: stats(q, this.#consumers.count()) }));
  }

  /** `DELETE /v1/queues/{q}`: messages, dedup records and outbox gone; sockets closed; unlisted. */
  async delete(): Promise<Result<null>> {
    const r = this.#queue.run(() => {
      this.#queue.wipe();
      return ok(null);
    });
    if (!r.ok) return r;
    this.#consumers.closeAll();
    this.#wake();
    await this.#alarm.clear();
    try {
      await catalogStub(this.env).unregister("queues", this.#name);
    } catch (err) {
      // The list route skips names whose queue answers NOT_FOUND, so a stale entry is harmless.
      console.warn("catalog unregister failed", err);
    }
    return r;
  }

  /** `POST /v1/queues/{q}/messages`, and how other objects put messages in (see protocol/queues.ts). */
  async send(messages: QueueSendInput[], options: QueueSendOptions = {}): Promise<Result<QueueSendResult>> {
    const r = this.#queue.run((q) => sendMessages(q, messages), options.create === false ? "never" : "implicit");
    if (r.ok) await this.#settle();
    return r;
  }

  /** `POST /v1/queues/{q}/receive`, long-polling up to `wait` seconds for a message. */
  async receive(options: ReceiveOptions = {}): Promise<Result<{ messages: ReceivedMessage[] }>> {
    const deadline = now() + (options.wait ?? 0) * 1000;
    for (;;) {
      let changed = false;
      const r = this.#queue.run((q) => {
        changed = applyDue(q);
        const messages = takeMessages(q, options.max ?? 1, options.visibilityTimeout ?? q.config.visibilityTimeout, null);
        return ok({ messages });
      });
      const done = !r.ok || r.value.messages.length > 0 || now() >= deadline;
      if (changed || (r.ok && r.value.messages.length > 0)) await this.#settle();
      if (done) return r;
      // Awaiting here does not block other requests to this object; send, nack and the
      // alarm wake us.
      await this.#waitForChange(deadline);
    }
  }

  async ack(receipts: string[]): Promise<Result<AckResult>> {
    const r = this.#queue.run((q) => ok(ack(q, receipts)));
    await this.#settle();
    return r;
  }

  async nack(receipts: string[], delay = 0): Promise<Result<NackResult>> {
    const r = this.#queue.run((q) => ok(nack(q, receipts, delay)));
    await this.#settle();
    return r;
  }

  async extend(receipts: string[], visibilityTimeout: number): Promise<Result<ExtendResult>> {
    const r = this.#queue.run((q) => ok(extend(q, receipts, visibilityTimeout)));
    await this.#settle();
    return r;
  }

  /** `GET /v1/queues/{q}/messages?limit=`: in seq order, no lease taken. */
  async peek(limit = 1): Promise<Result<{ messages: PeekedMessage[] }>> {
    return this.#queue.run((q) => ok({ messages: peek(q, limit) }));
  }

  async purge(): Promise<Result<{ purged: number }>> {
    const r = this.#queue.run((q) => ok({ purged: q.store.purge() }));
    await this.#settle();
    return r;
  }

  /** `POST /v1/queues/{q}/redrive`: moves dead letters (not in flight) to `to` or their origin. */
  async redrive(options: RedriveOptions = {}): Promise<Result<{ moved: number }>> {
    const r = this.#queue.run((q) => ok({ moved: takeForRedrive(q, options.to ?? null, options.max ?? LIMITS.redriveDefault) }));
    await this.#settle();
    return r;
  }

  /** Dead letters and redrives moved in from another object; idempotent by `moveKey` (dead-letters.ts). */
  async receiveDeadLetter(letters: DeadLetterInput[]): Promise<Result<DeadLetterResult>> {
    const r = this.#queue.run((q) => ok(acceptLetters(q, letters)), "implicit");
    if (r.ok) await this.#settle();
    return r;
  }

  // ---- WebSocket consumers and the alarm ----

  override async fetch(request: Request): Promise<Response> {
    return this.#consumers.accept(request);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.#consumers.onMessage(ws, message);
  }

  override async webSocketClose(ws: WebSocket): Promise<void> {
    await this.#consumers.onClose(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.#consumers.onClose(ws);
  }

  /**
   * Applies what is due (visibility, lease expiry, dedup and move-key expiry, retention) in
   * one transaction, then settles. A throw rolls the transaction back and the runtime
   * retries the alarm, so nothing is lost; outbox failures back off without throwing.
   */
  override async alarm(): Promise<void> {
    this.#alarm.fired();
    this.#queue.run((q) => {
      applyDue(q);
      expireOld(q);
      return ok(null);
    });
    await this.#settle();
  }

  // ---- internals ----

  /**
   * After a state change: register in the Catalog if pending, move dead letters out, wake
   * long polls, push to sockets, and set the alarm to the earliest deadline.
   */
  async #settle(): Promise<void> {
    await this.#registerInCatalog();
    if ((this.#store.outbox.nextDue() ?? Infinity) <= now()) {
      await flushOutbox(this.#store, this.env, (fn) => this.ctx.storage.transactionSync(fn));
    }
    this.#wake();
    this.#consumers.pump();
    const queue = this.#queue.current();
    await this.#alarm.arm(this.#store.nextDeadline(queue ? queue.config.retention * 1000 : null));
  }

  /** A new queue is listed in the Catalog after its creation committed; until then the alarm retries. */
  async #registerInCatalog(): Promise<void> {
    const at = this.#store.meta.catalogRegisterAt();
    const queue = this.#queue.current();
    if (at === null || at > now() || !queue) return;
    try {
      await catalogStub(this.env).register("queues", this.#name, queue.createdAt);
      this.#store.meta.setCatalogRegisterAt(null);
    } catch (err) {
      console.warn(`catalog register failed; the alarm retries in ${CATALOG_RETRY_MS / 1000} s`, err);
      this.#store.meta.setCatalogRegisterAt(now() + CATALOG_RETRY_MS);
    }
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Resolves at the next change (`#wake`) or at `deadline` on the objects' clock, whichever comes first. */
  #waitForChange(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, deadline - now()));
      this.#waiters.add(done);
    });
  }
}
