/**
 * Keeping a topic's partitions in agreement about its config.
 *
 * Partition 0's object is the topic's home: it holds the authoritative config, stamped
 * with an incarnation (new each time the topic is created) and a version (bumped on each
 * change). Every other partition keeps the copy it was last given. Every call a Worker
 * makes on a partition carries the Worker's copy; the partition `reconcile`s it with its
 * own: a newer version of the same incarnation is adopted, an older one is answered
 * stale (the router refetches from home and routes again: router/retry.ts), and anything
 * it cannot judge alone (no state yet, another incarnation) it settles by asking home.
 */
import type { Env } from "../../env";
import type { Result } from "../../../protocol/errors";
import { catalogStub, partitionStub } from "../../env";
import { now } from "../../shared/clock";
import { DEFAULT_TOPIC_CONFIG, type TopicConfigPatch } from "../../../protocol/topics";
import { mergeConfig, sameConfig, sameStamp, type TopicInfo } from "../config";
import { copySubscriptions } from "../forward/sync";
import { eachPartition } from "../router/router";
import type { TopicLog } from "./log";

/** What these functions need of the partition object. */
export interface PartitionContext {
  env: Env;
  log: TopicLog;
  /** Deletes everything the object stores (every module) and closes its sockets. */
  wipe(): Promise<void>;
  /** Runs `fn` with no other event delivered to the object meanwhile. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
}

/** True when this partition now holds exactly the config `info` names. */
export async function reconcile(pc: PartitionContext, topic: string, partition: number, info: TopicInfo): Promise<boolean> {
  const verdict = pc.log.judge(info, partition);
  if (verdict === "ok") return true;
  if (verdict === "stale") return false;
  if (verdict === "adopt") {
    await pc.log.adopt(topic, partition, info);
    return true;
  }
  // Rare (first contact, or a leftover of a deleted topic): settle it with nothing else
  // running here, so two callers cannot wipe and adopt across each other.
  return pc.exclusive(async () => {
    const again = pc.log.judge(info, partition);
    if (again !== "ask-home") return again === "ok";
    // Straight to the home, not through the router's cache: this is how a cache gets fixed.
    const home = await partitionStub(pc.env, topic, 0).describeTopic();
    if (pc.log.exists() && (!home || pc.log.incarnation() !== home.stamp.incarnation)) await pc.wipe();
    if (!home) return false;
    if (pc.log.judge(home, partition) !== "ok") await pc.log.adopt(topic, partition, home);
    return sameStamp(home.stamp, info.stamp);
  });
}

/** The home's answer about its topic, or null (not the home, or no such topic). */
export function describeTopic(pc: PartitionContext): TopicInfo | null {
  return pc.log.partitionIndex() === 0 ? pc.log.info() : null;
}

/**
 * On the home: creates the topic or applies a config change (`put`), or only creates it
 * when missing (`ensure`, the implicit creation by a first publish). Then hands the
 * config to every other partition and registers the topic in the Catalog; both are
 * idempotent, so repeating a PUT that failed half-way finishes the job.
 */
export async function configureTopic(
  pc: PartitionContext, topic: string, patch: TopicConfigPatch, mode: "put" | "ensure",
): Promise<Result<TopicInfo>> {
  let info = describeTopic(pc);
  const created = info === null;
  if (info === null) {
    info = {
      name: topic,
      config: mergeConfig(DEFAULT_TOPIC_CONFIG, patch),
      createdAt: now(),
      stamp: { incarnation: crypto.randomUUID(), version: 1 },
    };
    await pc.log.adopt(topic, 0, info);
  } else if (mode === "put") {
    if (patch.partitions !== undefined && patch.partitions < info.config.partitions) {
      return {
        ok: false,
        error: {
          code: "CONFLICT",
          message: `partitions can grow but never shrink (topic has ${info.config.partitions})`,
          details: { field: "partitions", current: info.config.partitions, requested: patch.partitions },
        },
      };
    }
    const config = mergeConfig(info.config, patch);
    if (!sameConfig(config, info.config)) {
      info = { ...info, config, stamp: { incarnation: info.stamp.incarnation, version: info.stamp.version + 1 } };
      await pc.log.adopt(topic, 0, info);
    }
  }
  if (mode === "put" || created) {
    await propagate(pc.env, info);
    // Subscriptions reach partitions added by a growth (forward/sync.ts; no-op otherwise).
    if (!created) await copySubscriptions(pc.env, info, 1);
    await catalogStub(pc.env).register("topics", topic, info.createdAt, { partitions: info.config.partitions });
  }
  return { ok: true, value: info };
}

/**
 * Hands the home's config to partitions 1 … n-1 (creating those that are new). A stale
 * answer needs no retry: that partition already holds a newer config, which only the home
 * can have given it (a later PUT running beside this one).
 */
async function propagate(env: Env, info: TopicInfo): Promise<void> {
  await eachPartition(env, info, (stub, p) => stub.adoptTopic(info, p), 1);
}

/**
 * On the home: deletes every partition, the home last (so a DELETE that failed half-way
 * can be repeated), and unregisters the topic.
 */
export async function destroyTopic(pc: PartitionContext, topic: string): Promise<Result<null>> {
  const info = describeTopic(pc);
  if (!info) return { ok: false, error: { code: "NOT_FOUND", message: `topic ${topic} does not exist` } };
  await eachPartition(pc.env, info, (stub) => stub.destroyPartition(), 1);
  await pc.wipe();
  await catalogStub(pc.env).unregister("topics", topic);
  return { ok: true, value: null };
}
