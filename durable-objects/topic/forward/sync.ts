/**
 * Subscriptions reaching partitions added later. A subscription lives in every partition of
 * its topic; when the topic grows, the new partitions get every subscription of the home
 * (partition 0), each starting at the first message published there after the subscription
 * was created, so nothing published to a new partition is missed.
 */
import { unwrap } from "../../shared/errors";
import type { Env } from "../../env";
import { partitionStub } from "../../env";
import type { TopicInfo } from "../config";

/**
 * Copies the home's subscriptions into partitions `from … partitions-1` of `info` where they
 * are missing (ones already there are left alone), so it is safe to run on every topic PUT:
 * a PUT that grew the topic and failed half-way is finished by the next one.
 */
export async function copySubscriptions(env: Env, info: TopicInfo, from: number): Promise<void> {
  const subs = await partitionStub(env, info.name, 0).subscriptionConfigs();
  if (subs.length === 0) return;
  const calls: Promise<unknown>[] = [];
  for (let p = Math.max(from, 1); p < info.config.partitions; p++) {
    const stub = partitionStub(env, info.name, p);
    for (const sub of subs) {
      calls.push(stub.putSubscription({
        name: sub.name, partition: p, config: sub.config, secret: sub.secret ?? undefined, createdAt: sub.createdAt, start: "created", onlyIfMissing: true,
      }, info).then(unwrap));
    }
  }
  await Promise.all(calls);
}
