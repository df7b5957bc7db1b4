/**
 * Spool's client for browsers, Workers and Node 22 — `fetch`, `WebSocket` and
 * `AbortSignal` only, no dependencies.
 *
 *   import { Spool } from "spool/client";
 *   const spool = new Spool({ url: "https://spool.example.com", getToken: fetchMyToken });
 *   await spool.queue("jobs").send({ body: { task: "resize", id: 7 } });
 *   for await (const m of spool.topic("chat").subscribe({ from: "earliest" })) show(m.body);
 *
 * In another Worker bound to Spool's SpoolEntrypoint, the same SDK with no URL or credential:
 * `new Spool({ binding: env.SPOOL })` (binding.ts); Cloudflare Queues code moves over with
 * `queueBinding` and `runQueueConsumer` (cf-queues.ts).
 */
import "./dispose.js";
import { Credentials, type CredentialOptions } from "./auth.js";
import type { ClientContext, Closable } from "./context.js";
import { BINDING_ADMIN, BINDING_BASE_URL, bindingFetch, type SpoolBinding } from "./binding.js";
import { closedError, Http, type FetchLike, type RetryOptions } from "./http.js";
import type { BatchOptions } from "./publisher.js";
import { Queue } from "./queues.js";
import { StatusHub, type ConnectionStatus } from "./status.js";
import { Topic } from "./topics.js";
import type { Health, QueueSummary, TokenRequest, TokenResult, TopicSummary } from "./types.js";

interface CommonOptions extends CredentialOptions {
  /** Retries of `429`/`503` (after `Retry-After`) and of network failures. */
  retry?: RetryOptions | undefined;
  /** Automatic batching of `topic.publish(message)`. */
  batching?: BatchOptions | undefined;
  /** Longest a subscription's or consumer's WebSocket handshake may take before it is retried (ms, default 15,000). */
  connectTimeoutMs?: number | undefined;
}

/** Spool over HTTP: its URL and a credential (`token` or `getToken`). */
export interface SpoolUrlOptions extends CommonOptions {
  /** Base URL of the broker, e.g. `https://spool.example.com` (no `/v1`). */
  url: string;
  /** The `fetch` to call (default: the global one). */
  fetch?: FetchLike | undefined;
  binding?: undefined;
}

/**
 * Spool from another Worker, through a service binding to its `SpoolEntrypoint`
 * (`new Spool({ binding: env.SPOOL })`): no URL, and no credential (a binding acts as the
 * admin) unless `token`/`getToken` narrows it. binding.ts says how.
 */
export interface SpoolBindingOptions extends CommonOptions {
  binding: SpoolBinding;
  url?: undefined;
  fetch?: undefined;
}

export type SpoolOptions = SpoolUrlOptions | SpoolBindingOptions;

