/**
 * MQTT retained messages across a topic's partitions: an MQTT topic lives in one partition
 * (its key's), but a filter with wildcards may match topics in every partition, so a
 * SUBSCRIBE asks them all at once with the literal prefix of its filter.
 */
import type { Env } from "../../env";
import type { LogEntry } from "../types";
import { getTopic } from "./directory";
import { onEveryPartition } from "./router";

/** The retained messages of `topic` whose MQTT topic starts with `prefix`; none for a topic that does not exist. */
export async function retainedMessages(env: Env, topic: string, prefix: string, limit: number): Promise<LogEntry[]> {
  const info = await getTopic(env, topic);
  if (!info) return [];
  const { answers } = await onEveryPartition(env, info, (stub, i, p) => stub.retainedMessages(i, p, prefix, limit));
  // RPC types lose `body: unknown`; the partition answered LogEntry values.
  return answers.flatMap((a) => (a.ok ? (a.value as LogEntry[]) : []));
}
