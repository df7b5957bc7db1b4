/**
 * How the Worker (and objects that call other objects) reach Durable Objects by name.
 * A queue is one object named by the queue; a topic partition is `"<topic>#<partition>"`
 * (`#` cannot occur in a valid name, so no two resources share an object).
 */
import type { Catalog } from "../durable-objects/catalog";
import type { QueueObject } from "../durable-objects/queue";
import type { TopicPartition } from "../durable-objects/topic";
import type { Env } from "./env";
import type { LocationHint } from "./location-hints";

export { LOCATION_HINTS, type LocationHint } from "./location-hints";

export function queueStub(env: Env, queue: string, locationHint?: LocationHint): DurableObjectStub<QueueObject> {
  return env.QUEUES.getByName(queue, locationHint ? { locationHint } : undefined);
}

export function partitionObjectName(topic: string, partition: number): string {
  return `${topic}#${partition}`;
}

export function partitionStub(env: Env, topic: string, partition: number, locationHint?: LocationHint): DurableObjectStub<TopicPartition> {
  return env.TOPICS.getByName(partitionObjectName(topic, partition), locationHint ? { locationHint } : undefined);
}

export function catalogStub(env: Env): DurableObjectStub<Catalog> {
  return env.CATALOG.getByName("catalog");
}