export class Spool implements AsyncDisposable {
  private readonly http: Http;
  private readonly hub = new StatusHub();
  private readonly streams = new Set<Closable>();
  private readonly topicHandles = new Map<string, Topic<unknown>>();
  private readonly ctx: ClientContext;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: SpoolOptions) {
    if (options.binding) {
      const credentials = options.token === undefined && options.getToken === undefined ? { token: BINDING_ADMIN } : options;
      this.http = new Http(BINDING_BASE_URL, new Credentials(credentials), bindingFetch(options.binding), options.retry, options.connectTimeoutMs);
    } else {
      const fetchImpl: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
      this.http = new Http(options.url, new Credentials(options), fetchImpl, options.retry, options.connectTimeoutMs);
    }
    this.ctx = {
      http: this.http,
      status: this.hub,
      track: (stream) => {
        if (this.closing) void stream.close();
        this.streams.add(stream);
        return () => void this.streams.delete(stream);
      },
    };
  }

  /**
   * Another client on the same server (URL or binding) with `token` as its credential: over
   * a binding, which acts as the admin, this narrows what the client may do to the token's
   * capabilities. The new client is closed on its own.
   */
  withToken(token: string): Spool {
    return new Spool({ ...this.options, token, getToken: undefined });
  }

  /** A queue by name (nothing is sent until you call a method). */
  queue<T = unknown>(name: string): Queue<T> {
    return new Queue<T>(this.ctx, name);
  }

  /** A topic by name. The same handle is returned for the same name, so publishes batch together. */
  topic<T = unknown>(name: string): Topic<T> {
    let t = this.topicHandles.get(name);
    if (!t) {
      t = new Topic<unknown>(this.ctx, name, this.options.batching);
      this.topicHandles.set(name, t);
    }
    return t as Topic<T>;
  }

  /** Every queue with its stats (needs `manage` on `queues/*`). */
  async queues(): Promise<QueueSummary[]> {
    return (await this.http.request<{ queues: QueueSummary[] }>("GET", "/v1/queues", { idempotent: true })).queues;
  }

  /** Every topic with its partition count (needs `manage` on `topics/*`). */
  async topics(): Promise<TopicSummary[]> {
    return (await this.http.request<{ topics: TopicSummary[] }>("GET", "/v1/topics", { idempotent: true })).topics;
  }

  /** Mints a capability token (admin key only: call this on your server, hand the token to the browser). */
  createToken(request: TokenRequest): Promise<TokenResult> {
    return this.http.request("POST", "/v1/tokens", { body: request });
  }

  health(): Promise<Health> {
    return this.http.request("GET", "/health", { idempotent: true });
  }

  /** Connection states of every subscription and consumer, from now until `close()`. */
  status(): AsyncIterableIterator<ConnectionStatus> {
    return this.hub.iterate();
  }

  /**
   * Sends waiting publishes, stops consumers (letting running handlers finish and ack),
   * ends subscriptions and status iterators. Later calls fail with `ClosedError`.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.topicHandles.values()].map((t) => t.flush()));
      await Promise.allSettled([...this.streams].map((s) => s.close()));
      this.http.lifetime.abort(closedError());
      this.hub.end();
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

export { Queue, type SendOptions } from "./queues.js";
export { Topic, type FanOut } from "./topics.js";
export { Group, GroupConsumer, GROUP_POLL_WAIT_S, type GroupConsumeOptions, type GroupNackOptions } from "./groups.js";
export {
  Subscription, SUBSCRIBE_BUFFER_MESSAGES, SUBSCRIBE_CONFIRM_INTERVAL_MS, AUTO_FALLBACK_AFTER,
  type Positions, type SubscribeOptions, type SubscriptionState,
} from "./subscribe.js";
export {
  Consumer, CONSUME_CONCURRENCY, CONSUME_PREFETCH, DEFAULT_VISIBILITY_TIMEOUT_S, EXTEND_PER_LEASE, MAX_CREDIT, NACK_BASE_DELAY_S,
  NACK_MAX_DELAY_S, defaultNackDelay, type ConsumeOptions,
} from "./consume.js";
export { ConsumerBase, type HandlerContext, type MessageHandler } from "./handlers.js";
export {
  idempotent, IdempotencyBusyError, IDEMPOTENCY_BUSY_POLL_MS, IDEMPOTENCY_RESERVE_S, IDEMPOTENCY_TTL_S,
  type IdempotencyStore, type IdempotentOptions, type LegacyIdempotencyStore, type Reservation,
} from "./idempotent.js";
export { kvStore, MemoryStore, MEMORY_STORE_MAX_ENTRIES, sqliteStore, type KVNamespaceLike, type SqliteDatabaseLike } from "./idempotency-stores.js";
export { PUBLISH_LINGER_MS, PUBLISH_MAX_BATCH, PUBLISH_MAX_BATCH_BYTES, type BatchOptions } from "./publisher.js";
export { RECONNECT_INITIAL_DELAY_MS, RECONNECT_MAX_DELAY_MS, RECONNECT_MULTIPLIER, RECONNECT_JITTER, RECONNECT_MAX_ATTEMPTS, backoffDelay, type ReconnectOptions } from "./backoff.js";
export { HEALTHY_CONNECTION_MS } from "./reconnect.js";
export { RETRY_MAX_ATTEMPTS, RETRY_MAX_WAIT_MS, RETRY_DEFAULT_WAIT_MS, NETWORK_RETRY_DELAY_MS, type RetryOptions, type FetchLike } from "./http.js";
export { TOKEN_REFRESH_MARGIN_MS, TOKEN_REFRESH_FRACTION, type TokenSource, type CredentialOptions } from "./auth.js";
export { SSE_IDLE_TIMEOUT_MS } from "./sse.js";
export type { ConnectionStatus, StreamRef } from "./status.js";
export type { TransportName } from "./transports.js";
export { CloseCodes } from "../protocol/sockets.js";
export {
  SpoolError, InvalidRequestError, AuthError, NotFoundError, ConflictError, ReceiptError, BackpressureError, ServerError,
  ConnectionError, ClosedError, GapError, ERROR_FAMILIES, ErrorCodes, type ErrorCode, type ClientErrorCode,
} from "./errors.js";
export { newId } from "./ids.js";
export { unwrapResult, BINDING_BASE_URL, type SpoolBinding, type BindingResult } from "./binding.js";
export {
  queueBinding, runQueueConsumer, QUEUE_CONSUMER_DEFAULTS, type CfQueue, type CfMessage, type CfMessageBatch, type QueueContentType,
  type QueueConsumerHandler, type QueueConsumerOptions, type QueueConsumer, type MessageSendRequest, type QueueSendOptions,
  type QueueSendBatchOptions, type QueueRetryOptions,
} from "./cf-queues.js";
export type * from "./types.js";
