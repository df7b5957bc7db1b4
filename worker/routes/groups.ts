/**
 * /v1/topics/{t}/groups/{g}: consumer groups. Partition 0's object is each group's home
 * (a group exists when it has it); the other partitions make their copy from the home's
 * config when first used. Each handler validates and makes one call on the topic router
 * (durable-objects/topic/router/groups.ts), which goes to the partitions concerned.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { MAX_DELIVERIES_LIMIT, MAX_VISIBILITY_TIMEOUT, type SeekTarget } from "../../durable-objects/topic/groups/types";
import { demand, requires } from "../auth";
import { newApp, validNames } from "../http";
import { errorResponses, NameSchema } from "../schemas";
import { ackGroup, groupStatus, nackGroup, pollGroup, putGroup, seekGroup } from "../../durable-objects/topic/router/groups";

export const groups = newApp();
groups.use("/:t/groups/:g", validNames("t", "g"));
groups.use("/:t/groups/:g/*", validNames("t", "g"));

const Params = z.object({ t: z.string().openapi({ example: "orders" }), g: z.string().openapi({ example: "billing" }) });
const jsonOf = <S extends z.ZodType>(schema: S) => ({ "application/json": { schema } });
const seconds = (min: number, max: number) => z.number().int().min(min).max(max);

const GroupConfigSchema = z
  .object({
    visibilityTimeout: seconds(1, MAX_VISIBILITY_TIMEOUT).openapi({ description: "lease seconds (30)" }),
    maxDeliveries: z.number().int().min(0).max(MAX_DELIVERIES_LIMIT).openapi({ description: "0 = unlimited (0)" }),
    deadLetterQueue: NameSchema.nullable().openapi({ description: "queue for messages past maxDeliveries (none: dropped)" }),
    ordered: z.boolean().openapi({ description: "at most one message per key in flight (false)" }),
    start: z.enum(["earliest", "latest"]).openapi({ description: "where a new group starts (earliest)" }),
  })
  .openapi("GroupConfig");
const GroupConfigPatchSchema = GroupConfigSchema.partial().strict().openapi("GroupConfigPatch");

const PollSchema = z.object({
  max: z.number().int().min(1).max(100).optional(),
  wait: seconds(0, 20).optional().openapi({ description: "long-poll seconds (0)" }),
  partition: z.number().int().min(0).optional().openapi({ description: "poll one partition (default: any)" }),
  visibilityTimeout: seconds(1, MAX_VISIBILITY_TIMEOUT).optional(),
});
const AckSchema = z.object({ receipts: z.array(z.string().max(256)).min(1).max(1000) });
const NackSchema = z.object({
  receipts: z.array(z.string().max(256)).min(1).max(1000),
  delay: seconds(0, MAX_VISIBILITY_TIMEOUT).optional().openapi({ description: "seconds until redelivery (0: at once)" }),
  attempted: z.boolean().optional().openapi({ description: "false: the member never ran these messages, so this delivery does not count in attempts (true)" }),
});
const SeekSchema = z
  .object({
    to: z.union([z.number().int().min(0), z.enum(["earliest", "latest"])]).optional(),
    since: z.number().int().min(0).optional().openapi({ description: "ms epoch: the first message at or after it" }),
    partition: z.number().int().min(0).optional(),
  })
  .refine((b) => (b.to === undefined) !== (b.since === undefined), { path: ["to"], message: "give exactly one of to or since" })
  .refine((b) => typeof b.to !== "number" || b.partition !== undefined, { path: ["partition"], message: "an offset needs a partition" });

const StatusSchema = z
  .object({
    partitions: z.array(z.object({
      partition: z.number().int(), committed: z.number().int(), lag: z.number().int(), inFlight: z.number().int(),
    })),
  })
  .openapi("GroupStatus");
const PolledSchema = z.object({
  messages: z.array(z.object({
    partition: z.number().int(), offset: z.number().int(), id: z.string(), key: z.string().nullable(), body: z.unknown(),
    headers: z.record(z.string(), z.string()), timestamp: z.number().int(), receipt: z.string(), attempts: z.number().int(),
  })),
}).openapi("GroupPolled");
const NackedSchema = z.object({
  nacked: z.number().int(),
  failed: z.array(z.object({ receipt: z.string(), code: z.string() })),
}).openapi("GroupNacked");
const AckedSchema = z.object({
  acked: z.number().int(),
  failed: z.array(z.object({ receipt: z.string(), code: z.string() })),
}).openapi("GroupAcked");

groups.openapi(
  createRoute({
    method: "put", path: "/{t}/groups/{g}", summary: "Create a consumer group or change its config",
    middleware: [requires("topics", "manage")],
    request: { params: Params, body: { content: jsonOf(GroupConfigPatchSchema), required: false } },
    responses: {
      200: { description: "the group", content: jsonOf(z.object({ name: z.string(), config: GroupConfigSchema })) },
      ...errorResponses(400, 401, 403, 404, 409, 503),
    },
  }),
  async (c) => {
    const { t, g } = c.req.valid("param");
    const patch = c.req.valid("json");
    // A group has no default dead-letter queue (none: dropped), so only a named one needs `send`.
    if (patch.deadLetterQueue) demand(c, "queues", "send", patch.deadLetterQueue);
    const created = await putGroup(c.env, t, g, patch);
    return c.json({ name: created.name, config: created.config }, 200);
  },
);

groups.openapi(
  createRoute({
    method: "post", path: "/{t}/groups/{g}/poll", summary: "Lease messages to this member of the group (creates the group if new)",
    middleware: [requires("topics", "consume")],
    request: { params: Params, body: { content: jsonOf(PollSchema), required: false } },
    responses: { 200: { description: "leased messages", content: jsonOf(PolledSchema) }, ...errorResponses(400, 401, 403, 404, 409, 503) },
  }),
  async (c) => {
    const { t, g } = c.req.valid("param");
    const b = c.req.valid("json");
    const messages = await pollGroup(c.env, t, g, {
      max: b.max ?? 1, waitMs: (b.wait ?? 0) * 1000, partition: b.partition, visibilityTimeout: b.visibilityTimeout,
    });
    return c.json({ messages }, 200);
  },
);

groups.openapi(
  createRoute({
    method: "post", path: "/{t}/groups/{g}/ack", summary: "Acknowledge leased messages for good",
    middleware: [requires("topics", "consume")],
    request: { params: Params, body: { content: jsonOf(AckSchema), required: true } },
    responses: { 200: { description: "acked count and failures", content: jsonOf(AckedSchema) }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { t, g } = c.req.valid("param");
    return c.json(await ackGroup(c.env, t, g, c.req.valid("json").receipts), 200);
  },
);

groups.openapi(
  createRoute({
    method: "post", path: "/{t}/groups/{g}/nack", summary: "Hand leased messages back: redelivered at once or after a delay, as if their lease ended",
    middleware: [requires("topics", "consume")],
    request: { params: Params, body: { content: jsonOf(NackSchema), required: true } },
    responses: { 200: { description: "nacked count and failures", content: jsonOf(NackedSchema) }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { t, g } = c.req.valid("param");
    const b = c.req.valid("json");
    return c.json(await nackGroup(c.env, t, g, b.receipts, b.delay ?? 0, b.attempted ?? true), 200);
  },
);

groups.openapi(
  createRoute({
    method: "get", path: "/{t}/groups/{g}", summary: "A group's committed offset, lag and in-flight count per partition",
    middleware: [requires("topics", "consume")],
    request: { params: Params },
    responses: { 200: { description: "status", content: jsonOf(StatusSchema) }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { t, g } = c.req.valid("param");
    return c.json({ partitions: await groupStatus(c.env, t, g) }, 200);
  },
);

groups.openapi(
  createRoute({
    method: "post", path: "/{t}/groups/{g}/seek", summary: "Move the group to an offset, the start, the end, or a time (replay or skip)",
    middleware: [requires("topics", "consume")],
    request: { params: Params, body: { content: jsonOf(SeekSchema), required: true } },
    responses: { 200: { description: "the new positions", content: jsonOf(StatusSchema) }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { t, g } = c.req.valid("param");
    const b = c.req.valid("json");
    const target: SeekTarget = b.since !== undefined ? { since: b.since } : { to: b.to! };
    return c.json({ partitions: await seekGroup(c.env, t, g, target, b.partition) }, 200);
  },
);
