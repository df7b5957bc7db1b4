/**
 * Subscription types shared by the Worker route (worker/routes/subscriptions.ts) and the
 * forwarder module of each topic partition (forwarder.ts). The route validates and
 * broadcasts one `SubscriptionConfig` to every partition; each partition keeps its own
 * position and counters, and the route sums them into the status.
 */

/** Where a subscription forwards to. */
export type SubscriptionTarget =
  | { type: "queue"; queue: string }
  | {
      type: "webhook";
      url: string;
      /** Deliveries of one message (first try included) before it is dead-lettered. */
      maxAttempts: number;
      /** Queue that receives messages the webhook never accepted; null drops them. */
      deadLetterQueue: string | null;
      /** Seconds to wait for the webhook's response. */
      timeout: number;
    };

export interface SubscriptionConfig {
  topic: string;
  target: SubscriptionTarget;
  /** Header name → exact value; a message is forwarded only when all of them match. */
  filter: Record<string, string>;
}

/** The last thing that went wrong while forwarding, kept until the next failure. */
export interface ForwardError {
  code: string;
  message: string;
  /** ms since epoch */
  at: number;
  partition: number;
  /** The offset being forwarded when it failed, when there was one. */
  offset: number | null;
}

/** One partition's view of a subscription. */
export interface PartitionForwardStatus {
  partition: number;
  /** Next offset to forward (everything below it is done). */
  position: number;
  /** The partition's next offset. */
  next: number;
  /** `next - position`. */
  lag: number;
  delivered: number;
  failed: number;
  skipped: number;
  /** Failed tries of the message at `position` so far. */
  attempts: number;
  /** When the next retry is due (ms), or null when not waiting on one. */
  retryAt: number | null;
  lastError: ForwardError | null;
}

/** What a partition returns for PUT and GET. */
export interface PartitionSubscription {
  name: string;
  config: SubscriptionConfig;
  createdAt: number;
  status: PartitionForwardStatus;
}

/** Put options the route decides once for all partitions. */
export interface PutSubscriptionInput {
  name: string;
  partition: number;
  config: SubscriptionConfig;
  /** The webhook's signing secret (the route decides it once for all partitions); none for queues. */
  secret?: string;
  createdAt: number;
  /**
   * Where a subscription new to this partition starts: "next" (a new subscription: the
   * partition's next offset) or "created" (an existing subscription reaching a partition
   * added or repaired later: the first offset published at or after `createdAt`).
   */
  start: "next" | "created";
  /** Leave an existing subscription untouched (copying into partitions that may have it). */
  onlyIfMissing?: boolean;
}

/** A subscription as copied between partitions (includes the secret: internal only). */
export interface StoredSubscription {
  name: string;
  config: SubscriptionConfig;
  secret: string | null;
  createdAt: number;
}

/** The message a queue receives from a subscription, or a webhook dead-letter gets. */
export interface ForwardedMessage {
  id: string;
  body: unknown;
  headers: Record<string, string>;
}

/** Header that carries a topic message's `key` into the target queue. */
export const KEY_HEADER = "spool-key";
