/** The Worker's bindings and vars, as declared in wrangler.toml and .dev.vars. */
import type { QueueObject } from "../durable-objects/queue";
import type { TopicPartition } from "../durable-objects/topic";
import type { Catalog } from "../durable-objects/catalog";

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
  /** Most open WebSockets per Durable Object (default 5000; durable-objects/ws-limits.ts). */
  SPOOL_MAX_SOCKETS_PER_OBJECT?: string;
}

/** Hono's generic parameter for every app and sub-app in the Worker. */
export interface AppEnv {
  Bindings: Env;
  Variables: { credential: import("./auth").Credential };
}
