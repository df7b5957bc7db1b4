/**
 * Topics on the wire: a topic's config with its defaults, and one message as read, polled
 * or pushed to a live subscriber (API.md, Topics).
 */
import type { LocationHint } from "./location-hints.js";

export interface TopicConfig {
  partitions: number;
  /** Seconds a message is kept; 0 keeps messages forever. */
  retention: number;
  /** Bytes kept per partition before the oldest messages go. */
  retentionBytes: number;
  maxMessageBytes: number;
  deduplicationWindow: number;
  compaction: boolean;
  locationHint: LocationHint | null;
}

export const DEFAULT_TOPIC_CONFIG: Readonly<TopicConfig> = Object.freeze({
  partitions: 1,
  retention: 604800,
  retentionBytes: 1073741824,
  maxMessageBytes: 262144,
  deduplicationWindow: 300,
  compaction: false,
  locationHint: null,
});

/** PUT /v1/topics/{t}: every field optional; PUT merges what it names into the current (or default) config. */
export type TopicConfigPatch = Partial<TopicConfig>;

/** One message as stored in a partition's log and as every reader sees it. */
export interface TopicMessage {
  partition: number;
  offset: number;
  id: string;
  key: string | null;
  body: unknown;
  headers: Record<string, string>;
  /** ms since epoch, when the partition accepted it */
  timestamp: number;
}
