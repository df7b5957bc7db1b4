/**
 * /v1/queues: point-to-point queues. Each route authorises, validates, and makes one RPC
 * call on the queue's object (durable-objects/queue/object.ts), whose method has the route's name.
 */
import { createRoute, z, type RouteConfig } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { CatalogPage } from "../../durable-objects/catalog/catalog";
import type { CreateOptions } from "../../durable-objects/queue/admission";
import { CREDENTIAL_EXPIRES_HEADER } from "../../durable-objects/shared/socket-limits";
import type { QueueSendInput, QueueStats } from "../../protocol/queues";
import { authorize, credentialExpiry, demand, requires, type QueueAction, type RequireOptions } from "../auth";
import type { AppEnv } from "../app-env";
import { DEFAULT_LIST_LIMIT } from "../../protocol/limits";
import { defaultDeadLetterQueue } from "../../protocol/names";
import { ApiError, unwrap } from "../../durable-objects/shared/errors";
import { fromRefusal } from "../../durable-objects/shared/refusals";
import { type Result } from "../../protocol/errors";
import { newApp, validNames } from "../http";
import { catalogStub, queueStub } from "../../durable-objects/env";
import { errorResponses } from "../schemas";
import {
  AckBody, AckedSchema, ConfigBody, CreatedSchema, ExtendBody, ExtendedSchema, InfoSchema, ListQuery, ListSchema, NackBody,
  NackedSchema, PeekQuery, PeekSchema, QueueParams, ReceiveBody, ReceivedSchema, RedriveBody, RedrivenSchema, SendBody,
  SentSchema,
} from "./queues-schemas";

export const queues = newApp();
queues.use("/:q/*", validNames("q"));
queues.use("/:q", validNames("q"));

const json = <S extends z.ZodType>(schema: S) => ({ content: { "application/json": { schema } } });
const body = <S extends z.ZodType>(schema: S) => ({ body: { ...json(schema), required: true } });

/**
 * What a call that may create queue `q` tells the object about its caller: whether it may
 * `send` to `"{q}.dlq"`, the dead-letter queue a queue created without naming one gets
 * (API.md, *Dead-letter queues*: the default name is authorised like a named one). Also
 * used where a subscription creates its target queue.
 */
export function queueCreation(c: Context<AppEnv>, q: string): CreateOptions {
  const cred = c.get("credential");
  return { defaultDeadLetterQueueAllowed: cred !== undefined && authorize(cred, "queues", "send", defaultDeadLetterQueue(q)) };
}

/** A queue route: its path, the action it needs, and the OpenAPI rest. */
function route<R extends Omit<RouteConfig, "middleware">>(action: QueueAction, config: R, options: RequireOptions = {}) {
  return createRoute({ ...config, middleware: [requires("queues", action, options)] as const });
}

queues.openapi(
  route("manage", {
    method: "get", path: "/", summary: "List queues with their stats, a page at a time in name order",
    request: { query: ListQuery },
    responses: { 200: { description: "a page of queues", ...json(ListSchema) }, ...errorResponses(400, 401, 403, 503) },
  }, { list: true }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    // `info` is Record<string, unknown>, which RPC typing cannot express; it is plain JSON.
    const page = (await catalogStub(c.env).page("queues", limit ?? DEFAULT_LIST_LIMIT, cursor)) as unknown as CatalogPage;
    // One call per queue on the page, and no more (API.md, Conventions → Lists).
    const listed = await Promise.all(
      page.entries.map(async (e) => {
        const r = (await queueStub(c.env, e.name).info()) as Result<{ stats: QueueStats }>;
        // A queue deleted while listed (or a stale Catalog entry) is simply left out.
        return r.ok ? { name: e.name, stats: r.value.stats } : null;
      }),
    );
    const queues = listed.filter((q) => q !== null);
    return c.json(page.next === undefined ? { queues } : { queues, next: page.next }, 200);
  },
);

queues.openapi(
  route("manage", {
    method: "put", path: "/{q}", summary: "Create a queue or change its config (fifo cannot change)",
    request: { params: QueueParams, ...body(ConfigBody) },
    responses: { 200: { description: "the queue", ...json(CreatedSchema) }, ...errorResponses(400, 401, 403, 409, 503) },
  }),
  async (c) => {
    const { q } = c.req.valid("param");
    const config = c.req.valid("json");
    // A named dead-letter queue needs `send`; the default "{q}.dlq" of a queue this PUT
    // creates is checked by the object, which knows whether it creates it.
    if (config.deadLetterQueue) demand(c, "queues", "send", config.deadLetterQueue);
    // The location hint only matters when this call creates the object.
    return c.json(unwrap(await queueStub(c.env, q, config.locationHint).configure(config, queueCreation(c, q))), 200);
  },
);

