/**
 * Helpers for the topic log tests: HTTP calls, partition stubs, firing alarms, and seeding
 * what time cannot produce. Time itself moves with `advanceClock` (durable-objects/shared/clock.ts),
 * never by rewriting stored timestamps.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { TopicPartition } from "../../durable-objects/topic/object";
import { partitionStub } from "../../durable-objects/env";
import { callJson } from "./helpers";

export interface Published { id: string; partition: number; offset: number; duplicate: boolean }
export interface ReadMessage { partition: number; offset: number; id: string; key: string | null; body: unknown; headers: Record<string, string>; timestamp: number }

export function putTopic(topic: string, config: Record<string, unknown> = {}) {
  return callJson("PUT", `/v1/topics/${topic}`, { body: config });
}

export function publish(topic: string, body: unknown) {
  return callJson<{ messages: Published[] }>("POST", `/v1/topics/${topic}/messages`, { body });
}

/** Publishes and asserts 201; returns the per-message answers. */
export async function publishOk(topic: string, messages: unknown[]): Promise<Published[]> {
  const r = await publish(topic, { messages });
  if (r.status !== 201) throw new Error(`publish failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.messages;
}

export function read(topic: string, query = "") {
  return callJson<{ messages: ReadMessage[]; first: number; next: number }>("GET", `/v1/topics/${topic}/messages${query ? `?${query}` : ""}`);
}

/** Every kept message of a partition, following `next` until the end. */
export async function readAll(topic: string, partition = 0): Promise<ReadMessage[]> {
  const out: ReadMessage[] = [];
  let from = 0;
  for (;;) {
    const r = await read(topic, `partition=${partition}&from=${from}&limit=1000`);
    if (r.status !== 200) throw new Error(`read failed: ${r.status} ${JSON.stringify(r.body)}`);
    out.push(...r.body.messages);
    if (r.body.messages.length < 1000) return out;
    from = r.body.next;
  }
}

export function topicStatus(topic: string) {
  return callJson("GET", `/v1/topics/${topic}`);
}

export function stub(topic: string, partition = 0): DurableObjectStub<TopicPartition> {
  return partitionStub(env, topic, partition);
}

/**
 * SEEDING, not time: state the clock cannot produce. Makes a partition hold `bytes` (and,
 * when given, every stored message count `entrySize` bytes), as if writes had outrun the
 * alarm that trims to `retentionBytes`; the log reloads its counters from storage.
 */
export async function seedStoredBytes(topic: string, partition: number, bytes: number, entrySize?: number): Promise<void> {
  await runInDurableObject(stub(topic, partition), (o: TopicPartition, state: DurableObjectState) => {
    if (entrySize !== undefined) state.storage.sql.exec("UPDATE log_entries SET size = ?", entrySize);
    state.storage.sql.exec("UPDATE log_meta SET bytes = ?", bytes);
    o.log.migrate();
  });
}

/** Fires the partition's alarm now (true if one was set). */
export function fireAlarm(topic: string, partition = 0): Promise<boolean> {
  return runDurableObjectAlarm(stub(topic, partition));
}
