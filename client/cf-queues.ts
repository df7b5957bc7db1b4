/**
 * Cloudflare Queues code on Spool, unchanged but for two lines:
 *
 *   const jobs = queueBinding<Job>(spool, "jobs");        // was: env.JOBS (a Queue<Job>)
 *   await jobs.send(job, { delaySeconds: 30 });
 *   await jobs.sendBatch([{ body: a }, { body: b, contentType: "json" }]);
 *
 *   runQueueConsumer(spool.queue<Job>("jobs"), worker, { maxBatchSize: 10, maxRetries: 3, env, ctx });
 *   // calls worker.queue(batch, env, ctx) as Cloudflare would (cf-queues-consumer.ts)
 *
 * The types here are Cloudflare's (`Queue<Body>`, `MessageBatch<Body>`, `Message<Body>`),
 * declared structurally so the client needs no Workers types. The batch follows Cloudflare
 * Queues' rules, as workerd applies them: an explicit `ack()` or `retry()` of a message
 * wins over the batch (`ackAll`, `retryAll`, the handler's outcome) and over a later call on
 * the same message; `ackAll` and `retryAll` exclude each other (the first wins); what no
 * call settled is acked when the handler resolves and retried when it throws.
 *
 * Differences, from Spool's limits: `delaySeconds` on a send is 0–900 (Cloudflare: 43200;
 * `retry` takes 0–43200 as Cloudflare does); a batch may hold up to 1000 messages; message
 * ids are Spool's; `metadata.metrics` is read from the queue's stats only with
 * `{metrics: true}` (one more call each time), and is NaN otherwise.
 */
import type { Queue } from "./queues.js";
import type { Spool } from "./index.js";
import { decodeBody, encodeBody, type QueueContentType } from "./cf-queues-codec.js";
import type { QueueMessage } from "./types.js";

export type { QueueContentType } from "./cf-queues-codec.js";
export { runQueueConsumer, QUEUE_CONSUMER_DEFAULTS, type QueueConsumer, type QueueConsumerHandler, type QueueConsumerOptions } from "./cf-queues-consumer.js";

export interface QueueSendOptions {
  contentType?: QueueContentType | undefined;
  delaySeconds?: number | undefined;
}
export interface QueueSendBatchOptions {
  delaySeconds?: number | undefined;
}
export interface MessageSendRequest<Body = unknown> {
  body: Body;
  contentType?: QueueContentType | undefined;
  delaySeconds?: number | undefined;
}
export interface QueueRetryOptions {
  delaySeconds?: number | undefined;
}
export interface QueueMetrics {
  backlogCount: number;
  backlogBytes: number;
  oldestMessageTimestamp?: Date;
}
export interface QueueSendResponse {
  metadata: { metrics: QueueMetrics };
}

/** Cloudflare's `Queue<Body>` (a producer binding), on a Spool queue. */
export interface CfQueue<Body = unknown> {
  send(body: Body, options?: QueueSendOptions): Promise<QueueSendResponse>;
  sendBatch(messages: Iterable<MessageSendRequest<Body>>, options?: QueueSendBatchOptions): Promise<QueueSendResponse>;
  metrics(): Promise<QueueMetrics>;
}

/** Cloudflare's `Message<Body>`. */
export interface CfMessage<Body = unknown> {
  readonly id: string;
  readonly timestamp: Date;
  readonly body: Body;
  readonly attempts: number;
  ack(): void;
  retry(options?: QueueRetryOptions): void;
}

/** Cloudflare's `MessageBatch<Body>`. */
export interface CfMessageBatch<Body = unknown> {
  readonly queue: string;
  readonly messages: readonly CfMessage<Body>[];
  readonly metadata: { metrics: QueueMetrics };
  ackAll(): void;
  retryAll(options?: QueueRetryOptions): void;
}

/** Metrics not read from the server (`{metrics: true}` was not asked for). */
const UNKNOWN_METRICS: QueueMetrics = { backlogCount: Number.NaN, backlogBytes: Number.NaN };

/** The queue's backlog as Cloudflare reports it: messages not yet acked (visible, in flight, delayed). */
export async function queueMetrics(queue: Queue<unknown>): Promise<QueueMetrics> {
  const { stats } = await queue.info();
  const out: QueueMetrics = { backlogCount: stats.messages, backlogBytes: stats.bytes };
  if (stats.messages > 0) out.oldestMessageTimestamp = new Date(Date.now() - stats.oldestAgeMs);
  return out;
}

/**
 * A Cloudflare `Queue<Body>` that sends to Spool queue `name`. `{metrics: true}` fills
 * `metadata.metrics` of each send from the queue's stats (needs `manage` on the queue).
 */