queues.openapi(
  route("manage", {
    method: "get", path: "/{q}", summary: "A queue's config and stats",
    request: { params: QueueParams },
    responses: { 200: { description: "the queue", ...json(InfoSchema) }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => c.json(unwrap(await queueStub(c.env, c.req.valid("param").q).info()), 200),
);

queues.openapi(
  route("manage", {
    method: "delete", path: "/{q}", summary: "Delete a queue and all its messages",
    request: { params: QueueParams },
    responses: { 204: { description: "deleted" }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    unwrap(await queueStub(c.env, c.req.valid("param").q).delete());
    return c.body(null, 204);
  },
);

queues.openapi(
  route("send", {
    method: "post", path: "/{q}/messages", summary: "Send messages (the first send creates the queue)",
    request: { params: QueueParams, ...body(SendBody) },
    responses: { 201: { description: "accepted", ...json(SentSchema) }, ...errorResponses(400, 401, 403, 409, 413, 415, 429, 503) },
  }),
  async (c) => {
    const { q } = c.req.valid("param");
    const { messages, ...one } = c.req.valid("json");
    // SendBody's refinement guarantees every message has a body.
    const batch = (messages ?? [one]) as QueueSendInput[];
    return c.json(unwrap(await queueStub(c.env, q).send(batch, queueCreation(c, q))), 201);
  },
);

queues.openapi(
  route("receive", {
    method: "post", path: "/{q}/receive", summary: "Receive messages under a lease (long-polls with wait)",
    request: { params: QueueParams, ...body(ReceiveBody) },
    responses: { 200: { description: "leased messages", ...json(ReceivedSchema) }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => c.json(unwrap(await queueStub(c.env, c.req.valid("param").q).receive(c.req.valid("json"))), 200),
);

queues.openapi(
  route("receive", {
    method: "post", path: "/{q}/ack", summary: "Acknowledge (delete) received messages",
    request: { params: QueueParams, ...body(AckBody) },
    responses: { 200: { description: "acked", ...json(AckedSchema) }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => c.json(unwrap(await queueStub(c.env, c.req.valid("param").q).ack(c.req.valid("json").receipts)), 200),
);

queues.openapi(
  route("receive", {
    method: "post", path: "/{q}/nack", summary: "Give received messages back, visible again after delay",
    request: { params: QueueParams, ...body(NackBody) },
    responses: { 200: { description: "nacked", ...json(NackedSchema) }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { receipts, delay, attempted } = c.req.valid("json");
    return c.json(unwrap(await queueStub(c.env, c.req.valid("param").q).nack(receipts, delay ?? 0, attempted ?? true)), 200);
  },
);

queues.openapi(
  route("receive", {
    method: "post", path: "/{q}/extend", summary: "Set leases to end visibilityTimeout seconds from now",
    request: { params: QueueParams, ...body(ExtendBody) },
    responses: { 200: { description: "extended", ...json(ExtendedSchema) }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { receipts, visibilityTimeout } = c.req.valid("json");
    return c.json(unwrap(await queueStub(c.env, c.req.valid("param").q).extend(receipts, visibilityTimeout)), 200);
  },
);

queues.openapi(
  route("manage", {
    method: "get", path: "/{q}/messages", summary: "Peek at messages in seq order without leasing them",
    request: { params: QueueParams, query: PeekQuery },
    responses: { 200: { description: "messages", ...json(PeekSchema) }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => c.json(unwrap(await queueStub(c.env, c.req.valid("param").q).peek(c.req.valid("query").limit ?? 1)), 200),
);

queues.openapi(
  route("manage", {
    method: "post", path: "/{q}/purge", summary: "Delete every message (config, dedup records and counters stay)",
    request: { params: QueueParams },
    responses: { 200: { description: "purged", ...json(z.object({ purged: z.number().int() })) }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => c.json(unwrap(await queueStub(c.env, c.req.valid("param").q).purge()), 200),
);

queues.openapi(
  route("manage", {
    method: "post", path: "/{q}/redrive", summary: "Move dead letters back (default: to the queue each came from)",
    request: { params: QueueParams, ...body(RedriveBody) },
    responses: { 200: { description: "moved", ...json(RedrivenSchema) }, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { q } = c.req.valid("param");
    const { to, max } = c.req.valid("json");
    if (to !== undefined) {
      if (to === q) throw new ApiError("VALIDATION_FAILED", "to: cannot redrive a queue into itself", { field: "to" });
      demand(c, "queues", "send", to);
    }
    return c.json(unwrap(await queueStub(c.env, q).redrive({ to, max })), 200);
  },
);

queues.openapi(
  createRoute({
    method: "get", path: "/{q}/consume", summary: "WebSocket push consumer with credit flow control",
    description: "Frames: client → server `credit`, `ack`, `nack`, `extend` and `auth` ({token}: swaps the socket's credential; a token " +
      "without `receive` on the queue closes it with 4003); server → client `message`, `result`, `error`. Closed with 4001 when the token expires.",
    middleware: [requires("queues", "receive", { queryToken: true })] as const,
    request: { params: QueueParams },
    responses: { 101: { description: "switching to the WebSocket protocol" }, ...errorResponses(400, 401, 403, 404, 426, 429, 503) },
  }),
  async (c) => {
    // The object answers 404 for a missing queue before 426 for a missing upgrade, so a
    // plain GET explains a refused handshake.
    const headers = new Headers(c.req.raw.headers);
    // Only the Worker says when the credential expires (the socket is closed then): a
    // client's own header of that name is never passed on.
    headers.delete(CREDENTIAL_EXPIRES_HEADER);
    const expires = credentialExpiry(c);
    if (expires !== null) headers.set(CREDENTIAL_EXPIRES_HEADER, String(expires));
    const res = await queueStub(c.env, c.req.valid("param").q).fetch(new Request(c.req.raw, { headers }));
    if (res.webSocket) return res;
    // A refusal from the object (not found, socket cap) arrives in the error shape.
    throw await fromRefusal(res);
  },
);
