/**
 * /v1/topics/{t}/subscriptions/{s}: fan-out subscriptions into queues and webhooks.
 *
 * A subscription lives in every partition of its topic; the topic router
 * (durable-objects/topic/router/subscriptions.ts) puts, reads and deletes it there. These
 * handlers validate the target and what the caller may do with it, and make that one call.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { privateWebhooksAllowed, webhookUrlProblem } from "../../durable-objects/topic/forward/address";
import type { SubscriptionTarget } from "../../durable-objects/topic/forward/types";
import { demand, requires } from "../auth";
import type { Env } from "../../durable-objects/env";
import { ApiError } from "../../durable-objects/shared/errors";
import { newApp, validNames } from "../http";
import { errorResponses } from "../schemas";
import { queueCreation as queueCreationOptions } from "./queues";
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_WEBHOOK_TIMEOUT, SubscriptionBody, type SubscriptionBodyInput, SubscriptionStatusSchema } from "./subscription-schemas";
import { deleteSubscription, putSubscription, subscriptionStatus } from "../../durable-objects/topic/router/subscriptions";

/** Longest resource name (API.md, Conventions). */
const MAX_NAME_LENGTH = 128;

export const subscriptions = newApp();
subscriptions.use("/:t/subscriptions/:s", validNames("t", "s"));

const Params = z.object({ t: z.string(), s: z.string() });
const json = { "application/json": { schema: SubscriptionStatusSchema } };

subscriptions.openapi(
  createRoute({
    method: "put",
    path: "/{t}/subscriptions/{s}",
    summary: "Create or update a subscription forwarding the topic into a queue or to a webhook",
    middleware: [requires("topics", "manage")],
    request: { params: Params, body: { content: { "application/json": { schema: SubscriptionBody } }, required: true } },
    responses: { 200: { description: "the subscription and its status", content: json }, ...errorResponses(400, 401, 403, 404, 409, 503) },
  }),
  async (c) => {
    const { t, s } = c.req.valid("param");
    const body = c.req.valid("json");
    const target = buildTarget(c.env, t, s, body);
    // The subscription writes into queues on the caller's behalf: every queue it may write
    // to needs `send` too, the default dead-letter queue "{t}.{s}.dlq" included (API.md,
    // *Dead-letter queues*); so does the default "{q}.dlq" of a target queue it creates.
    if (target.type === "queue") demand(c, "queues", "send", target.queue);
    else if (target.deadLetterQueue !== null) demand(c, "queues", "send", target.deadLetterQueue);
    const queueCreation = target.type === "queue" ? queueCreationOptions(c, target.queue) : undefined;
    const spec = { target, filter: body.filter ?? {}, secret: body.secret, ...(queueCreation ? { queueCreation } : {}) };
    return c.json(await putSubscription(c.env, t, s, spec), 200);
  },
);

subscriptions.openapi(
  createRoute({
    method: "get",
    path: "/{t}/subscriptions/{s}",
    summary: "A subscription's target, filter, per-partition position and lag, counters and last error",
    middleware: [requires("topics", "manage")],
    request: { params: Params },
    responses: { 200: { description: "status", content: json }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { t, s } = c.req.valid("param");
    return c.json(await subscriptionStatus(c.env, t, s), 200);
  },
);

subscriptions.openapi(
  createRoute({
    method: "delete",
    path: "/{t}/subscriptions/{s}",
    summary: "Delete a subscription; forwarding stops at once",
    middleware: [requires("topics", "manage")],
    request: { params: Params },
    responses: { 204: { description: "deleted" }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { t, s } = c.req.valid("param");
    await deleteSubscription(c.env, t, s);
    return c.body(null, 204);
  },
);

function buildTarget(env: Env, t: string, s: string, body: SubscriptionBodyInput): SubscriptionTarget {
  if (body.queue !== undefined) return { type: "queue", queue: body.queue };
  const url = body.url!;
  const problem = webhookUrlProblem(url, privateWebhooksAllowed(env));
  if (problem) throw new ApiError("VALIDATION_FAILED", problem, { field: "url", target: "json" });
  let deadLetterQueue = body.deadLetterQueue === undefined ? `${t}.${s}.dlq` : body.deadLetterQueue;
  if (deadLetterQueue !== null && deadLetterQueue.length > MAX_NAME_LENGTH) {
    throw new ApiError("VALIDATION_FAILED", `deadLetterQueue: the default "{t}.{s}.dlq" would exceed ${MAX_NAME_LENGTH} characters; name one`, { field: "deadLetterQueue", target: "json" });
  }
  deadLetterQueue ??= null;
  return { type: "webhook", url, maxAttempts: body.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, deadLetterQueue, timeout: body.timeout ?? DEFAULT_WEBHOOK_TIMEOUT };
}