export function queueBinding<Body = unknown>(spool: Spool, name: string, options: { metrics?: boolean | undefined } = {}): CfQueue<Body> {
  const queue = spool.queue<unknown>(name);
  const answer = async (): Promise<QueueSendResponse> => ({ metadata: { metrics: options.metrics ? await queueMetrics(queue) : { ...UNKNOWN_METRICS } } });
  const toSpool = (body: unknown, contentType: QueueContentType | undefined, delaySeconds: number | undefined) => {
    const encoded = encodeBody(body, contentType);
    return { body: encoded.body, headers: encoded.headers, ...(delaySeconds ? { delay: delaySeconds } : {}) };
  };
  return {
    async send(body, sendOptions = {}) {
      await queue.send(toSpool(body, sendOptions.contentType, sendOptions.delaySeconds));
      return answer();
    },
    async sendBatch(messages, batchOptions = {}) {
      const list = [...messages].map((m) => toSpool(m.body, m.contentType, m.delaySeconds ?? batchOptions.delaySeconds));
      if (list.length === 0) throw new TypeError("sendBatch needs at least one message");
      await queue.send(list);
      return answer();
    },
    metrics: () => queueMetrics(queue),
  };
}

/** How each message of a batch was settled, once the handler is done. */
export interface BatchOutcome {
  acks: string[];
  /** Receipts to retry, with the delay (seconds) of each. */
  retries: { receipt: string; delaySeconds: number }[];
}

type Explicit = { kind: "ack" } | { kind: "retry"; delaySeconds: number | undefined };

/**
 * A `MessageBatch` over leased Spool messages, recording the handler's calls by
 * Cloudflare's rules (header comment); `settle` says what to ack and retry.
 */
export class SpoolMessageBatch<Body> implements CfMessageBatch<Body> {
  readonly messages: readonly CfMessage<Body>[];
  readonly metadata: { metrics: QueueMetrics };
  #all: Explicit | undefined;
  readonly #explicit = new Map<string, Explicit>();
  readonly #receipts = new Map<string, string>();

  constructor(readonly queue: string, leased: QueueMessage<unknown>[], metrics: QueueMetrics = UNKNOWN_METRICS, private readonly warn: (message: string) => void = console.warn) {
    this.metadata = { metrics };
    this.messages = leased.map((m) => {
      if (m.receipt !== undefined) this.#receipts.set(m.id, m.receipt);
      const batch = this;
      const message: CfMessage<Body> = {
        id: m.id,
        timestamp: new Date(m.sentAt),
        body: decodeBody(m.body, m.headers) as Body,
        attempts: m.attempts,
        ack: () => batch.#call(m.id, { kind: "ack" }),
        retry: (options?: QueueRetryOptions) => batch.#call(m.id, { kind: "retry", delaySeconds: options?.delaySeconds }),
      };
      return Object.freeze(message);
    });
  }

  ackAll(): void {
    if (this.#all?.kind === "retry") return this.warn("Received a call to ackAll() after retryAll() was already called. Calling ackAll() after calling retryAll() has no effect.");
    this.#all = { kind: "ack" };
  }

  retryAll(options?: QueueRetryOptions): void {
    if (this.#all?.kind === "ack") return this.warn("Received a call to retryAll() after ackAll() was already called. Calling retryAll() after calling ackAll() has no effect.");
    this.#all = { kind: "retry", delaySeconds: options?.delaySeconds };
  }

  #call(id: string, call: Explicit): void {
    const name = call.kind === "ack" ? "ack()" : "retry()";
    // A call the batch already decided the other way only warns (workerd does the same).
    if (this.#all?.kind === call.kind) return;
    if (this.#all) return this.warn(`Received a call to ${name} on message ${id} after ${this.#all.kind}All() was already called. Calling ${name} on a message after calling ${this.#all.kind}All() has no effect.`);
    const earlier = this.#explicit.get(id);
    if (earlier && earlier.kind !== call.kind) return this.warn(`Received a call to ${name} on message ${id} after ${earlier.kind}() was already called. Calling ${name} on a message after calling ${earlier.kind}() has no effect.`);
    if (!earlier) this.#explicit.set(id, call);
  }

  /** What to do with each leased message: `threw` is the handler's outcome, `retryDelay` the consumer's default (seconds). */
  settle(threw: boolean, retryDelay: number): BatchOutcome {
    const out: BatchOutcome = { acks: [], retries: [] };
    const batchDelay = this.#all?.kind === "retry" ? this.#all.delaySeconds : undefined;
    for (const m of this.messages) {
      const receipt = this.#receipts.get(m.id);
      if (receipt === undefined) continue; // at-most-once: already gone
      const own = this.#explicit.get(m.id);
      const verdict = own ?? this.#all ?? (threw ? { kind: "retry" as const, delaySeconds: undefined } : { kind: "ack" as const });
      if (verdict.kind === "ack") out.acks.push(receipt);
      else out.retries.push({ receipt, delaySeconds: verdict.delaySeconds ?? batchDelay ?? retryDelay });
    }
    return out;
  }
}
