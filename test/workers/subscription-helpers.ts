/**
 * Helpers for the subscription tests: topics, publishing, and driving a partition's
 * forwarder deterministically (settle the run in progress, fire the alarm while work is due,
 * move the objects' clock to the next pending retry instead of sleeping).
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { TopicPartition } from "../../durable-objects/topic/object";
import type { ForwarderTestHooks } from "../../durable-objects/topic/forward/forwarder";
import type { PeekedMessage } from "../../protocol/queues";
import type { Result } from "../../protocol/errors";
import { partitionStub, queueStub } from "../../durable-objects/env";
import { advanceClock, now } from "../../durable-objects/shared/clock";
import { callJson } from "./helpers";

export interface Published { id: string; partition: number; offset: number; duplicate: boolean }

export async function createTopic(topic: string, partitions = 1): Promise<void> {
  const res = await callJson("PUT", `/v1/topics/${topic}`, { body: { partitions } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

export async function publish(topic: string, messages: unknown[]): Promise<Published[]> {
  const res = await callJson<{ messages: Published[] }>("POST", `/v1/topics/${topic}/messages`, { body: { messages } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.messages;
}

export async function putSubscription(topic: string, sub: string, body: unknown): Promise<any> {
  const res = await callJson("PUT", `/v1/topics/${topic}/subscriptions/${sub}`, { body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

export async function subscriptionStatus(topic: string, sub: string): Promise<any> {
  const res = await callJson("GET", `/v1/topics/${topic}/subscriptions/${sub}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** Every message in a queue, in `seq` order, without leasing them (RPC: the route caps `limit` at 100). */
export async function peekQueue(queue: string): Promise<PeekedMessage[]> {
  // `body: unknown` does not survive the RPC stub's type mapping; the value is what peek returns.
  const r = (await queueStub(env, queue).peek(1000)) as unknown as Result<{ messages: PeekedMessage[] }>;
  if (!r.ok) throw new Error(`peek ${queue}: ${r.error.code} ${r.error.message}`);
  return r.value.messages;
}

function stub(topic: string, partition: number): DurableObjectStub<TopicPartition> {
  return partitionStub(env, topic, partition);
}

/** Installs test hooks on the partition's live forwarder instance (gone after an eviction). */
export async function setHooks(topic: string, partition: number, hooks: ForwarderTestHooks): Promise<void> {
  await runInDurableObject(stub(topic, partition), (o: TopicPartition) => {
    o.forwarder.testHooks = hooks;
  });
}

/** Fires the partition's alarm until no forwarding work is due now (retries in the future stay). */
export async function drain(topic: string, partitions = 1): Promise<void> {
  for (let p = 0; p < partitions; p++) {
    const s = stub(topic, p);
    for (let round = 0; ; round++) {
      if (round > 100) throw new Error(`forwarder of ${topic}#${p} never became idle`);
      const due = await runInDurableObject(s, async (o: TopicPartition) => {
        await o.forwarder.settled();
        const d = o.forwarder.nextDeadline();
        return d !== null && d <= now();
      });
      if (!due) break;
      await runDurableObjectAlarm(s);
    }
  }
}

/**
 * Moves the clock to the partition's next pending retry, so it is due now (fire it with
 * `drain`). Returns how many subscriptions were waiting for a retry before the move.
 */
export async function makeRetriesDue(topic: string, partition = 0): Promise<number> {
  const pending = await runInDurableObject(stub(topic, partition), async (o: TopicPartition) => {
    await o.forwarder.settled();
    return { waiting: o.forwarder.retriesWaiting(), at: o.forwarder.nextDeadline() };
  });
  if (pending.waiting > 0 && pending.at !== null && pending.at > now()) advanceClock(pending.at - now());
  return pending.waiting;
}

/** Retries until nothing is pending any more (or `rounds` run out): time passes as fast as needed. */
export async function retryUntilSettled(topic: string, partitions = 1, rounds = 50): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await drain(topic, partitions);
    let pending = 0;
    for (let p = 0; p < partitions; p++) pending += await makeRetriesDue(topic, p);
    if (pending === 0) return;
  }
}
