/**
 * Reading a topic across its partitions: a page of one partition's log
 * (GET /v1/topics/{t}/messages) and the topic's status with every partition's line
 * (GET /v1/topics/{t}). Both carry the caller's config and follow the retry policy.
 */
import type { Env } from "../../env";
import { unwrap } from "../../shared/errors";
import type { TopicConfig } from "../config";
import type { LogEntry } from "../types";
import { checkPartition, requirePartition, requireTopic } from "./directory";
import { onEveryPartition, onPartition } from "./router";

export interface ReadQuery {
  partition: number;
  /** Offset to start at. */
  from?: number;
  /** Or: ms since the epoch, the first message at or after it. */
  since?: number;
  limit: number;
}

export interface MessagesPage {
  messages: LogEntry[];
  next: number;
  first: number;
}

/** Up to `limit` messages of one partition; `404` for no topic, `400` for no such partition. */
export async function readMessages(env: Env, topic: string, q: ReadQuery): Promise<MessagesPage> {
  const info = await requirePartition(env, topic, q.partition);
  // After a refetch the partition is checked again: a topic created anew may have fewer.
  const refetch = async () => checkPartition(env, await requireTopic(env, topic, { fresh: true }), q.partition);
  const page = unwrap(await onPartition<MessagesPage>(env, info, q.partition, (stub, i, p) =>
    stub.readLog({ topic, partition: p, info: i, from: q.from, since: q.since, limit: q.limit }), refetch));
  return { messages: page.messages, next: page.next, first: page.first };
}

export interface PartitionLine {
  partition: number;
  first: number;
  next: number;
  bytes: number;
  subscribers: number;
}

export interface TopicStatus {
  name: string;
  config: TopicConfig;
  partitions: PartitionLine[];
  /** Each consumer group's lag summed over partitions, by name. */
  groups: Array<{ name: string; lag: number }>;
}

/** The topic's config (the home's, not a cached copy) and every partition's line. */
export async function topicStatus(env: Env, topic: string): Promise<TopicStatus> {
  const fresh = await requireTopic(env, topic, { fresh: true });
  const { info, answers } = await onEveryPartition(env, fresh, (stub, i, p) => stub.partitionStats(i, p));
  const lags = new Map<string, number>();
  const partitions = answers.map((answer) => {
    const s = unwrap(answer);
    for (const g of s.groups) lags.set(g.name, (lags.get(g.name) ?? 0) + g.lag);
    return { partition: s.partition, first: s.first, next: s.next, bytes: s.bytes, subscribers: s.subscribers };
  });
  const groups = [...lags.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, lag]) => ({ name, lag }));
  return { name: info.name, config: info.config, partitions, groups };
}
