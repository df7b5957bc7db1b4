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
import type { MqttConnection } from "./mqtt/connection";
import type { MqttSession } from "./mqtt/session";
import type { TopicRelay } from "./topic/relay/relay";
import type { LocationHint } from "../protocol/location-hints";

export { LOCATION_HINTS, type LocationHint } from "../protocol/location-hints";

export interface Env {
  QUEUES: DurableObjectNamespace<QueueObject>;
  TOPICS: DurableObjectNamespace<TopicPartition>;
  CATALOG: DurableObjectNamespace<Catalog>;
  /** One object per MQTT WebSocket connection (a unique id: the client id comes later, in CONNECT). */
  MQTT_CONNECTIONS: DurableObjectNamespace<MqttConnection>;
  /** One object per MQTT client id: the persistent session between connections. */
  MQTT_SESSIONS: DurableObjectNamespace<MqttSession>;
  /**
   * Relays: objects holding live subscribers of a topic partition, per region and shard
   * (topic/relay/). Optional: without the binding every subscriber is served directly.
   */
  TOPIC_RELAYS?: DurableObjectNamespace<TopicRelay>;
  /** Who serves live subscribers: "auto" (default), "always" (relays) or "never" (the partition). */
  SPOOL_LIVE_RELAYS?: string;
  /** Under "auto", subscribers a partition serves itself before relays take the rest (topic/relay/placement.ts). */
  SPOOL_LIVE_DIRECT_MAX?: string;
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
  /**
   * Capabilities granted to requests without a credential on `/v1/stream/…` (JSON like
   * `{"topics/public.*": ["subscribe"]}`): public read-only feeds. Unset: none (the default).
   */
  SPOOL_ANONYMOUS_CAPABILITIES?: string;
  /** How long a Durable Streams long-poll waits for data, in seconds (default 3, 1–60). */
  SPOOL_STREAM_LONG_POLL_SECONDS?: string;
  /** Quotas (defaults 10000, 10000, 100, 100 in protocol/limits.ts; durable-objects/catalog/quotas.ts). */
  SPOOL_MAX_QUEUES?: string;
  SPOOL_MAX_TOPICS?: string;
  SPOOL_MAX_GROUPS_PER_TOPIC?: string;
  SPOOL_MAX_SUBSCRIPTIONS_PER_TOPIC?: string;
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

/** A new MQTT connection object (the `/v1/mqtt` upgrade lands on it). */
export function newMqttConnection(env: Env): DurableObjectStub<MqttConnection> {
  return env.MQTT_CONNECTIONS.get(env.MQTT_CONNECTIONS.newUniqueId());
}

/** The MQTT connection object with id `id` (its `ctx.id.toString()`). */
export function mqttConnectionStub(env: Env, id: string): DurableObjectStub<MqttConnection> {
  return env.MQTT_CONNECTIONS.get(env.MQTT_CONNECTIONS.idFromString(id));
}

/** The session object of MQTT client id `clientId`. */
export function mqttSessionStub(env: Env, clientId: string): DurableObjectStub<MqttSession> {
  return env.MQTT_SESSIONS.getByName(clientId);
}
