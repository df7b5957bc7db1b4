/**
 * The Worker's bindings and vars (wrangler.toml, .dev.vars) and how everything reaches a
 * Durable Object by name. Lives beside the objects so they never import worker/; the
 * Worker imports it from here. A queue is one object named by the queue; a topic
 * partition is `"<topic>#<partition>"` (`#` cannot occur in a valid name, so no two
 * resources share an object).
 */
import type { QueueObject } from "./queue/object";
import type { TopicPartition } from "./topic/object";
import type { Catalog } from "./catalog/catalog";
import type { LocationHint } from "../protocol/location-hints";

export { LOCATION_HINTS, type LocationHint } from "../protocol/location-hints";

export interface Env {
  QUEUES: DurableObjectNamespace<QueueObject>;
  TOPICS: DurableObjectNamespace<TopicPartition>;
  CATALOG: DurableObjectNamespace<Catalog>;
  /** Admin credential; without it every /v1 route answers 503 NOT_CONFIGURED. */
  SPOOL_ADMIN_KEY?: string;
  /** HMAC secret that signs capability tokens. */
  SPOOL_TOKEN_SECRET?: string;
  /** The previous token secret, still accepted for verification during a rotation. */
  SPOOL_TOKEN_SECRET_PREVIOUS?: string;
  /** "true" lets webhook subscriptions target private and loopback addresses. */
  SPOOL_ALLOW_PRIVATE_WEBHOOKS?: string;
  /** Largest accepted request body in bytes (default 8 MiB). */
  SPOOL_MAX_BODY_BYTES?: string;
  /** Most open WebSockets per Durable Object (default 5000; protocol/limits.ts). */
  SPOOL_MAX_SOCKETS_PER_OBJECT?: string;
}

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
