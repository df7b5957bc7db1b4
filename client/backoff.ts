/**
 * Reconnect and retry timing: the named defaults, jittered exponential backoff and an
 * abortable sleep. Jitter spreads reconnecting clients so a restarted server is not met
 * by all of them in the same millisecond.
 */

/** First reconnect delay after a connection drops. */
export const RECONNECT_INITIAL_DELAY_MS = 250;
/** Ceiling of the reconnect delay. */
export const RECONNECT_MAX_DELAY_MS = 5_000;
/** Growth of the delay per failed attempt. */
export const RECONNECT_MULTIPLIER = 2;
/** Fraction of each delay that is randomised (0 = none, 1 = "full jitter"). */
export const RECONNECT_JITTER = 0.5;
/** Reconnect attempts before giving up (a subscription is meant to outlive outages). */
export const RECONNECT_MAX_ATTEMPTS = Number.POSITIVE_INFINITY;

/** How a stream reconnects; every field defaults to the constant of the same name. */
export interface ReconnectOptions {
  initialDelayMs?: number | undefined;
  maxDelayMs?: number | undefined;
  multiplier?: number | undefined;
  jitter?: number | undefined;
  maxAttempts?: number | undefined;
}

/**
 * The delay before reconnect attempt `attempt` (1-based): exponential up to the ceiling,
 * with the jittered fraction drawn uniformly below the nominal delay.
 */
export function backoffDelay(attempt: number, options: ReconnectOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialDelayMs ?? RECONNECT_INITIAL_DELAY_MS;
  const max = options.maxDelayMs ?? RECONNECT_MAX_DELAY_MS;
  const multiplier = options.multiplier ?? RECONNECT_MULTIPLIER;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? RECONNECT_JITTER));
  const nominal = Math.min(max, initial * multiplier ** Math.max(0, attempt - 1));
  return Math.round(nominal * (1 - jitter) + nominal * jitter * random());
}

/** Resolves after `ms`, or early (with `false`) when `signal` aborts. Never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
