/**
 * /v1/topics: topic config, publish and read/replay. Each handler validates, makes one call
 * on the topic router (durable-objects/topic/router/), which owns the work across
 * partitions, and answers.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { CatalogPage } from "../../durable-objects/catalog/catalog";
import { DEFAULT_LIST_LIMIT } from "../../protocol/limits";
import { ListQuery, NextCursor } from "./queues-schemas";
import { may, requires } from "../auth";
import { ApiError } from "../../durable-objects/shared/errors";
import { requireTopic } from "../../durable-objects/topic/router/directory";
import { newApp, validNames } from "../http";
import { catalogStub } from "../../durable-objects/env";
import { errorResponses } from "../schemas";
import { TopicConfigPatchSchema, TopicConfigSchema } from "./topic-schemas";
import { type TopicInfo } from "../../durable-objects/topic/config";
import { configureTopic, deleteTopic } from "../../durable-objects/topic/router/directory";
import { PublishBodySchema, publishToTopic } from "../../durable-objects/topic/router/publish";
import { readMessages, topicStatus } from "../../durable-objects/topic/router/topics";

export const topics = newApp();
topics.use("/:t/*", validNames("t"));
topics.use("/:t", validNames("t"));

const Params = z.object({ t: z.string().openapi({ example: "orders" }) });
const jsonOf = <S extends z.ZodType>(schema: S) => ({ "application/json": { schema } });

const PartitionSchema = z.object({
  partition: z.number().int(),
  first: z.number().int().openapi({ description: "lowest kept offset" }),
  next: z.number().int().openapi({ description: "offset the next message will get" }),
  bytes: z.number().int(),
  subscribers: z.number().int(),
});
const TopicSchema = z.object({ name: z.string(), config: TopicConfigSchema, createdAt: z.number().int() }).openapi("Topic");
const TopicStatusSchema = z
  .object({
    name: z.string(),
    config: TopicConfigSchema,
    partitions: z.array(PartitionSchema),
    groups: z.array(z.object({ name: z.string(), lag: z.number().int() })),
  })
  .openapi("TopicStatus");
const PublishedSchema = z
  .object({ messages: z.array(z.object({ id: z.string(), partition: z.number().int(), offset: z.number().int(), duplicate: z.boolean() })) })
  .openapi("Published");
const TopicMessageSchema = z
  .object({
    partition: z.number().int(), offset: z.number().int(), id: z.string(), key: z.string().nullable(),
    body: z.unknown(), headers: z.record(z.string(), z.string()), timestamp: z.number().int(),
  })
  .openapi("TopicMessage");
const ReadSchema = z
  .object({ messages: z.array(TopicMessageSchema), next: z.number().int(), first: z.number().int() })
  .openapi("TopicRead");

/** A non-negative integer in a query string. */
const offsetParam = (description: string) =>
  z.string().regex(/^\d{1,15}$/, "must be a non-negative integer").transform(Number).optional().openapi({ description, type: "integer" });
const ReadQuery = z
  .object({
    partition: offsetParam("0 … partitions-1 (0)"),
    from: offsetParam("offset to start at (the first kept offset)"),
    since: offsetParam("ms since the Unix epoch: start at the first message at or after it"),
    limit: z.string().regex(/^\d{1,4}$/, "must be an integer from 1 to 1000").transform(Number)
      .refine((n) => n >= 1 && n <= 1000, "must be an integer from 1 to 1000").optional().openapi({ type: "integer", description: "1-1000 (100)" }),
  })
  .refine((q) => q.from === undefined || q.since === undefined, { path: ["since"], message: "give from or since, not both" });

const view = (info: TopicInfo) => ({ name: info.name, config: info.config, createdAt: info.createdAt });

topics.openapi(
  createRoute({
    method: "put", path: "/{t}", summary: "Create a topic or change its config (partitions may grow, never shrink)",
    middleware: [requires("topics", "manage")],
    request: { params: Params, body: { content: jsonOf(TopicConfigPatchSchema), required: false } },
    responses: { 200: { description: "the topic", content: jsonOf(TopicSchema) }, ...errorResponses(400, 401, 403, 409, 503) },
  }),
  async (c) => {
    const info = await configureTopic(c.env, c.req.valid("param").t, c.req.valid("json"));
    return c.json(view(info), 200);
  },
);

