/**
 * Request and response schemas of /v1/queues. Ranges come from protocol/limits.ts
 * so the edge and the object agree on them.
 */
import { z } from "@hono/zod-openapi";
import { CONFIG_RANGES, LIMITS } from "../../durable-objects/queue/config";
import { LOCATION_HINTS } from "../../durable-objects/env";
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from "../../protocol/limits";
import { HeadersSchema, MessageBodySchema, MessageIdSchema, NameSchema } from "../schemas";

const int = (range: readonly [number, number]) => z.number().int().min(range[0]).max(range[1]);

export const QueueParams = z.object({ q: z.string().openapi({ param: { name: "q", in: "path" }, example: "jobs" }) });

const configFields = {
  visibilityTimeout: int(CONFIG_RANGES.visibilityTimeout).openapi({ description: "lease seconds (30)" }),
  maxReceives: int(CONFIG_RANGES.maxReceives).openapi({ description: "deliveries before dead-lettering (5)" }),
  deadLetterQueue: NameSchema.nullable().openapi({ description: 'dead-letter queue ("{q}.dlq"); null drops' }),
  fifo: z.boolean().openapi({ description: "ordered groups (false); fixed at creation" }),
  deduplicationWindow: int(CONFIG_RANGES.deduplicationWindow).openapi({ description: "seconds an id is remembered (300)" }),
  delay: int(CONFIG_RANGES.delay).openapi({ description: "default delay seconds (0)" }),
  retention: int(CONFIG_RANGES.retention).openapi({ description: "seconds a message is kept (345600)" }),
  maxMessages: int(CONFIG_RANGES.maxMessages).openapi({ description: "backpressure limit (100000)" }),
  maxBytes: int(CONFIG_RANGES.maxBytes).openapi({ description: "backpressure limit (268435456)" }),
  maxMessageBytes: int(CONFIG_RANGES.maxMessageBytes).openapi({ description: "largest message, body + headers as JSON (262144)" }),
  delivery: z.enum(["at-least-once", "at-most-once"]),
  locationHint: z.enum(LOCATION_HINTS),
};

export const ConfigBody = z.object(configFields).partial().strict().openapi("QueueConfigInput");
export const ConfigSchema = z
  .object({ ...configFields, locationHint: z.string().optional() })
  .openapi("QueueConfig");

export const StatsSchema = z
  .object(Object.fromEntries(
    ["visible", "inFlight", "delayed", "messages", "bytes", "oldestAgeMs", "consumers", "sent", "received", "acked", "deadLettered", "duplicates"]
      .map((k) => [k, z.number().int()]),
  ) as Record<"visible" | "inFlight" | "delayed" | "messages" | "bytes" | "oldestAgeMs" | "consumers" | "sent" | "received" | "acked" | "deadLettered" | "duplicates", z.ZodNumber>)
  .openapi("QueueStats");

export const CreatedSchema = z.object({ name: z.string(), config: ConfigSchema, createdAt: z.number().int() });
export const InfoSchema = z.object({ name: z.string(), config: ConfigSchema, stats: StatsSchema }).openapi("Queue");
/** `next` of a paged list: the cursor of the following page, absent on the last one. */
export const NextCursor = z.string().optional().openapi({ description: "cursor of the next page; absent on the last page" });

export const ListSchema = z.object({ queues: z.array(z.object({ name: z.string(), stats: StatsSchema })), next: NextCursor });

/** `?limit=&cursor=` of the paged lists of queues and topics (API.md, Conventions → Lists). */
export const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).optional()
    .openapi({ param: { name: "limit", in: "query" }, description: `entries per page, 1-${MAX_LIST_LIMIT} (${DEFAULT_LIST_LIMIT})` }),
  cursor: NameSchema.optional()
    .openapi({ param: { name: "cursor", in: "query" }, description: "`next` of the previous page" }),
});

const messageFields = {
  body: MessageBodySchema.optional().openapi({ description: "any JSON value, nested at most 64 deep (required)" }),
  id: MessageIdSchema.optional(),
  group: z.string().min(1).max(256).optional().openapi({ description: "FIFO group" }),
  delay: int(CONFIG_RANGES.delay).optional().openapi({ description: "seconds before it becomes visible" }),
  headers: HeadersSchema.optional(),
};

