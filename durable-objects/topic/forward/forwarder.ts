/**
 * Subscriptions: forwarding a partition into queues and webhooks. (Fan-out.)
 *
 * Each subscription is a position in this partition's log plus a place in the object's one
 * alarm. An append only marks caught-up subscriptions due and sets the alarm, so publishing
 * never waits on a target. The alarm forwards in offset order and moves the position only
 * after the target confirmed, in a compare-and-set on the position that was read:
 *   - into a queue: batches sent with the topic message id as the queue message id, so a
 *     batch resent after a crash between the queue's write and our position update is
 *     absorbed by the queue's dedup (exactly once within its dedup window);
 *   - to a webhook: one signed POST at a time (webhook.ts); failures back off (retry.ts) and
 *     after `maxAttempts` the message moves to the dead-letter queue through the one mover
 *     (shared/dead-letters.ts), the position holding it until the move succeeded.
 * State lives in SQLite (store.ts), so a restart resumes where the last confirmed step left.
 */
import type { Env } from "../../env";
import type { ErrorValue, Result } from "../../../protocol/errors";
import { queueStub } from "../../env";
import { now } from "../../shared/clock";
import { moveKey, sendDeadLetters } from "../../shared/dead-letters";
import { logThrown, plainSentence } from "../../shared/plain-errors";
import { quotaExceeded, quotaOf } from "../../catalog/quotas";
import { deadLetterMoveRetryMs, queueRetryMs, webhookRetryMs } from "./retry";
import { describe, ForwardStore, type SubRow } from "./store";
import { KEY_HEADER, type ForwardError, type PartitionSubscription, type PutSubscriptionInput, type StoredSubscription } from "./types";
import { deliverWebhook, type FetchLike } from "./webhook";
import type { LogEntry, LogReader, PartitionHooks, PartitionModule } from "../types";

/** Messages per queue batch, and the most one alarm run forwards per subscription before yielding. */
export const QUEUE_BATCH = 100;
const QUEUE_BATCH_BYTES = 4 * 1024 * 1024;
const RUN_MESSAGES = 1_000;
const RUN_MS = 15_000;

/** Test seams: inject a fault after a target accepted a write, or a fake webhook endpoint. */
export interface ForwarderTestHooks {
  afterTargetWrite?: (subscription: string) => void | Promise<void>;
  fetch?: FetchLike;
}

