/**
 * Every message and config shape of the public API (API.md), as the client sends and
 * receives them. Plain types: nothing here exists at run time. Where the server has a type
 * for a shape (protocol/queues.ts, topics.ts, groups.ts) it
 * is imported type-only, so the two cannot drift and no server code reaches the bundle.
 */
import type { TopicMessage as WireTopicMessage } from "../protocol/topics.js";
import type * as Q from "../protocol/queues.js";
import type * as G from "../protocol/groups.js";
import type { ErrorCode } from "../protocol/errors.js";
import type { TopicConfig as ServerTopicConfig } from "../protocol/topics.js";

/** Message headers: string → string, at most 32 entries. */
export type MessageHeaders = Record<string, string>;

// ---------------------------------------------------------------- queues


/** A message to send to a queue (the server's `QueueSendInput`, typed by body). The client fills in `id` when it is omitted. */
export type QueueMessageInput<T = unknown> = Omit<Q.QueueSendInput, "body"> & { body: T };

/** `{id, seq, duplicate}`: `duplicate` is true when the id was already accepted within the dedup window (`seq` is the original). */
export type SendResult = Q.QueueSentMessage;

export interface ReceiveOptions extends Q.ReceiveOptions {
  signal?: AbortSignal | undefined;
}

/** A leased queue message, from `receive` or a WebSocket consumer; `receipt` is absent on at-most-once queues. */
export type QueueMessage<T = unknown> = Omit<Q.ReceivedMessage, "body"> & { body: T };

/** A message as `peek` shows it, without a lease. */
export type PeekedMessage<T = unknown> = Omit<Q.PeekedMessage, "body"> & { body: T };

/** Something that identifies a delivery: its receipt, or the message carrying it. */
export type ReceiptLike = string | { receipt?: string };

export interface ReceiptFailure {
  receipt: string;
  code: ErrorCode;
}
export interface AckResult { acked: number; failed: ReceiptFailure[] }
export interface NackResult { nacked: number; failed: ReceiptFailure[] }
export interface ExtendResult { extended: number; failed: ReceiptFailure[] }

export type QueueConfig = Q.QueueConfig;
export type QueueStats = Q.QueueStats;
export type QueueCreated = Q.QueueCreated;
export type QueueInfo = Q.QueueInfo;
export type RedriveOptions = Q.RedriveOptions;
export interface QueueSummary { name: string; stats: QueueStats }

// ---------------------------------------------------------------- topics

/** A message to publish to a topic. The client fills in `id` when it is omitted. */
export interface TopicMessageInput<T = unknown> {
  body: T;
  /** Picks the partition (`hash(key) mod partitions`) and is the compaction key. */
  key?: string | undefined;
  id?: string | undefined;
  headers?: MessageHeaders | undefined;
}

export interface PublishResult {
  id: string;
  partition: number;
  offset: number;
  duplicate: boolean;
}

/** A message of a topic's log, as read, streamed or polled. */
export type TopicMessage<T = unknown> = Omit<WireTopicMessage, "body"> & { body: T };

export interface ReadOptions {
  partition?: number | undefined;
  /** First offset to return (default: the first kept offset). */
  from?: number | undefined;
  /** Start at the first message at or after this time (ms epoch) instead of `from`. */
  since?: number | undefined;
  /** 1–1000 (100). */
  limit?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface ReadResult<T = unknown> {
  messages: TopicMessage<T>[];
  /** The offset to read from next. */
  next: number;
  /** The lowest kept offset; above a requested `from` it means offsets were removed. */
  first: number;
}

/** A topic's config (the server's own type). */
export type TopicConfig = ServerTopicConfig;

export interface PartitionInfo { partition: number; first: number; next: number; bytes: number; subscribers: number }
export interface TopicCreated { name: string; config: TopicConfig; createdAt: number }
export interface TopicInfo { name: string; config: TopicConfig; partitions: PartitionInfo[]; groups: { name: string; lag: number }[] }
export interface TopicSummary { name: string; partitions: number }

/** Offsets `from` … `to - 1` of `partition` were removed before the stream reached them. */
export interface Gap { partition: number; from: number; to: number }

/** Where a live subscription starts. */
export type StartPosition = "latest" | "earliest" | number;

// ---------------------------------------------------------------- consumer groups

/** Group config as set by `configure` (every field optional; the server's `GroupConfig`). */
export type GroupConfig = Partial<G.GroupConfig>;

export interface GroupCreated { name: string; config: G.GroupConfig }

export interface PollOptions {
  max?: number | undefined;
  /** Long-poll seconds, 0–20 (0). */
  wait?: number | undefined;
  partition?: number | undefined;
  visibilityTimeout?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** A message leased to one member of a consumer group. */
export type GroupMessage<T = unknown> = TopicMessage<T> & { receipt: string; attempts: number };

export interface SeekOptions {
  to?: number | "earliest" | "latest" | undefined;
  since?: number | undefined;
  partition?: number | undefined;
}

export interface GroupStatus {
  partitions: G.GroupPartitionStatus[];
}

// ---------------------------------------------------------------- fan-out subscriptions

export type SubscriptionFilter = Record<string, string>;
export type SubscriptionConfig =
  | { queue: string; filter?: SubscriptionFilter }
  | { url: string; secret?: string; filter?: SubscriptionFilter; maxAttempts?: number; deadLetterQueue?: string };
export type SubscriptionStatus = SubscriptionConfig & { lag?: number; lastError?: string | null; [field: string]: unknown };

// ---------------------------------------------------------------- tokens and meta

export type QueueAction = "send" | "receive" | "manage";
export type TopicAction = "publish" | "subscribe" | "consume" | "manage";
/** `{"topics/chat.*": ["publish", "subscribe"], "queues/jobs": ["send"]}` */
export type Capabilities = Record<string, (QueueAction | TopicAction)[]>;

export interface TokenRequest {
  /** Seconds, 1–86400. */
  ttl: number;
  capabilities: Capabilities;
}
export interface TokenResult { token: string; expiresAt: number }

export interface Health { ok: true; version: string }
