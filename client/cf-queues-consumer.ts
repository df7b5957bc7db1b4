/**
 * `runQueueConsumer`: a Cloudflare Queues consumer (`queue(batch, env, ctx)`) fed from a
 * Spool queue, with Cloudflare's consumer settings:
 *   maxBatchSize     messages per batch (10, 1–100)
 *   maxBatchTimeout  seconds to wait for a batch to fill once its first message arrived (5, 0–60)
 *   maxRetries       retries before a message goes to the queue's dead-letter queue: sets the
 *                    queue's `maxReceives` to maxRetries + 1, so Spool's own mover does it
 *                    (unset: the queue's config decides, 5 deliveries by default)
 *   retryDelay       seconds before a retried message is visible again (0)
 *
 * Each batch is leased with receive (long-polling for the first message), handed to the
 * handler as a `MessageBatch` (cf-queues.ts), and settled by its calls and outcome: acked
 * messages are gone for good, retried ones are nacked with their delay (and dead-lettered
 * by the queue past `maxReceives`). Leases are extended while the handler runs, so a slow
 * batch is not redelivered under it. `untilEmpty` stops once the queue has nothing visible:
 * the form for a Worker invocation (a cron trigger, a request) rather than a server.
 */
import { sleep } from "./backoff.js";
import { SpoolMessageBatch, queueMetrics, type CfMessageBatch, type QueueMetrics } from "./cf-queues.js";
import { AuthError, InvalidRequestError, NotFoundError, ReceiptError } from "./errors.js";
import type { Queue } from "./queues.js";
import type { QueueMessage } from "./types.js";

/** Cloudflare's consumer defaults (wrangler's `[[queues.consumers]]`). */
export const QUEUE_CONSUMER_DEFAULTS = { maxBatchSize: 10, maxBatchTimeout: 5, retryDelay: 0 } as const;
/** Longest single long poll (the server's limit, seconds). */
const MAX_WAIT_S = 20;
/** Lease when the queue's own cannot be read (seconds). */
const FALLBACK_LEASE_S = 30;

/** What `waitUntil` and `passThroughOnException` a handler may call. */
export interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}

/** A Cloudflare `queue` handler: the function, or an object with `queue` (an `ExportedHandler`). */
export type QueueConsumerHandler<Body = unknown, Env = unknown> =
  | ((batch: CfMessageBatch<Body>, env: Env, ctx: ExecutionContextLike) => unknown)
  | { queue(batch: CfMessageBatch<Body>, env: Env, ctx: ExecutionContextLike): unknown };

export interface QueueConsumerOptions<Env = unknown> {
  maxBatchSize?: number | undefined;
  maxBatchTimeout?: number | undefined;
  maxRetries?: number | undefined;
  retryDelay?: number | undefined;
  /** Lease of each batch in seconds (default: the queue's `visibilityTimeout`); extended while the handler runs. */
  visibilityTimeout?: number | undefined;
  /** Passed to the handler as `env`. */
  env?: Env | undefined;
  /** Passed to the handler as `ctx` (a Worker's own); by default one whose `waitUntil` work the consumer awaits per batch. */
  ctx?: ExecutionContextLike | undefined;
  /** Stop once a receive finds nothing visible (a Worker invocation draining the queue). */
  untilEmpty?: boolean | undefined;
  /** Fill each batch's `metadata.metrics` from the queue's stats (one more call per batch). */
  metrics?: boolean | undefined;
  signal?: AbortSignal | undefined;
  /** A handler's error, a failed ack, or the error that ended the consumer. */
  onError?: ((error: unknown) => void) | undefined;
}

export interface QueueConsumer extends AsyncDisposable {
  /** Resolves when the consumer stopped: undefined, or the error that ended it. */
  readonly closed: Promise<Error | undefined>;
  readonly counts: { batches: number; acked: number; retried: number; failedBatches: number };
  /** Stops taking batches; the batch in hand finishes and is settled first. */
  close(): Promise<void>;
}

function handlerOf<Body, Env>(handler: QueueConsumerHandler<Body, Env>): (batch: CfMessageBatch<Body>, env: Env, ctx: ExecutionContextLike) => unknown {
  return typeof handler === "function" ? handler : (batch, env, ctx) => handler.queue(batch, env, ctx);
}

function inRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${name} must be an integer in ${min}..${max}`);
  return value;
}

/** Runs `handler` over batches of `queue` until closed (or, with `untilEmpty`, until it is empty). */
export function runQueueConsumer<Body = unknown, Env = unknown>(
  queue: Queue<Body>,
  handler: QueueConsumerHandler<Body, Env>,
  options: QueueConsumerOptions<Env> = {},
): QueueConsumer {
  const maxBatchSize = inRange("maxBatchSize", options.maxBatchSize ?? QUEUE_CONSUMER_DEFAULTS.maxBatchSize, 1, 100);
  const maxBatchTimeout = inRange("maxBatchTimeout", options.maxBatchTimeout ?? QUEUE_CONSUMER_DEFAULTS.maxBatchTimeout, 0, 60);
  const retryDelay = inRange("retryDelay", options.retryDelay ?? QUEUE_CONSUMER_DEFAULTS.retryDelay, 0, 43_200);
  if (options.maxRetries !== undefined) inRange("maxRetries", options.maxRetries, 0, 999);
  const run = handlerOf(handler);
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const counts = { batches: 0, acked: 0, retried: 0, failedBatches: 0 };
  const report = (err: unknown): void => options.onError?.(err);

  /** The lease of each batch: asked for, the queue's, or a fallback when its config cannot be read. */
  const prepare = async (): Promise<number> => {
    if (options.maxRetries !== undefined) await queue.configure({ maxReceives: options.maxRetries + 1 });
    if (options.visibilityTimeout !== undefined) return options.visibilityTimeout;
    try {
      return (await queue.info()).config.visibilityTimeout;
    } catch (err) {
      if (err instanceof NotFoundError || err instanceof AuthError) return FALLBACK_LEASE_S;
      throw err;
    }
  };

  /** Leases up to a batch: waits (long polls) for the first message, then tops up within maxBatchTimeout. */
  const collect = async (lease: number): Promise<QueueMessage<Body>[]> => {
    const receive = (max: number, wait: number) => queue.receive({ max, wait, visibilityTimeout: lease, signal: stop.signal });
    const batch = await receive(maxBatchSize, options.untilEmpty ? 0 : MAX_WAIT_S);
    const deadline = Date.now() + maxBatchTimeout * 1000;
    while (batch.length > 0 && batch.length < maxBatchSize && !stop.signal.aborted) {
      const left = deadline - Date.now();
      let more: QueueMessage<Body>[];
      try {
        more = await receive(maxBatchSize - batch.length, options.untilEmpty || left <= 0 ? 0 : Math.min(MAX_WAIT_S, Math.ceil(left / 1000)));
      } catch (err) {
        if (stop.signal.aborted) break; // closing: what is leased is still handled and settled
        throw err;
      }
      if (more.length === 0) break;
      batch.push(...more);
    }
    return batch;
  };

  const handle = async (leased: QueueMessage<Body>[], lease: number): Promise<void> => {
    const metrics: QueueMetrics | undefined = options.metrics ? await queueMetrics(queue as Queue<unknown>).catch(() => undefined) : undefined;
    const batch = new SpoolMessageBatch<Body>(queue.name, leased as QueueMessage<unknown>[], metrics);
    const receipts = leased.flatMap((m) => (m.receipt === undefined ? [] : [m.receipt]));
    const pending: Promise<unknown>[] = [];
    const ctx = options.ctx ?? { waitUntil: (p: Promise<unknown>) => void pending.push(p), passThroughOnException: () => {} };
    // Keep the leases while the handler runs: an extend every third of the lease.
    const keepAlive = receipts.length > 0 ? setInterval(() => void queue.extend(receipts, lease).catch(report), (lease * 1000) / 3) : undefined;
    let threw = false;
    try {
      await run(batch, options.env as Env, ctx);
    } catch (err) {
      threw = true;
      counts.failedBatches++;
      report(err);
    } finally {
      clearInterval(keepAlive);
    }
    const outcome = batch.settle(threw, retryDelay);
    const acks = outcome.acks.length > 0 ? queue.ack(outcome.acks) : undefined;
    const byDelay = new Map<number, string[]>();
    for (const r of outcome.retries) byDelay.set(r.delaySeconds, [...(byDelay.get(r.delaySeconds) ?? []), r.receipt]);
    const nacks = [...byDelay].map(([delay, list]) => queue.nack(list, { delay }));
    for (const result of await Promise.all([acks, ...nacks])) {
      if (!result) continue;
      const failed = result.failed;
      if ("acked" in result) counts.acked += result.acked;
      else counts.retried += result.nacked;
      if (failed.length > 0) {
        report(new ReceiptError({ code: "RECEIPT_INVALID", status: 400, message: `${failed.length} message(s) of the batch were no longer leased when it settled (their lease ended): they are redelivered`, details: { failed } }));
      }
    }
    await Promise.allSettled(pending);
    counts.batches++;
  };

  const loop = async (): Promise<Error | undefined> => {
    let lease = FALLBACK_LEASE_S;
    let failures = 0;
    let prepared = false;
    while (!stop.signal.aborted) {
      try {
        if (!prepared) {
          lease = await prepare();
          prepared = true;
        }
        const leased = await collect(lease);
        failures = 0;
        if (leased.length === 0) {
          if (options.untilEmpty) return undefined;
          continue;
        }
        await handle(leased, lease);
      } catch (err) {
        if (stop.signal.aborted) return undefined;
        // A missing queue, credential or capability, or bad options will not fix themselves.
        if (err instanceof AuthError || err instanceof InvalidRequestError) return err;
        if (err instanceof NotFoundError && options.untilEmpty) return undefined;
        report(err);
        failures++;
        await sleep(Math.min(5_000, 250 * 2 ** Math.min(failures, 5)), stop.signal);
      }
    }
    return undefined;
  };

  const closed = loop().then((err) => {
    options.signal?.removeEventListener("abort", onAbort);
    if (err) report(err);
    return err;
  });
  const close = async (): Promise<void> => {
    stop.abort();
    await closed;
  };
  return { closed, counts, close, [Symbol.asyncDispose]: close };
}