export class Forwarder implements PartitionModule {
  private readonly store: ForwardStore;
  /** Runs are serialised: a second alarm (or a test's) waits for the one in progress. */
  private running: Promise<void> | null = null;
  /** In-flight webhook requests by subscription, so DELETE can abort them at once. */
  private readonly inflight = new Map<string, AbortController>();
  testHooks: ForwarderTestHooks = {};

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly log: LogReader,
    private readonly hooks: PartitionHooks,
  ) {
    this.store = new ForwardStore(ctx.storage.sql);
  }

  migrate(): void {
    this.store.migrate();
  }

  nextDeadline(): number | null {
    return this.store.earliestDue();
  }

  /** Called after an append committed: wake caught-up subscriptions; never waits on a target. */
  onAppend(_entries: LogEntry[]): void {
    const at = now();
    if (this.store.wakeIdle(at) > 0) {
      this.hooks.alarmBy(at).catch((err) => console.error("forwarder: setting the alarm failed", err));
    }
  }

  async onAlarm(_now: number): Promise<void> {
    const previous = this.running;
    const run = (async () => {
      await previous?.catch(() => {});
      const started = now();
      await Promise.all(this.store.due(started).map((name) => this.forward(name, started)));
    })();
    this.running = run;
    try {
      await run;
    } finally {
      if (this.running === run) this.running = null;
    }
  }

  /** Resolves once no forwarding run is in progress (tests use it to settle). */
  async settled(): Promise<void> {
    while (this.running) await this.running.catch(() => {});
  }

  /** How many subscriptions here wait for a retry (a failure's backoff) rather than being due now. */
  retriesWaiting(): number {
    return this.store.waiting(now());
  }

  // ---- state transitions behind the RPC methods ----

  /**
   * Creates or updates a subscription here. On the home (partition 0), which the router
   * calls first, a new one past `SPOOL_MAX_SUBSCRIPTIONS_PER_TOPIC` is QUOTA_EXCEEDED and
   * nothing is created anywhere; the other partitions take what the home took.
   */
  put(input: PutSubscriptionInput): Result<PartitionSubscription> {
    if (!this.log.exists()) return notFound(`topic '${input.config.topic}' does not exist`);
    const existing = input.onlyIfMissing ? this.store.get(input.name) : null;
    if (existing) return { ok: true, value: describe(existing, this.log.next()) };
    const start = input.start === "created" ? this.log.offsetAtTime(input.createdAt) : this.log.next();
    return this.ctx.storage.transactionSync((): Result<PartitionSubscription> => {
      if (input.partition === 0 && !this.store.get(input.name)) {
        const limit = quotaOf(this.env, "subscriptionsPerTopic");
        if (this.store.count() >= limit) return { ok: false, error: quotaExceeded("subscriptionsPerTopic", limit) };
      }
      return { ok: true, value: describe(this.store.put(input, start), this.log.next()) };
    });
  }

  get(name: string): Result<PartitionSubscription> {
    const row = this.store.get(name);
    if (!row) return notFound(`subscription '${name}' does not exist`);
    return { ok: true, value: describe(row, this.log.next()) };
  }

  delete(name: string): Result<{ deleted: boolean }> {
    const deleted = this.store.delete(name);
    this.inflight.get(name)?.abort();
    return { ok: true, value: { deleted } };
  }

  /** Every subscription's config and secret, to copy into a partition added later. */
  configs(): StoredSubscription[] {
    return this.store.all().map((r) => ({ name: r.name, config: r.config, secret: r.secret, createdAt: r.createdAt }));
  }

  /** The stored webhook secret (internal: the route re-sends it to every partition on PUT). */
  secret(name: string): string | null {
    return this.store.get(name)?.secret ?? null;
  }

  // ---- forwarding ----

  private async forward(name: string, started: number): Promise<void> {
    let sent = 0;
    for (;;) {
      const row = this.store.get(name);
      if (!row || row.dueAt === null || row.dueAt > now()) return; // deleted, caught up, or backing off
      if (sent >= RUN_MESSAGES || now() - started >= RUN_MS) return; // due stays now: next alarm continues
      const entries = this.readFrom(row);
      if (!entries) return; // caught up
      const done = row.config.target.type === "queue" ? await this.toQueue(row, entries) : await this.toWebhook(row, entries[0]!);
      if (done <= 0) return;
      sent += done;
    }
  }

  /** The next entries to forward, or null after marking the row caught up (one sync step). */
  private readFrom(row: SubRow): LogEntry[] | null {
    const first = this.log.first();
    if (row.position < first) {
      this.store.note(row, failure(row, "OFFSETS_EXPIRED", `offsets ${row.position}..${first - 1} were removed by retention before they were forwarded`, null));
      this.store.advance(row, { to: first, dueAt: now() });
      return this.readFrom({ ...row, position: first });
    }
    // After a failure a queue is probed with one message: a batch too big for the room left
    // in a full queue would otherwise be refused whole forever.
    const limit = row.config.target.type === "queue" && row.attempts === 0 ? QUEUE_BATCH : 1;
    const entries = this.log.read(row.position, limit);
    if (entries.length > 0) return entries;
    this.store.advance(row, { to: Math.max(row.position, this.log.next()), dueAt: null });
    return null;
  }

  /** Forwards one batch; returns how many offsets it moved past (0 on failure). */
  private async toQueue(row: SubRow, all: LogEntry[]): Promise<number> {
    if (row.config.target.type !== "queue") return 0;
    const entries = byteBounded(all);
    const last = entries[entries.length - 1]!;
    const matching = entries.filter((e) => matches(row.config.filter, e));
    if (matching.length > 0) {
      const outcome = await this.call(() => queueStub(this.env, (row.config.target as { queue: string }).queue).send(matching.map(toQueueMessage)));
      if (!outcome.ok) return this.failed(row, outcome.error, matching[0]!.offset);
      const fault = await this.fault(row.name);
      if (fault) return this.failed(row, fault, matching[0]!.offset);
    }
    const moved = this.store.advance(row, { to: last.offset + 1, delivered: matching.length, skipped: entries.length - matching.length, dueAt: now() });
    return moved ? entries.length : 0;
  }

  /** Delivers (or dead-letters) the message at the position; returns 1 when it moved on. */
  private async toWebhook(row: SubRow, entry: LogEntry): Promise<number> {
    const target = row.config.target;
    if (target.type !== "webhook") return 0;
    if (!matches(row.config.filter, entry)) {
      return this.store.advance(row, { to: entry.offset + 1, skipped: 1, dueAt: now() }) ? 1 : 0;
    }
    let attempts = row.attempts;
    if (attempts < target.maxAttempts) {
      const controller = new AbortController();
      this.inflight.set(row.name, controller);
      const outcome = await deliverWebhook({
        url: target.url, secret: row.secret ?? "", topic: row.config.topic, subscription: row.name, entry,
        deliveryId: deliveryId(row, entry), attempt: attempts + 1, timeoutMs: target.timeout * 1000, signal: controller.signal,
      }, this.env, this.testHooks.fetch ?? ((req) => fetch(req))).finally(() => this.inflight.delete(row.name));
      if (outcome.ok) {
        const fault = await this.fault(row.name);
        if (fault) return this.failed(row, fault, entry.offset);
        return this.store.advance(row, { to: entry.offset + 1, delivered: 1, dueAt: now() }) ? 1 : 0;
      }
      attempts += 1;
      if (attempts < target.maxAttempts) {
        this.store.fail(row, failure(row, outcome.code, outcome.message, entry.offset), attempts, now() + webhookRetryMs(attempts));
        return 0;
      }
      this.store.fail(row, failure(row, outcome.code, `${outcome.message}; giving up after ${attempts} attempts`, entry.offset), attempts, now());
    }
    return this.deadLetter({ ...row, attempts }, entry);
  }

  /**
   * Hands the message at the position to the dead-letter queue (or drops it when there is
   * none) and only then moves on. The key names the subscription's incarnation and the
   * offset, so a move retried after a crash lands once and a recreated subscription never
   * collides with its former moves.
   */
  private async deadLetter(row: SubRow, entry: LogEntry): Promise<number> {
    const target = row.config.target;
    if (target.type !== "webhook") return 0;
    if (target.deadLetterQueue !== null) {
      const outcome = await sendDeadLetters(this.env, target.deadLetterQueue, [{
        moveKey: moveKey(`${row.config.topic}#${row.partition}/${row.name}`, row.incarnation, entry.offset),
        ...toQueueMessage(entry), attempts: Math.min(row.attempts, target.maxAttempts), origin: null,
      }]);
      if (!outcome.ok) {
        const attempts = row.attempts + 1;
        const error = failure(row, outcome.error.code, `moving to the dead-letter queue failed: ${outcome.error.message}`, entry.offset);
        this.store.fail(row, error, attempts, now() + deadLetterMoveRetryMs(attempts, target.maxAttempts));
        return 0;
      }
    }
    return this.store.advance(row, { to: entry.offset + 1, failed: 1, dueAt: now() }) ? 1 : 0;
  }

  /** Records a failed step at the position and when to try again (retry.ts). */
  private failed(row: SubRow, error: ErrorValue, offset: number): number {
    const attempts = row.attempts + 1;
    const wait = row.config.target.type === "queue" ? queueRetryMs(attempts, error) : webhookRetryMs(attempts);
    this.store.fail(row, failure(row, error.code, error.message, offset), attempts, now() + wait);
    return 0;
  }

  /** An RPC to another object as a Result, whatever it throws (users see a plain sentence; the log keeps the detail). */
  private async call<T>(fn: () => Promise<Result<T>>): Promise<Result<T>> {
    try {
      return await fn();
    } catch (err) {
      logThrown("forwarding to the target queue", err);
      return { ok: false, error: { code: "INTERNAL", message: "the target queue could not take the messages; forwarding will be retried" } };
    }
  }

  private async fault(name: string): Promise<ErrorValue | null> {
    try {
      await this.testHooks.afterTargetWrite?.(name);
      return null;
    } catch (err) {
      logThrown(`subscription '${name}': the step after the target's write`, err);
      return { code: "INTERNAL", message: "forwarding stopped after the target took the messages; it will be retried" };
    }
  }
}

