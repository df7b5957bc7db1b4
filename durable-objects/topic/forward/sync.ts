/**
 * Subscriptions reaching partitions added later. A subscription lives in every partition of
 * its topic; when the topic grows, the new partitions get every subscription of the home
 * (partition 0), each starting at the first message published there after the subscription
 * was created, so nothing published to a new partition is missed.
 */
import { unwrap } from "../../shared/errors";
import type { Env } from "../../env";
import type { TopicInfo } from "../config";
import { isStale } from "../router/retry";
import { onEveryPartition, partitionOf } from "../router/router";

/**
 * Copies the home's subscriptions into partitions `from … partitions-1` of `info` where they
 * are missing (ones already there are left alone), so it is safe to run on every topic PUT:
 * a PUT that grew the topic and failed half-way is finished by the next one. A partition
 * that knows a newer config makes the router copy into every partition of that one.
 */
export async function copySubscriptions(env: Env, info: TopicInfo, from: number): Promise<void> {
  const subs = await partitionOf(env, info, 0).subscriptionConfigs();
  if (subs.length === 0) return;
  const { answers } = await onEveryPartition(env, info, async (stub, i, p) => {
    const puts = await Promise.all(subs.map((sub) => stub.putSubscription({
      name: sub.name, partition: p, config: sub.config, secret: sub.secret ?? undefined, createdAt: sub.createdAt, start: "created", onlyIfMissing: true,
    }, i)));
    // One answer per partition: stale if any put was (to be repeated), else its first error.
    return puts.find(isStale) ?? puts.find((r) => !r.ok) ?? { ok: true as const, value: null };
  }, { from: Math.max(from, 1) });
  answers.forEach(unwrap);
}
