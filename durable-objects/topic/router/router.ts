/**
 * The topic router: how anything — a Worker route, a WebSocket `publish` frame, the topic's
 * home — calls a topic's partitions. Partitions are addressed by the config the caller
 * routes with (their count and location hint); messages are placed by key hash; a call can
 * go to one partition or fan out to all; and calls that carry the caller's TopicInfo follow
 * the one retry policy of retry.ts.
 *
 * Modules beside this one use it for each kind of work: directory.ts (the config cache),
 * publish.ts, topics.ts (reads and status), groups.ts, subscriptions.ts, live.ts.
 */
import type { TopicPartition } from "../object";
import type { Env } from "../../env";
import type { Result } from "../../../protocol/errors";
import { partitionStub } from "../../env";
import { partitionFor } from "../../../protocol/key-hash";
import type { TopicInfo } from "../config";
import { requireTopic } from "./directory";
import { isStale, retryWhileStale, STALE, type RetryOptions } from "./retry";

export type PartitionStub = DurableObjectStub<TopicPartition>;

/** A call on one partition that carries the caller's copy of the config. */
export type PartitionCall<T> = (stub: PartitionStub, info: TopicInfo, partition: number) => Promise<Result<T>>;

/** Partition `p`'s object, with the topic's location hint (it only matters when the object is new). */
export function partitionOf(env: Env, info: TopicInfo, p: number): PartitionStub {
  return partitionStub(env, info.name, p, info.config.locationHint ?? undefined);
}

/** The partition numbers `from … partitions-1` of the config. */
export function partitionsOf(info: TopicInfo, from = 0): number[] {
  const out: number[] = [];
  for (let p = from; p < info.config.partitions; p++) out.push(p);
  return out;
}

/** Where a message belongs: `hash(key)`, else `hash(id)`, mod the config's partition count. */
export function partitionForMessage(info: TopicInfo, key: string | null, id: string): number {
  return partitionFor(key, id, info.config.partitions);
}

/** The default refetch of the retry policy: the home's config; `404` once the topic is gone. */
export function fromHome(env: Env, topic: string): () => Promise<TopicInfo> {
  return () => requireTopic(env, topic, { fresh: true });
}

/**
 * Calls partition `p` with the caller's config; a stale answer is repeated with a fresh
 * config (retry.ts). Answers the partition's first answer that is not stale.
 */
export async function onPartition<T>(
  env: Env, info: TopicInfo, p: number, call: PartitionCall<T>, refetch: RetryOptions["refetch"] = fromHome(env, info.name),
): Promise<Result<T>> {
  return retryWhileStale(info, { refetch }, async (current) => {
    const answer = await call(partitionOf(env, current, p), current, p);
    return isStale(answer) ? STALE : answer;
  });
}

export interface EveryPartition<T> {
  /** The config the answers were given under (fresher than the caller's after a retry). */
  info: TopicInfo;
  /** One answer per partition `from … partitions-1`, in partition order. */
  answers: Array<Result<T>>;
}

/**
 * Calls every partition of the config (from `from`) at once. When any answers stale, all
 * the partitions of a fresh config are called again, so a topic that grew meanwhile is
 * covered whole: the calls must be safe to repeat.
 */
export async function onEveryPartition<T>(
  env: Env, info: TopicInfo, call: PartitionCall<T>, options: { from?: number; refetch?: RetryOptions["refetch"] } = {},
): Promise<EveryPartition<T>> {
  const refetch = options.refetch ?? fromHome(env, info.name);
  return retryWhileStale(info, { refetch }, async (current) => {
    const answers = await Promise.all(partitionsOf(current, options.from).map((p) => call(partitionOf(env, current, p), current, p)));
    return answers.some(isStale) ? STALE : { info: current, answers };
  });
}

/**
 * Calls every partition (from `from`) at once with no config check and no retry: for calls
 * that carry no TopicInfo (reads and deletes of subscriptions, deleting partitions), and
 * for the home handing partitions its config, which is never older than theirs.
 */
export function eachPartition<T>(env: Env, info: TopicInfo, call: (stub: PartitionStub, partition: number) => Promise<T>, from = 0): Promise<T[]> {
  return Promise.all(partitionsOf(info, from).map((p) => call(partitionOf(env, info, p), p)));
}
