/**
 * A topic's configuration: the schema (shared by the PUT route and the OpenAPI document),
 * the defaults, and the small value types the Worker and the partition objects exchange
 * to agree on it. Partition 0's object is the topic's home and holds the authoritative
 * copy; every partition keeps the copy it was last given, stamped with a version.
 */
import { z } from "@hono/zod-openapi";
import { LOCATION_HINTS, type LocationHint } from "./location-hints";

export const MAX_PARTITIONS = 64;
/** A row in a Durable Object's SQLite may not exceed 2 MB; keep a message well under it. */
export const MAX_MESSAGE_BYTES_LIMIT = 1024 * 1024;
export const MAX_RETENTION_SECONDS = 10 * 365 * 86400;
export const MAX_DEDUP_WINDOW_SECONDS = 86400;

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

/** Every field optional: PUT merges what it names into the current (or default) config. */
export const TopicConfigPatchSchema = z
  .object({
    partitions: z.number().int().min(1).max(MAX_PARTITIONS).openapi({ description: "1-64 (1); may grow, never shrink" }),
    retention: z.number().int().min(0).max(MAX_RETENTION_SECONDS).openapi({ description: "seconds (604800); 0 = forever" }),
    retentionBytes: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).openapi({ description: "bytes per partition (1073741824)" }),
    maxMessageBytes: z.number().int().min(1).max(MAX_MESSAGE_BYTES_LIMIT).openapi({ description: "bytes (262144)" }),
    deduplicationWindow: z.number().int().min(0).max(MAX_DEDUP_WINDOW_SECONDS).openapi({ description: "seconds (300)" }),
    compaction: z.boolean().openapi({ description: "keep only the newest message per key (false)" }),
    locationHint: z.enum(LOCATION_HINTS).nullable().openapi({ description: "Durable Object location hint for new partitions" }),
  })
  .partial()
  .strict()
  .openapi("TopicConfigPatch");

export type TopicConfigPatch = z.infer<typeof TopicConfigPatchSchema>;

export const TopicConfigSchema = z
  .object({
    partitions: z.number().int(),
    retention: z.number().int(),
    retentionBytes: z.number().int(),
    maxMessageBytes: z.number().int(),
    deduplicationWindow: z.number().int(),
    compaction: z.boolean(),
    locationHint: z.enum(LOCATION_HINTS).nullable(),
  })
  .openapi("TopicConfig");

/**
 * Which configuration a copy is: `incarnation` changes when the topic is deleted and
 * created again, `version` grows with every change the home accepts.
 */
export interface ConfigStamp {
  incarnation: string;
  version: number;
}

/** What the home answers about a topic, and what the Worker caches and hands partitions. */
export interface TopicInfo {
  name: string;
  config: TopicConfig;
  createdAt: number;
  stamp: ConfigStamp;
}

export function mergeConfig(base: Readonly<TopicConfig>, patch: TopicConfigPatch): TopicConfig {
  const out: TopicConfig = { ...base };
  for (const [k, v] of Object.entries(patch) as [keyof TopicConfig, never][]) {
    if (v !== undefined) out[k] = v;
  }
  return out;
}

export function sameConfig(a: Readonly<TopicConfig>, b: Readonly<TopicConfig>): boolean {
  return (Object.keys(DEFAULT_TOPIC_CONFIG) as (keyof TopicConfig)[]).every((k) => a[k] === b[k]);
}

export function sameStamp(a: ConfigStamp, b: ConfigStamp): boolean {
  return a.incarnation === b.incarnation && a.version === b.version;
}
