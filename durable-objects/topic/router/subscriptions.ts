/**
 * Subscriptions across a topic's partitions, one function per route. A subscription lives
 * in every partition (each keeps its own position), so PUT and DELETE go to every
 * partition and GET sums their status. PUT is idempotent: running it again (say after a
 * partial failure, or after a stale answer: the topic grew meanwhile) converges every
 * partition of the current config on the same subscription.
 */
import type { Env } from "../../env";
import { queueStub } from "../../env";
import { ApiError, unwrap } from "../../shared/errors";
import { now } from "../../shared/clock";
import { generateSecret } from "../forward/sign";
import type { ForwardError, PartitionForwardStatus, PartitionSubscription, SubscriptionConfig, SubscriptionTarget } from "../forward/types";
import { requireTopic } from "./directory";
import { eachPartition, onEveryPartition, onPartition, partitionOf, type PartitionStub } from "./router";
import type { TopicInfo } from "../config";
import type { CreateOptions } from "../../queue/admission";

/** GET and PUT: the subscription with every partition's status and their sums. */
export interface SubscriptionStatus {
  name: string;
  topic: string;
  target: SubscriptionTarget;
  filter: Record<string, string>;
  createdAt: number;
  lag: number;
  delivered: number;
  failed: number;
  skipped: number;
  lastError: ForwardError | null;
  partitions: PartitionForwardStatus[];
  /** Only in the PUT answer that generated it. */
  secret?: string;
}

export interface SubscriptionSpec {
  target: SubscriptionTarget;
  filter: Record<string, string>;
  /** A webhook's signing secret; when absent the stored one is kept, or one is generated. */
  secret?: string;
  /** What the caller may do when a queue target is created here (its default dead-letter queue). */
  queueCreation?: CreateOptions;
}

/**
 * PUT: creates or updates subscription `name` in every partition the topic has now. A
 * queue target is created first if it does not exist; a generated secret is in the answer.
 */
export async function putSubscription(env: Env, topic: string, name: string, spec: SubscriptionSpec): Promise<SubscriptionStatus> {
  // Fresh, not cached: a subscription must reach every partition the topic has now.
  const info = await requireTopic(env, topic, { fresh: true });
  const home = partitionOf(env, info, 0);
  const existing = await home.getSubscription(name);
  let secret: string | undefined;
  let generated = false;
  if (spec.target.type === "webhook") {
    secret = spec.secret ?? (existing.ok ? ((await home.subscriptionSecret(name)) ?? undefined) : undefined);
    if (secret === undefined) [secret, generated] = [generateSecret(), true];
  } else {
    // "The target queue is created if it does not exist" — before any partition forwards to it.
    unwrap(await queueStub(env, spec.target.queue).configure({}, spec.queueCreation ?? {}));
  }
  const config: SubscriptionConfig = { topic, target: spec.target, filter: spec.filter };
  // A subscription that already exists starts in a partition new to it where it was created.
  const createdAt = existing.ok ? existing.value.createdAt : now();
  const start = existing.ok ? "created" : "next";
  const put = (stub: PartitionStub, i: TopicInfo, p: number) => stub.putSubscription({ name, partition: p, config, secret, createdAt, start }, i);
  // The home first: it alone decides the subscriptions quota, so a refused PUT creates
  // nothing anywhere. Then the other partitions, at once.
  const atHome = unwrap(await onPartition(env, info, 0, put));
  const { answers } = await onEveryPartition(env, info, put, { from: 1 });
  const status = summarize(topic, [atHome, ...answers.map(unwrap)]);
  return generated ? { ...status, secret } : status;
}

/** GET: `404` when the home does not have it. */
export async function subscriptionStatus(env: Env, topic: string, name: string): Promise<SubscriptionStatus> {
  const info = await requireTopic(env, topic, { fresh: true });
  const answers = await eachPartition(env, info, (stub) => stub.getSubscription(name));
  if (!answers[0]?.ok) throw notFound(topic, name);
  // A partition without it (a PUT interrupted half-way) is left out until the PUT is repeated.
  return summarize(topic, answers.flatMap((r) => (r.ok ? [r.value] : [])));
}

/** DELETE: removes it from every partition; `404` when no partition had it. */
export async function deleteSubscription(env: Env, topic: string, name: string): Promise<void> {
  const info = await requireTopic(env, topic, { fresh: true });
  const answers = (await eachPartition(env, info, (stub) => stub.deleteSubscription(name))).map(unwrap);
  if (!answers.some((r) => r.deleted)) throw notFound(topic, name);
}

function notFound(topic: string, name: string): ApiError {
  return new ApiError("NOT_FOUND", `subscription '${name}' does not exist on topic '${topic}'`);
}

/** One status from every partition's: sums of lag and counters, the most recent error. */
function summarize(topic: string, parts: PartitionSubscription[]): SubscriptionStatus {
  const base = parts[0]!;
  const statuses = parts.map((p) => p.status).sort((a, b) => a.partition - b.partition);
  const sum = (k: "lag" | "delivered" | "failed" | "skipped"): number => statuses.reduce((n, st) => n + st[k], 0);
  const lastError = statuses.map((st) => st.lastError).filter((e) => e !== null).sort((a, b) => b.at - a.at)[0] ?? null;
  return {
    name: base.name, topic, target: base.config.target, filter: base.config.filter, createdAt: base.createdAt,
    lag: sum("lag"), delivered: sum("delivered"), failed: sum("failed"), skipped: sum("skipped"), lastError,
    partitions: statuses,
  };
}