topics.openapi(
  createRoute({
    method: "get", path: "/{t}", summary: "A topic's config, and per partition its offsets, bytes and subscribers",
    middleware: [requires("topics", "manage")],
    request: { params: Params },
    responses: { 200: { description: "status", content: jsonOf(TopicStatusSchema) }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => c.json(await topicStatus(c.env, c.req.valid("param").t), 200),
);

topics.openapi(
  createRoute({
    method: "delete", path: "/{t}", summary: "Delete a topic, its messages, groups and subscriptions",
    middleware: [requires("topics", "manage")],
    request: { params: Params },
    responses: { 204: { description: "deleted" }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    await deleteTopic(c.env, c.req.valid("param").t);
    return c.body(null, 204);
  },
);

topics.openapi(
  createRoute({
    method: "get", path: "/", summary: "List topics with their partition counts, a page at a time in name order",
    middleware: [requires("topics", "manage", { list: true })],
    request: { query: ListQuery },
    responses: {
      200: {
        description: "a page of topics",
        content: jsonOf(z.object({ topics: z.array(z.object({ name: z.string(), partitions: z.number().int() })), next: NextCursor })),
      },
      ...errorResponses(400, 401, 403, 503),
    },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    // Answered from the Catalog alone: no partition is called. `info` is Record<string,
    // unknown>, which RPC typing cannot express; it is plain JSON.
    const page = (await catalogStub(c.env).page("topics", limit ?? DEFAULT_LIST_LIMIT, cursor)) as unknown as CatalogPage;
    const topics = page.entries.map((e) => ({ name: e.name, partitions: Number(e.info.partitions ?? 1) }));
    return c.json(page.next === undefined ? { topics } : { topics, next: page.next }, 200);
  },
);

/** Any of these actions on the topic will do (a browser that may only subscribe must learn how many partitions to follow). */
const PARTITION_COUNT_ACTIONS = ["subscribe", "publish", "manage"] as const;

topics.openapi(
  createRoute({
    method: "get", path: "/{t}/partitions", summary: "How many partitions the topic has (for subscribe, publish or manage credentials)",
    middleware: [async (c, next) => {
      if (!PARTITION_COUNT_ACTIONS.some((action) => may(c, "topics", action))) {
        throw new ApiError("FORBIDDEN", `credential lacks 'subscribe', 'publish' or 'manage' on topics/${c.req.param("t") ?? ""}`, {
          kind: "topics", action: "subscribe", name: c.req.param("t") ?? "",
        });
      }
      await next();
    }],
    request: { params: Params },
    responses: {
      200: { description: "the partition count", content: jsonOf(z.object({ partitions: z.number().int() }).openapi("TopicPartitions")) },
      ...errorResponses(400, 401, 403, 404, 503),
    },
  }),
  async (c) => c.json({ partitions: (await requireTopic(c.env, c.req.valid("param").t)).config.partitions }, 200),
);

topics.openapi(
  createRoute({
    method: "post", path: "/{t}/messages", summary: "Publish one message or a batch of 1-1000 (creates the topic if new)",
    middleware: [requires("topics", "publish")],
    request: { params: Params, body: { content: jsonOf(PublishBodySchema), required: true } },
    responses: { 201: { description: "where each message landed, in request order", content: jsonOf(PublishedSchema) }, ...errorResponses(400, 401, 403, 413, 429, 503) },
  }),
  async (c) => {
    const messages = await publishToTopic(c.env, c.req.valid("param").t, c.req.valid("json").messages);
    return c.json({ messages }, 201);
  },
);

topics.openapi(
  createRoute({
    method: "get", path: "/{t}/messages", summary: "Read or replay a partition from an offset or a time",
    middleware: [requires("topics", "subscribe")],
    request: { params: Params, query: ReadQuery },
    responses: { 200: { description: "messages in offset order, with first and next", content: jsonOf(ReadSchema) }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { t } = c.req.valid("param");
    const q = c.req.valid("query");
    return c.json(await readMessages(c.env, t, { partition: q.partition ?? 0, from: q.from, since: q.since, limit: q.limit ?? 100 }), 200);
  },
);