export const MessageInput = z.object(messageFields).openapi("QueueMessageInput");

/** `{messages: [...]}` (1–1000) or one message object; the handler normalises to a list. */
export const SendBody = z
  .object({ messages: z.array(MessageInput).min(1).max(LIMITS.maxBatch).optional(), ...messageFields })
  .superRefine((v, ctx) => {
    if (v.messages !== undefined) {
      for (const [i, m] of v.messages.entries()) {
        if (m.body === undefined) ctx.addIssue({ code: "custom", path: ["messages", i, "body"], message: "body is required" });
      }
      const extra = (Object.keys(messageFields) as (keyof typeof messageFields)[]).find((k) => v[k] !== undefined);
      if (extra) ctx.addIssue({ code: "custom", path: [extra], message: "send either {messages: [...]} or one message object, not both" });
    } else if (v.body === undefined) {
      ctx.addIssue({ code: "custom", path: ["body"], message: "body is required (or send {messages: [...]})" });
    }
  })
  .openapi("QueueSend", { description: "{messages: [{body, id?, group?, delay?, headers?}]} (1-1000) or one message object" });

export const SentSchema = z.object({
  messages: z.array(z.object({ id: z.string(), seq: z.number().int(), duplicate: z.boolean() })),
});

export const ReceiveBody = z
  .object({
    max: z.number().int().min(1).max(LIMITS.maxReceive).optional(),
    wait: z.number().int().min(0).max(LIMITS.maxWait).optional(),
    visibilityTimeout: int(CONFIG_RANGES.visibilityTimeout).optional(),
  })
  .openapi("QueueReceive");

const delivered = {
  id: z.string(),
  seq: z.number().int(),
  body: z.unknown(),
  headers: z.record(z.string(), z.string()),
  group: z.string().optional(),
  attempts: z.number().int(),
  sentAt: z.number().int(),
};

export const ReceivedSchema = z.object({
  messages: z.array(z.object({ ...delivered, receipt: z.string().optional().openapi({ description: "absent in at-most-once mode" }) })),
});

export const PeekSchema = z.object({
  messages: z.array(z.object({ ...delivered, state: z.enum(["visible", "inFlight", "delayed"]) })),
});

export const PeekQuery = z.object({
  limit: z.coerce.number().int().min(1).max(LIMITS.maxReceive).optional().openapi({ param: { name: "limit", in: "query" }, example: 10 }),
});

const Receipts = z.array(z.string().min(1).max(256)).max(LIMITS.maxReceipts);
const lease = z.number().int().min(0).max(LIMITS.maxLeaseSeconds);

export const AckBody = z.object({ receipts: Receipts }).openapi("QueueAck");
export const NackBody = z
  .object({
    receipts: Receipts,
    delay: lease.optional(),
    attempted: z.boolean().optional().openapi({ description: "false: the consumer never ran these (visible at once, the delivery is not counted in attempts)" }),
  })
  .openapi("QueueNack");
export const ExtendBody = z.object({ receipts: Receipts, visibilityTimeout: lease }).openapi("QueueExtend");

const Failed = z.array(z.object({ receipt: z.string(), code: z.literal("RECEIPT_INVALID") }));
export const AckedSchema = z.object({ acked: z.number().int(), failed: Failed });
export const NackedSchema = z.object({ nacked: z.number().int(), failed: Failed });
export const ExtendedSchema = z.object({ extended: z.number().int(), failed: Failed });

export const RedriveBody = z
  .object({
    to: NameSchema.optional().openapi({ description: "target queue (default: where each letter came from)" }),
    max: z.number().int().min(1).max(LIMITS.redriveMax).optional().openapi({ description: `letters to move (${LIMITS.redriveDefault})` }),
  })
  .openapi("QueueRedrive");

export const RedrivenSchema = z.object({
  moved: z.number().int(),
  needTo: z.number().int().optional().openapi({
    description: "letters left because they did not come from a queue (a consumer group, a subscription) and need `to`; only when some",
  }),
});
