/**
 * A topic's config as schemas: the PUT body (validated at the edge) and the shape shown in
 * answers and the OpenAPI document. Types, defaults and bounds live in protocol/.
 */
import { z } from "@hono/zod-openapi";
import { LOCATION_HINTS } from "../../protocol/location-hints";
import { MAX_DEDUP_WINDOW_SECONDS, MAX_MESSAGE_BYTES_LIMIT, MAX_PARTITIONS, MAX_RETENTION_SECONDS } from "../../protocol/limits";
import type { TopicConfig, TopicConfigPatch } from "../../protocol/topics";

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
  .openapi("TopicConfigPatch") satisfies z.ZodType<TopicConfigPatch>;


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
  .openapi("TopicConfig") satisfies z.ZodType<TopicConfig>;

