/**
 * Retry timing for subscription forwarding: exponential backoff with jitter. The first retry
 * comes after about 1 s, each further one doubles, capped at 10 minutes. Jitter (±25 %)
 * keeps many subscriptions that failed together from retrying in lockstep.
 */

export const FIRST_RETRY_MS = 1_000;
export const MAX_RETRY_MS = 10 * 60_000;
const JITTER = 0.25;

/**
 * Milliseconds to wait after the `failures`-th consecutive failure (1 = the first).
 * `random` is injectable so tests can pin the jitter.
 * @example retryDelayMs(1) // ~1000;  retryDelayMs(3) // ~4000;  retryDelayMs(40) // <= 600000
 */
export function retryDelayMs(failures: number, random: () => number = Math.random): number {
  const exp = Math.min(Math.max(failures, 1) - 1, 30);
  const base = Math.min(FIRST_RETRY_MS * 2 ** exp, MAX_RETRY_MS);
  const jittered = base * (1 - JITTER + 2 * JITTER * random());
  return Math.round(Math.min(jittered, MAX_RETRY_MS));
}
