/**
 * The one way a partition says "the topic config you routed by is old", and the one thing
 * every caller across partitions does about it.
 *
 * Every partition RPC that carries the caller's TopicInfo reconciles it first (log/home.ts);
 * a copy older than the partition's is refused with `staleAnswer()` — a `CONFLICT` whose
 * details are `{stale: true}` — before anything is written. The caller then refetches the
 * config from the topic's home (never from the cache), routes again and repeats, at most
 * MAX_ROUTING_ATTEMPTS calls in all; a config that changes under every attempt ends the
 * request with one error, `configKeptChanging()`.
 */
import type { ErrorValue, Result } from "../../../protocol/errors";
import { ApiError } from "../../shared/errors";
import type { TopicInfo } from "../config";

/** Calls in all (the first and its repeats) before a request gives up on a changing config. */
export const MAX_ROUTING_ATTEMPTS = 4;

/** The one stale answer a partition gives: CONFLICT, `details: {stale: true}`. */
export interface StaleAnswer {
  ok: false;
  error: ErrorValue & { code: "CONFLICT"; details: { stale: true } };
}

/** What a partition answers a call that carried an older config than its own. */
export function staleAnswer(): StaleAnswer {
  return {
    ok: false,
    error: { code: "CONFLICT", message: "the topic's config changed during the request; repeat it", details: { stale: true } },
  };
}

/** True when a partition's answer is the stale answer (and nothing was done). */
export function isStale(answer: Result<unknown>): answer is StaleAnswer {
  return !answer.ok && answer.error.code === "CONFLICT" && answer.error.details?.stale === true;
}

/** What an attempt returns to be run again with a fresh config. */
export const STALE: unique symbol = Symbol("stale");
export type Stale = typeof STALE;

/** The one error of a request whose topic config changed under every attempt. */
export function configKeptChanging(): ApiError {
  return new ApiError("INTERNAL", "topic configuration kept changing; retry");
}

export interface RetryOptions {
  /** The config to try again with: the home's, not the cache's (see `fromHome` in router.ts). */
  refetch(): Promise<TopicInfo>;
  /**
   * The error to end with after the last attempt, when the caller adds to the one error
   * (a publish says which messages were written); `configKeptChanging()` by default.
   */
  giveUp?(): Error;
}

/**
 * The retry policy: runs `attempt` with `info`; while it answers STALE, refetches the
 * config and runs it again, MAX_ROUTING_ATTEMPTS times at most, then throws the one
 * error. Errors thrown by `attempt` or `refetch` (a topic deleted meanwhile: 404) end it.
 *
 * @example
 *   const page = await retryWhileStale(info, { refetch: fromHome(env, topic) }, async (i) => {
 *     const r = await partitionOf(env, i, p).readLog({ ...req, info: i });
 *     return isStale(r) ? STALE : r;
 *   });
 */
export async function retryWhileStale<T>(info: TopicInfo, options: RetryOptions, attempt: (info: TopicInfo) => Promise<T | Stale>): Promise<T> {
  let current = info;
  for (let n = 1; ; n++) {
    const answer = await attempt(current);
    if (answer !== STALE) return answer;
    if (n >= MAX_ROUTING_ATTEMPTS) throw options.giveUp?.() ?? configKeptChanging();
    current = await options.refetch();
  }
}
