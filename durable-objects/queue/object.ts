/**
 * QueueObject: one Durable Object per queue. Its public methods are the queue's RPC API
 * (types and usage in protocol/queues.ts); each runs ONE SQL transaction (context.ts) and
 * then settles: registers the queue in the Catalog, moves dead letters out, wakes long
 * polls, pushes to WebSocket consumers and sets the one alarm to the earliest deadline.
 * Everything else is `#private`. The modules:
 *   store/          all of the queue's SQL: schema, state enum, one function per transition
 *   context.ts      the transaction every method runs in (load, implicit creation, rollback)
 *   admission.ts    what a creation must clear first: the quota (Catalog), the default DLQ
 *   send.ts         send: limits, backpressure          dedup.ts   the dedup window (bounded)
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
import { AlarmScheduler, earliestOf } from "../shared/alarm";
import { now, type DueReport, type RunDueOptions } from "../shared/clock";
import { WakeList } from "../shared/wake-list";
import { admit, release, type CreateOptions } from "./admission";
import { LIMITS, resolveConfig } from "./config";
import { Consumers } from "./consumers";
import { QueueTransactions } from "./context";
import { acceptLetters, flushOutbox, takeForRedrive, type RedriveOutcome } from "./dead-letters";
import { ack, applyDue, extend, nack, takeMessages } from "./leases";
import { sendMessages } from "./send";
import { expireOld, peek, stats } from "./state";
import { QueueStore } from "./store/queue-store";
import { describe, setAttributes, tag, untag } from "./tags";
import type {
  AckResult, DeadLetterInput, DeadLetterResult, ExtendResult, NackResult, PeekedMessage, QueueConfigInput,
  QueueCreated, QueueDescription, QueueInfo, QueueSendInput, QueueSendOptions, QueueSendResult, ReceivedMessage, ReceiveOptions,
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
  readonly #waiters = new WakeList();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = new QueueStore(ctx.storage.sql);
    this.#queue = new QueueTransactions(ctx.storage, this.#store, () => this.#name);
    this.#consumers = new Consumers(ctx, env, { transact: (fn) => this.#queue.run(fn), settle: () => this.#settle(), name: () => this.#name });
    this.#alarm = new AlarmScheduler(ctx.storage);
    ctx.blockConcurrencyWhile(async () => this.#store.migrate());
  }

  get #name(): string {
    return this.ctx.id.name ?? this.#store.meta.storedName() ?? "";
  }

  // ---- RPC ----

  /**
   * `PUT /v1/queues/{q}`: creates the queue (within the quota, admission.ts) or changes its
   * config (`fifo` cannot change).
   */
  async configure(input: QueueConfigInput, options: CreateOptions = {}): Promise<Result<QueueCreated>> {
    const r = await this.#creating(input, options, () => this.#queue.run((q) => {
      const resolved = resolveConfig(this.#name, q?.config ?? null, input);
      if (!resolved.ok) return resolved;
      return ok(q ? this.#queue.reconfigure(resolved.config) : this.#queue.create(resolved.config, now()));
    }, "optional"));
    await this.#settle();
    return r;
  }

  /** Creates the queue with the default config if it does not exist (subscriptions into a queue). */
  async ensure(options: CreateOptions = {}): Promise<Result<QueueCreated>> {
    const r = await this.#creating({}, options, () =>
      this.#queue.run((q) => ok({ name: q.name, config: q.config, createdAt: q.incarnation }), "implicit"));
    if (r.ok) await this.#settle();
    return r;
  }

  /** `GET /v1/queues/{q}`. */
  async info(): Promise<Result<QueueInfo>> {
    return this.#queue.run((q) => ok({ name: q.name, config: q.config, stats: stats(q, this.#consumers.count()) }));
  }

  // Tags and protocol attributes (tags.ts), for the SQS API.

  /** Info, creation time, tags and protocol attributes (SQS GetQueueAttributes, ListQueueTags). */
  async describe(): Promise<Result<QueueDescription>> {
    return this.#queue.run((q) => ok(describe(q, this.#consumers.count())));
  }

  /** Config and protocol attributes in one change (SQS SetQueueAttributes); null removes an attribute. */
  async setAttributes(input: QueueConfigInput, attributes: Record<string, string | null>): Promise<Result<QueueDescription>> {
    const r = this.#queue.run((q) => setAttributes(q, this.#queue, input, attributes, this.#consumers.count()));
    await this.#settle();
    return r;
  }

  async tag(tags: Record<string, string>): Promise<Result<{ tags: Record<string, string> }>> {
    return this.#queue.run((q) => tag(q, tags));
  }

  async untag(keys: string[]): Promise<Result<{ tags: Record<string, string> }>> {
    return this.#queue.run((q) => ok(untag(q, keys)));
  }

  /** `DELETE /v1/queues/{q}`: messages, dedup records and outbox gone; sockets closed; unlisted. */
  async delete(): Promise<Result<null>> {
    const r = this.#queue.run(() => {
      this.#queue.wipe();
      return ok(null);
    });
    if (!r.ok) return r;
    this.#consumers.closeAll();
    this.#waiters.wake();
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
  async send(messages: QueueSendInput[], options: QueueSendOptions & CreateOptions = {}): Promise<Result<QueueSendResult>> {
    const r = options.create === false
      ? this.#queue.run((q) => sendMessages(q, messages), "never")
      : await this.#creating({}, options, () => this.#queue.run((q) => sendMessages(q, messages), "implicit"));
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
        const messages = takeMessages(q, options.max ?? 1, options.visibilityTimeout ?? q.config.visibilityTimeout, null, options.detail ?? false);
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

  async nack(receipts: string[], delay = 0, attempted = true): Promise<Result<NackResult>> {
    const r = this.#queue.run((q) => ok(nack(q, receipts, delay, attempted)));
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

  /**
   * `POST /v1/queues/{q}/redrive`: moves dead letters (not in flight) to `to`, or each to the
   * queue it came from; letters from a group or subscription need `to` (dead-letters.ts).
   */
  async redrive(options: RedriveOptions = {}): Promise<Result<RedriveOutcome>> {
    const r = this.#queue.run((q) => takeForRedrive(q, options.to ?? null, options.max ?? LIMITS.redriveDefault));
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
    await this.#settle(true);
  }

  /**
   * The test kit's `advanceTime` (worker/test-control.ts; harmless anywhere, it does what the
   * alarm would): runs the alarm's work now if its deadline has come on the objects' clock,
   * which a test moved, else re-arms the alarm for the moved clock.
   */
  async runDue(options: RunDueOptions = {}): Promise<DueReport> {
    const next = this.#nextDeadline();
    if (next === null || next > now()) {
      if (options.rearm !== false) await this.#alarm.rearm(next);
      return { ran: false, next };
    }
    await this.#alarm.takeOver();
    await this.alarm();
    return { ran: true, next: this.#nextDeadline() };
  }

  // ---- internals ----

  /** The earliest deadline of anything here (leases, delays, dedup, retention, outbox, sockets). */
  #nextDeadline(): number | null {
    const queue = this.#queue.current();
    return earliestOf(this.#store.nextDeadline(queue ? queue.config.retention * 1000 : null), this.#consumers.nextDeadline());
  }

  /**
   * After a state change: register in the Catalog if pending, move dead letters out, close
   * sockets whose credential expired (their messages become visible), wake long polls, push
   * to sockets, and set the alarm to the earliest deadline, sockets' expiries included.
   * Only the alarm itself sets it exactly (`exact`); every other call only moves it earlier:
   * an ack or a receive usually moves the earliest deadline later (the oldest lease or
   * message went away), and following it would cost a storage write (billed as a row
   * written) per call. An alarm that fires early finds nothing due and re-arms exactly.
   */
  async #settle(exact = false): Promise<void> {
    await this.#registerInCatalog();
    if ((this.#store.outbox.nextDue() ?? Infinity) <= now()) {
      await flushOutbox(this.#store, this.env, (fn) => this.ctx.storage.transactionSync(fn));
    }
    this.#consumers.closeExpired();
    this.#waiters.wake();
    this.#consumers.pump();
    const deadline = this.#nextDeadline();
    if (exact) await this.#alarm.arm(deadline);
    else if (deadline !== null) await this.#alarm.armBy(deadline);
  }

  /**
   * Runs `change`, a transaction that may create the queue. When the queue does not exist
   * yet, the creation is admitted first (admission.ts: valid config, the default dead-letter
   * queue allowed, a place within the quota); a creation that then rolled back (a refused
   * batch) gives its place back, so refused calls never use up the quota.
   */
  async #creating<T>(input: QueueConfigInput, options: CreateOptions, change: () => Result<T>): Promise<Result<T>> {
    if (this.#queue.current()) return change();
    const admitted = await admit(this.env, this.#name, input, options);
    if (!admitted.ok) return admitted;
    const r = change();
    if (!this.#queue.current()) await release(this.env, this.#name);
    return r;
  }

  /** A new queue is listed in the Catalog after its creation committed; until then the alarm retries. */
  async #registerInCatalog(): Promise<void> {
    const at = this.#store.meta.catalogRegisterAt();
    const queue = this.#queue.current();
    if (at === null || at > now() || !queue) return;
    try {
      // Forced: the queue exists, so it is listed whatever the count. Creations by a call were
      // listed (within the quota) before they happened; this lists those made by a move.
      await catalogStub(this.env).register("queues", this.#name, queue.createdAt, {}, true);
      this.#store.meta.setCatalogRegisterAt(null);
    } catch (err) {
      console.warn(`catalog register failed; the alarm retries in ${CATALOG_RETRY_MS / 1000} s`, err);
      this.#store.meta.setCatalogRegisterAt(now() + CATALOG_RETRY_MS);
    }
  }

  /** Resolves at the next change (a wake of `#waiters`) or at `deadline` on the objects' clock, whichever comes first. */
  async #waitForChange(deadline: number): Promise<void> {
    await this.#waiters.wait(deadline - now());
  }
}
