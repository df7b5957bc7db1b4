/**
 * HTTP plumbing: one `request` that adds the credential, sends JSON, turns error bodies
 * into typed errors, refreshes the token once on `401`, and retries `429`/`503` after the
 * server's `Retry-After` (bounded), and network failures of idempotent requests.
 */
import type { Credentials } from "./auth.js";
import { sleep } from "./backoff.js";
import { ClosedError, ConnectionError, errorFromResponse, SpoolError } from "./errors.js";

/** The `fetch` the client calls; a Worker may pass a service binding's `fetch`. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** Attempts per request (the first try included) for retryable failures. */
export const RETRY_MAX_ATTEMPTS = 4;
/** Longest `Retry-After` the client waits out by itself; longer ones are thrown to the caller. */
export const RETRY_MAX_WAIT_MS = 30_000;
/** Wait for a `429`/`503` that came without `Retry-After`. */
export const RETRY_DEFAULT_WAIT_MS = 1_000;
/** First wait after a network failure (doubling per attempt). */
export const NETWORK_RETRY_DELAY_MS = 200;
/** Longest a WebSocket handshake may take before it counts as failed (and is retried by the stream). */
export const CONNECT_TIMEOUT_MS = 15_000;

export interface RetryOptions {
  /** Attempts per request, the first included (RETRY_MAX_ATTEMPTS). 1 disables retries. */
  maxAttempts?: number | undefined;
  /** Longest server-requested wait honoured (RETRY_MAX_WAIT_MS). */
  maxWaitMs?: number | undefined;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query | undefined;
  body?: unknown | undefined;
  headers?: Record<string, string> | undefined;
  signal?: AbortSignal | undefined;
  /** Safe to repeat after a network failure: reads, PUT/DELETE, sends that carry ids. */
  idempotent?: boolean | undefined;
}

export class Http {
  readonly baseUrl: string;
  private readonly maxAttempts: number;
  private readonly maxWaitMs: number;
  /** Aborted by `Spool.close()`: ends retries' sleeps and in-flight long polls. */
  readonly lifetime = new AbortController();

  constructor(
    baseUrl: string,
    readonly credentials: Credentials,
    readonly fetchImpl: FetchLike,
    retry: RetryOptions = {},
    /** A server or proxy that accepts the connection but never answers must not stall a stream forever. */
    readonly connectTimeoutMs = CONNECT_TIMEOUT_MS,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.maxAttempts = Math.max(1, retry.maxAttempts ?? RETRY_MAX_ATTEMPTS);
    this.maxWaitMs = retry.maxWaitMs ?? RETRY_MAX_WAIT_MS;
  }

  /** Absolute URL of an API path with its query string (undefined values left out). */
  url(path: string, query: Query = {}): string {
    const u = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /** Sends a request and returns its parsed JSON body (undefined for `204`). */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, options);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Sends a request with retries and returns the successful `Response` unread. */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const url = this.url(path, options.query);
    const signal = options.signal ? anySignal([options.signal, this.lifetime.signal]) : this.lifetime.signal;
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      if (this.lifetime.signal.aborted) throw closedError();
      const headers: Record<string, string> = { authorization: `Bearer ${await this.credentials.get()}`, ...options.headers };
      let body: string | undefined;
      if (options.body !== undefined) {
        headers["content-type"] = "application/json";
        body = JSON.stringify(options.body);
      }
      let res: Response;
      try {
        res = await this.fetchImpl(url, body === undefined ? { method, headers, signal } : { method, headers, body, signal });
      } catch (err) {
        if (signal.aborted) throw this.lifetime.signal.aborted ? closedError() : (options.signal?.reason ?? err);
        const failure = new ConnectionError({ code: "CONNECTION_FAILED", status: 0, message: `${method} ${path}: ${String(err)}`, cause: err });
        if (!options.idempotent || attempt >= this.maxAttempts) throw failure;
        await sleep(NETWORK_RETRY_DELAY_MS * 2 ** (attempt - 1), signal);
        continue;
      }
      if (res.ok) return res;
      const error = await errorFromResponse(res);
      if (res.status === 401 && this.credentials.canRefresh && !refreshed) {
        refreshed = true;
        await this.credentials.refresh();
        attempt--; // a refresh is not a retry
        continue;
      }
      const waitMs = this.retryWait(error, attempt);
      if (waitMs === undefined) throw error;
      if (!(await sleep(waitMs, signal))) throw this.lifetime.signal.aborted ? closedError() : (options.signal?.reason ?? error);
    }
  }

  /** How long to wait before retrying after `error`, or undefined to give up. */
  private retryWait(error: SpoolError, attempt: number): number | undefined {
    if (error.status !== 429 && error.status !== 503) return undefined;
    if (attempt >= this.maxAttempts) return undefined;
    const ms = error.retryAfter !== undefined ? error.retryAfter * 1000 : RETRY_DEFAULT_WAIT_MS;
    return ms > this.maxWaitMs ? undefined : ms;
  }
}

export function closedError(): ClosedError {
  return new ClosedError({ code: "CLOSED", status: 0, message: "the Spool client is closed" });
}

/** An AbortSignal that aborts when any of `signals` does (AbortSignal.any where available). */
export function anySignal(signals: AbortSignal[]): AbortSignal {
  const any = (AbortSignal as unknown as { any?: (s: AbortSignal[]) => AbortSignal }).any;
  if (any) return any(signals);
  const ctrl = new AbortController();
  for (const s of signals) {
    if (s.aborted) {
      ctrl.abort(s.reason);
      break;
    }
    s.addEventListener("abort", () => ctrl.abort(s.reason), { once: true });
  }
  return ctrl.signal;
}
