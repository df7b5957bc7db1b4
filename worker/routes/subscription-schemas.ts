/**
 * Request and response schemas of `/v1/topics/{t}/subscriptions/{s}`: a subscription targets
 * either a queue (`{queue, filter?}`) or a webhook (`{url, secret?, filter?, maxAttempts?,
 * deadLetterQueue?, timeout?}`), never both; unknown fields are refused so a typo never
 * silently creates a different subscription.
 */
import { z } from "@hono/zod-openapi";
import { webhookUrlProblem } from "../../durable-objects/topic/forward/address";
import { HeadersSchema, NameSchema } from "../schemas";

export const DEFAULT_MAX_ATTEMPTS = 10;
export const DEFAULT_WEBHOOK_TIMEOUT = 10;
const WEBHOOK_ONLY = ["secret", "maxAttempts", "deadLetterQueue", "timeout"] as const;

export const SubscriptionBody = z
  .object({
    queue: NameSchema.optional().openapi({ description: "target queue (created if it does not exist)" }),
    url: z.string().max(2048).optional().openapi({ description: "http(s) webhook URL", example: "https://example.com/hooks/spool" }),
    secret: z.string().min(1).max(256).optional().openapi({ description: "HMAC key for Spool-Signature; generated and returned once when absent" }),
    filter: HeadersSchema.optional().openapi({ description: "header name -> exact value; all must match", example: { type: "signup" } }),
    maxAttempts: z.number().int().min(1).max(100).optional().openapi({ description: `deliveries before dead-lettering (${DEFAULT_MAX_ATTEMPTS})` }),
    deadLetterQueue: NameSchema.nullable().optional().openapi({ description: 'default "{t}.{s}.dlq"; null drops' }),
    timeout: z.number().int().min(1).max(30).optional().openapi({ description: `seconds to wait for the webhook (${DEFAULT_WEBHOOK_TIMEOUT})` }),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.queue === undefined && b.url === undefined) {
      ctx.addIssue({ code: "custom", path: ["queue"], message: "give a target: either `queue` or `url`" });
    }
    if (b.queue !== undefined && b.url !== undefined) {
      ctx.addIssue({ code: "custom", path: ["url"], message: "give either `queue` or `url`, not both" });
    }
    if (b.queue !== undefined) {
      for (const f of WEBHOOK_ONLY) if (b[f] !== undefined) ctx.addIssue({ code: "custom", path: [f], message: `\`${f}\` applies only to webhook subscriptions` });
    }
    if (b.url !== undefined) {
      // The private-address rule depends on the Worker's env and is checked in the handler.
      const problem = webhookUrlProblem(b.url, true);
      if (problem) ctx.addIssue({ code: "custom", path: ["url"], message: problem.replace(/^url: /, "") });
    }
  })
  .openapi("SubscriptionConfig");

export type SubscriptionBodyInput = z.infer<typeof SubscriptionBody>;

const ForwardErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  at: z.number().int().openapi({ description: "ms since the Unix epoch" }),
  partition: z.number().int(),
  offset: z.number().int().nullable(),
});

const TargetSchema = z.union([
  z.object({ type: z.literal("queue"), queue: z.string() }),
  z.object({ type: z.literal("webhook"), url: z.string(), maxAttempts: z.number().int(), deadLetterQueue: z.string().nullable(), timeout: z.number().int() }),
]);

export const SubscriptionStatusSchema = z
  .object({
    name: z.string(),
    topic: z.string(),
    target: TargetSchema,
    filter: z.record(z.string(), z.string()),
    createdAt: z.number().int(),
    lag: z.number().int().openapi({ description: "messages published and not yet forwarded, all partitions" }),
    delivered: z.number().int(),
    failed: z.number().int().openapi({ description: "webhook messages dead-lettered (or dropped) after maxAttempts" }),
    skipped: z.number().int().openapi({ description: "messages that did not match the filter" }),
    lastError: ForwardErrorSchema.nullable(),
    partitions: z.array(z.object({
      partition: z.number().int(),
      position: z.number().int().openapi({ description: "next offset to forward" }),
      next: z.number().int(),
      lag: z.number().int(),
      delivered: z.number().int(),
      failed: z.number().int(),
      skipped: z.number().int(),
      attempts: z.number().int().openapi({ description: "failed tries of the message at position" }),
      retryAt: z.number().int().nullable(),
      lastError: ForwardErrorSchema.nullable(),
    })),
    secret: z.string().optional().openapi({ description: "only in the PUT answer that generated it" }),
  })
  .openapi("Subscription");
