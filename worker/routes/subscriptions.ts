/**
 * /v1/topics/{t}/subscriptions/{s}: fan-out subscriptions into queues and webhooks.
 *
 * A subscription lives in every partition of its topic (each keeps its own position), so
 * PUT and DELETE go to every partition and GET sums their status. PUT is idempotent: running
 * it again (say after a partial failure) converges every partition on the same config.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { privateWebhooksAllowed, webhookUrlProblem } from "../../durable-objects/topic/forward/address";
import { generateSecret } from "../../durable-objects/topic/forward/sign";
import type { PartitionSubscription, SubscriptionConfig, SubscriptionTarget } from "../../durable-objects/topic/forward/types";
import { demand, requires } from "../auth";
import type { Env } from "../../durable-objects/env";
import { ApiError, unwrap } from "../../durable-objects/shared/errors";
import { newApp, validNames } from "../http";
import { partitionStub, queueStub } from "../../durable-objects/env";
import { errorResponses } from "../schemas";
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_WEBHOOK_TIMEOUT, SubscriptionBody, type SubscriptionBodyInput, SubscriptionStatusSchema } from "./subscription-schemas";
import { requireTopic } from "../../durable-objects/topic/router/directory";

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
    responses: { 200: { description: "the subscription and its status", content: json }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { t, s } = c.req.valid("param");
    const body = c.req.valid("json");
    const target = buildTarget(c.env, t, s, body);
    // The subscription writes into queues on the caller's behalf: a queue it names needs
    // `send` too. The default dead-letter queue "{t}.{s}.dlq" comes with the subscription.
    if (target.type === "queue") demand(c, "queues", "send", target.queue);
    else if (body.deadLetterQueue) demand(c, "queues", "send", body.deadLetterQueue);
    // Fresh, not cached: a subscription must reach every partition the topic has now.
    const info = await requireTopic(c.env, t, { fresh: true });
    const partitions = info.config.partitions;

    const first = partitionStub(c.env, t, 0);
    const existing = await first.getSubscription(s);
    let secret: string | undefined;
    let generated = false;
    if (target.type === "webhook") {
      secret = body.secret ?? (existing.ok ? ((await first.subscriptionSecret(s)) ?? undefined) : undefined);
      if (secret === undefined) [secret, generated] = [generateSecret(), true];
    } else {
      // "The target queue is created if it does not exist" — before any partition forwards to it.
      unwrap(await queueStub(c.env, target.queue).configure({}));
    }
    const config: SubscriptionConfig = { topic: t, target, filter: body.filter ?? {} };
    const results = await Promise.all(range(partitions).map((p) => partitionStub(c.env, t, p).putSubscription({
      name: s, partition: p, config, secret,
      // A subscription that already exists starts in a partition new to it where it was created.
      createdAt: existing.ok ? existing.value.createdAt : Date.now(),
      start: existing.ok ? "created" : "next",
    }, info)));
    const status = summarize(t, results.map(unwrap));
    return c.json(generated ? { ...status, secret } : status, 200);
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
    const partitions = (await requireTopic(c.env, t, { fresh: true })).config.partitions;
    const results = await Promise.all(range(partitions).map((p) => partitionStub(c.env, t, p).getSubscription(s)));
    const first = results[0];
    if (!first || !first.ok) throw new ApiError("NOT_FOUND", `subscription '${s}' does not exist on topic '${t}'`);
    // A partition without it (a PUT interrupted half-way) is left out until the PUT is repeated.
    return c.json(summarize(t, results.flatMap((r) => (r.ok ? [r.value] : []))), 200);
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
    const partitions = (await requireTopic(c.env, t, { fresh: true })).config.partitions;
    const results = (await Promise.all(range(partitions).map((p) => partitionStub(c.env, t, p).deleteSubscription(s)))).map(unwrap);
    if (!results.some((r) => r.deleted)) throw new ApiError("NOT_FOUND", `subscription '${s}' does not exist on topic '${t}'`);
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

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** One status from every partition's: sums of lag and counters, the most recent error. */
function summarize(topic: string, parts: PartitionSubscription[]): z.infer<typeof SubscriptionStatusSchema> {
  const base = parts[0]!;
  const statuses = parts.map((p) => p.status).sort((a, b) => a.partition - b.partition);
  const sum = (k: "lag" | "delivered" | "failed" | "skipped"): number => statuses.reduce((n, st) => n + st[k], 0);
  const lastError = statuses.map((st) => st.lastError).filter((e) => e !== null).sort((a, b) => b.at - a.at)[0] ?? null;
  return {
    name: base.name, topic, target: base.config.target, filter: base.config.filter, createdAt: base.createdAt,
    lag: sum("lag"), delivered: sum("delivered"), failed: sum("failed"), skipped: sum("skipped"), lastError,
    partitions: statuses,
  };
}