function notFound<T>(message: string): Result<T> {
  return { ok: false, error: { code: "NOT_FOUND", message } };
}

/** A `lastError`: always a plain sentence (shared/plain-errors.ts), whatever a target answered. */
function failure(row: SubRow, code: string, message: string, offset: number | null): ForwardError {
  const plain = plainSentence(message, `forwarding failed (${code}); it will be retried`);
  return { code, message: plain, at: now(), partition: row.partition, offset };
}

/** True when every header named in `filter` has exactly that value. */
export function matches(filter: Record<string, string>, e: LogEntry): boolean {
  for (const [name, value] of Object.entries(filter)) if (e.headers[name] !== value) return false;
  return true;
}

/** The queue message for a topic message: same id, body and headers; the key in `spool-key`. */
export function toQueueMessage(e: LogEntry): { id: string; body: unknown; headers: Record<string, string> } {
  return { id: e.id, body: e.body, headers: e.key === null ? { ...e.headers } : { ...e.headers, [KEY_HEADER]: e.key } };
}

function deliveryId(row: SubRow, e: LogEntry): string {
  return `${row.incarnation}:${e.partition}:${e.offset}`;
}

/** A prefix of `entries` (at least one) whose JSON stays under the batch byte budget. */
function byteBounded(entries: LogEntry[]): LogEntry[] {
  let bytes = 0;
  for (let i = 0; i < entries.length; i++) {
    bytes += JSON.stringify(entries[i]!.body).length + JSON.stringify(entries[i]!.headers).length;
    if (bytes > QUEUE_BATCH_BYTES && i > 0) return entries.slice(0, i);
  }
  return entries;
}
