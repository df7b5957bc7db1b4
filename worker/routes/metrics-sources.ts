/**
 * Where /metrics gets its figures: the one module that calls the objects for it. The
 * Catalog lists queues and topics; each queue's object answers its stats; the topic router
 * answers each topic's partition lines and group lags; each partition answers its share of
 * a subscription's lag. Nothing here keeps state. When the router or an object's RPC
 * changes, this file alone adapts.
 *
 * Cost of one scrape (1 + Q + Σ over topics of 2 + P + S × P object calls) is measured in
 * test/workers/metrics.test.ts and reported in the README.
 */
import type { CatalogEntry } from "../../durable-objects/catalog/catalog";
import { catalogStub, partitionStub, queueStub, type Env } from "../../durable-objects/env";
import { topicStatus, type PartitionLine } from "../../durable-objects/topic/router/topics";
import type { Result } from "../../protocol/errors";
import type { QueueStats } from "../../protocol/queues";

/** Object calls one scrape keeps in flight at once: enough to overlap latency, not a burst of thousands. */
export const METRICS_CONCURRENCY = 64;

export interface QueueFigures {
  name: string;
  stats: QueueStats;
}

export interface TopicFigures {
  name: string;
  partitions: PartitionLine[];
  /** Each group's lag summed over partitions. */
  groups: Array<{ name: string; lag: number }>;
  /** Each subscription's lag summed over partitions. */
  subscriptions: Array<{ name: string; lag: number }>;
}

/** `fn` over `items`, at most `limit` at a time, answers in input order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Every queue in the Catalog with its stats; a queue deleted meanwhile is left out. */
export async function queueFigures(env: Env): Promise<QueueFigures[]> {
  const entries = (await catalogStub(env).list("queues")) as CatalogEntry[];
  const figures = await mapBounded(entries, METRICS_CONCURRENCY, async (e) => {
    const r = (await queueStub(env, e.name).info()) as Result<{ stats: QueueStats }>;
    return r.ok ? { name: e.name, stats: r.value.stats } : null;
  });
  return figures.filter((f): f is QueueFigures => f !== null);
}

/** Every topic in the Catalog with its partitions, groups and subscriptions; one deleted meanwhile is left out. */
export async function topicFigures(env: Env): Promise<TopicFigures[]> {
  const entries = (await catalogStub(env).list("topics")) as unknown as CatalogEntry[];
  const figures = await mapBounded(entries, METRICS_CONCURRENCY, async (e) => {
    try {
      return await oneTopic(env, e.name);
    } catch (err) {
      // A topic deleted between the list and its status answers 404: not an error of the scrape.
      if ((err as { code?: unknown }).code === "NOT_FOUND") return null;
      throw err;
    }
  });
  return figures.filter((f): f is TopicFigures => f !== null);
}

async function oneTopic(env: Env, topic: string): Promise<TopicFigures> {
  const status = await topicStatus(env, topic);
  const partitions = status.partitions.map((p) => p.partition);
  // Every partition holds every subscription; the home's list names them all.
  const stored = await partitionStub(env, topic, 0).subscriptionConfigs();
  const subscriptions = await Promise.all(
    stored.map(async ({ name }) => {
      const answers = await Promise.all(partitions.map((p) => partitionStub(env, topic, p).getSubscription(name)));
      const lag = answers.reduce((sum, r) => sum + (r.ok ? r.value.status.lag : 0), 0);
      return { name, lag };
    }),
  );
  return { name: topic, partitions: status.partitions, groups: status.groups, subscriptions };
}
