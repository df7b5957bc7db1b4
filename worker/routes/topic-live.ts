/**
 * /v1/topics: live subscriptions, over WebSocket (`/subscribe`) and Server-Sent Events
 * (`/events`). The route authenticates (a token may come as `?token=`) and decides what the
 * credential may do; the topic router (durable-objects/topic/router/live.ts) checks the
 * topic and partition and hands the partition object, or a relay in the request's region,
 * a request built from only that.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { LIVE_HEADERS } from "../../durable-objects/topic/live/live";
import { CREDENTIAL_EXPIRES_HEADER } from "../../durable-objects/shared/socket-limits";
import type { AppEnv } from "../app-env";
import { credentialExpiry, may, requires } from "../auth";
import { ApiError } from "../../durable-objects/shared/errors";
import { newApp, validNames } from "../http";
import { errorResponses } from "../schemas";
import { requirePartition } from "../../durable-objects/topic/router/directory";
import { connectLive } from "../../durable-objects/topic/router/live";
import type { RequestOrigin } from "../../durable-objects/topic/relay/placement";

export const topicLive = newApp();
topicLive.use("/:t/subscribe", validNames("t"));
topicLive.use("/:t/events", validNames("t"));

const Params = z.object({ t: z.string().openapi({ example: "chat" }) });

const LiveQuery = z.object({
  partition: z.string().regex(/^\d{1,2}$/, "must be an integer from 0 to partitions-1").transform(Number).optional()
    .openapi({ type: "integer", description: "0 … partitions-1 (0)" }),
  from: z.string().regex(/^(latest|earliest|\d{1,15})$/, "must be 'latest', 'earliest' or an offset").optional()
    .openapi({ description: "latest (default), earliest, or an offset; below the first kept offset the stream starts with a gap" }),
  token: z.string().optional().openapi({ description: "a capability token, for clients that cannot set headers" }),
});

topicLive.openapi(
  createRoute({
    method: "get", path: "/{t}/subscribe",
    summary: "Live subscription over WebSocket: history from `from`, then live messages, in offset order",
    description: "Frames: server → client `message`, `gap`, `error`, `published`, `result` (op `auth`); client → server `ack` ({offset}), " +
      "`publish` ({messages}) and `auth` ({token}: swaps the socket's credential; a token without `subscribe` closes it with 4003). " +
      "A client that never acks is closed with 4000 and {resumeFrom} once 1000 messages or 1 MiB are unconfirmed; 4001 when the token expires.",
    middleware: [requires("topics", "subscribe", { queryToken: true })],
    request: { params: Params, query: LiveQuery },
    responses: { 101: { description: "switching protocols" }, ...errorResponses(400, 401, 403, 404, 426, 429, 503) },
  }),
  async (c) => {
    const { t } = c.req.valid("param");
    const q = c.req.valid("query");
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      // Say what is wrong with the target first, so a plain GET explains a refused handshake.
      await requirePartition(c.env, t, q.partition ?? 0);
      throw new ApiError("UPGRADE_REQUIRED", "this endpoint speaks WebSocket: send 'Upgrade: websocket'");
    }
    return connectLive(c.env, t, {
      kind: "subscribe", partition: q.partition ?? 0, from: q.from ?? "latest",
      headers: { upgrade: "websocket", [LIVE_HEADERS.canPublish]: may(c, "topics", "publish") ? "1" : "0", ...expiryHeader(c) },
    }, originOf(c));
  },
);

topicLive.openapi(
  createRoute({
    method: "get", path: "/{t}/events",
    summary: "Live subscription as Server-Sent Events; each event's id is its offset",
    description: "A `Last-Event-ID` header resumes after that offset and wins over `from`. Idle streams carry comment heartbeats; " +
      "a stream ends after a bounded lifetime and EventSource reconnects with Last-Event-ID. When the token that opened it expires, " +
      "the stream ends with `event: error` and `{\"code\":\"UNAUTHORIZED\"}`.",
    middleware: [requires("topics", "subscribe", { queryToken: true })],
    request: { params: Params, query: LiveQuery },
    responses: {
      200: { description: "an event stream", content: { "text/event-stream": { schema: z.string() } } },
      ...errorResponses(400, 401, 403, 404, 503),
    },
  }),
  async (c) => {
    const lastId = c.req.header("last-event-id")?.trim();
    if (lastId !== undefined && lastId !== "" && !/^\d{1,15}$/.test(lastId)) {
      throw new ApiError("VALIDATION_FAILED", "Last-Event-ID: must be an offset", { field: "Last-Event-ID" });
    }
    const q = c.req.valid("query");
    return connectLive(c.env, c.req.valid("param").t, {
      kind: "events", partition: q.partition ?? 0, from: q.from ?? "latest",
      headers: { ...(lastId ? { "last-event-id": lastId } : {}), ...expiryHeader(c) },
    }, originOf(c));
  },
);

/** Where the request comes from (`request.cf`): the region of the relay that serves it, when one does. */
function originOf(c: Context<AppEnv>): RequestOrigin | null {
  return (c.req.raw.cf as RequestOrigin | undefined) ?? null;
}

/** When the request's credential expires, for the partition (which ends the stream then); none for credentials that do not. */
function expiryHeader(c: Context<AppEnv>): Record<string, string> {
  const expiresAt = credentialExpiry(c);
  return expiresAt === null ? {} : { [CREDENTIAL_EXPIRES_HEADER]: String(expiresAt) };
}
