/**
 * Where the router learns a topic's config: from the topic's home (partition 0's object),
 * cached per isolate for a few seconds so a publish costs one call, not two. A stale copy
 * is safe: partitions compare the copy's stamp with their own and answer stale, and the
 * router refetches with `fresh: true` and routes again (retry.ts). Creating, changing and
 * deleting a topic go through here too, so the cache follows them. Creating one is admitted
 * first: the Catalog lists the name within the `SPOOL_MAX_TOPICS` quota, or refuses it with
 * QUOTA_EXCEEDED before anything is created (`admitTopic`).
 */
import { ApiError, unwrap } from "../../shared/errors";
import type { Env } from "../../env";
import { catalogStub, partitionStub } from "../../env";
import { DEFAULT_TOPIC_CONFIG, type TopicConfigPatch } from "../../../protocol/topics";
import type { TopicInfo } from "../config";
import type { Result } from "../../../protocol/errors";
import { now } from "../../shared/clock";

const TTL_MS = 5000;
const MAX_CACHED = 1000;
const cache = new Map<string, { info: TopicInfo; until: number }>();

function remember(info: TopicInfo): TopicInfo {
  cache.delete(info.name);
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(info.name, { info, until: Date.now() + TTL_MS });
  return info;
}

/** Drops the cached copy (around a DELETE). */
function forgetTopic(topic: string): void {
  cache.delete(topic);
}

/** The topic's config, or null when the topic does not exist. */
export async function getTopic(env: Env, topic: string, options: { fresh?: boolean } = {}): Promise<TopicInfo | null> {
  const hit = cache.get(topic);
  if (hit && !options.fresh && hit.until > Date.now()) return hit.info;
  const info = await partitionStub(env, topic, 0).describeTopic();
  if (!info) {
    cache.delete(topic);
    return null;
  }
  return remember(info);
}

/** The topic's config; `404 NOT_FOUND` when it was never created. */
export async function requireTopic(env: Env, topic: string, options: { fresh?: boolean } = {}): Promise<TopicInfo> {
  const info = await getTopic(env, topic, options);
  if (!info) throw new ApiError("NOT_FOUND", `topic '${topic}' does not exist`, { topic });
  return info;
}

/** The topic's config, creating the topic with the default config if it does not exist. */
export async function ensureTopic(env: Env, topic: string, options: { fresh?: boolean } = {}): Promise<TopicInfo> {
  const known = await getTopic(env, topic, options);
  if (known) return known;
  return creating(env, topic, {}, () => partitionStub(env, topic, 0).configureTopic(topic, {}, "ensure"));
}

/** PUT: create or change the topic on its home; the home passes it on to every partition. */
export async function configureTopic(env: Env, topic: string, patch: TopicConfigPatch): Promise<TopicInfo> {
  const hint = patch.locationHint ?? undefined;
  const put = () => partitionStub(env, topic, 0, hint).configureTopic(topic, patch, "put");
  // Only a PUT that creates the topic needs a place in the quota; ask the home, not the cache.
  if (await getTopic(env, topic, { fresh: true })) return remember(unwrap(await put()));
  return creating(env, topic, patch, put);
}

/**
 * Creates a topic that did not exist a moment ago: listed in the Catalog first (the quota's
 * gate: QUOTA_EXCEEDED creates nothing), then created on its home. When the creation failed
 * and the topic still does not exist, the place is given back.
 */
async function creating(env: Env, topic: string, patch: TopicConfigPatch, create: () => Promise<Result<TopicInfo>>): Promise<TopicInfo> {
  const partitions = patch.partitions ?? DEFAULT_TOPIC_CONFIG.partitions;
  unwrap(await catalogStub(env).register("topics", topic, now(), { partitions }));
  let created: Result<TopicInfo>;
  try {
    created = await create();
  } catch (err) {
    await releaseUnlessCreated(env, topic);
    throw err;
  }
  if (!created.ok) await releaseUnlessCreated(env, topic);
  return remember(unwrap(created));
}

async function releaseUnlessCreated(env: Env, topic: string): Promise<void> {
  try {
    if (!(await partitionStub(env, topic, 0).describeTopic())) await catalogStub(env).unregister("topics", topic);
  } catch (err) {
    console.warn(`catalog unregister of topic '${topic}' failed`, err);
  }
}

/** DELETE: the home deletes every partition, then itself; `404` for a topic never created. */
export async function deleteTopic(env: Env, topic: string): Promise<void> {
  forgetTopic(topic);
  unwrap(await partitionStub(env, topic, 0).destroyTopic(topic));
  forgetTopic(topic);
}

/**
 * Checks a `partition` parameter against the topic (`400 VALIDATION_FAILED` outside
 * 0 … partitions-1). A number past a cached count is checked again against the home,
 * in case the topic grew elsewhere; returns the info it decided with.
 */
export async function checkPartition(env: Env, info: TopicInfo, partition: number): Promise<TopicInfo> {
  let current = info;
  if (partition >= current.config.partitions) current = await requireTopic(env, info.name, { fresh: true });
  if (!Number.isInteger(partition) || partition < 0 || partition >= current.config.partitions) {
    throw new ApiError("VALIDATION_FAILED", `partition: must be an integer from 0 to ${current.config.partitions - 1}`, {
      field: "partition",
      partitions: current.config.partitions,
    });
  }
  return current;
}

/** The topic's config, checked to have partition `partition` (`404`, `400` as above). */
export async function requirePartition(env: Env, topic: string, partition: number): Promise<TopicInfo> {
  return checkPartition(env, await requireTopic(env, topic), partition);
}
