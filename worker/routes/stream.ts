/**
 * /v1/stream/<path>: the Durable Streams protocol (PROTOCOL.md of durable-streams/
 * durable-streams, v1.0) over Spool topics. A stream is the topic of the same name
 * (worker/stream/path.ts) with one partition, whose object keeps the stream's state
 * (durable-objects/topic/stream/); each request here checks what HTTP can check, makes one
 * call on that object, and renders its answer (worker/stream/responses.ts, sse.ts).
 *
 * Auth is Spool's: `Authorization: Bearer …`, or on reads `?token=`; a deployment may grant
 * requests without a credential `SPOOL_ANONYMOUS_CAPABILITIES`. A stream needs what its
 * topic would: reads (GET, HEAD) `subscribe`, writes (PUT, POST) `publish`, DELETE
 * `manage`, and a fork `subscribe` on its source too. These routes are plain Hono routes,
 * not in /openapi.json (their bodies are any content type); docs/streams.md describes them.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { authenticateOrAnonymous, authorize, credentialExpiry, type TopicAction } from "../auth";
import { newApp, withoutCredentials } from "../http";
import { ApiError, unwrap } from "../../durable-objects/shared/errors";
import { partitionStub } from "../../durable-objects/env";
import { parseOffset, parsePositionToken } from "../../durable-objects/topic/stream/offsets";
import type { ReadStreamOutcome } from "../../durable-objects/topic/stream/types";
import type { Result } from "../../protocol/errors";
import { maxBodyBytes, readStreamBody } from "../stream/body";
import { responseCursor } from "../stream/cursor";
import {
  closedHeader, contentTypeHeader, expiresAtHeader, H, integerHeader, producerHeaders, withSecurityHeaders,
} from "../stream/headers";
import { STREAM_ROOT, topicOfForkSource, topicOfStreamPath } from "../stream/path";
import { appendResponse, createdResponse, headResponse, readResponse, timedOutResponse } from "../stream/responses";
import { SSE_DEFAULTS, sseResponse } from "../stream/sse";

export const stream = newApp();

/** A long-poll waits this long for data unless `SPOOL_STREAM_LONG_POLL_SECONDS` says otherwise. */
export const DEFAULT_LONG_POLL_SECONDS = 3;

function longPollMs(raw: string | undefined): number {
  const n = Number(raw);
  return (Number.isInteger(n) && n >= 1 && n <= 60 ? n : DEFAULT_LONG_POLL_SECONDS) * 1000;
}

// Every answer, errors included, forbids MIME sniffing and may be read cross-origin.
stream.use("*", async (c, next) => {
  await next();
  withSecurityHeaders(c.res);
});

/** Who is calling (reads may use `?token=`, or be anonymous); then the request goes on without the credential. */
const streamAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const reading = c.req.method === "GET" || c.req.method === "HEAD";
  c.set("credential", await authenticateOrAnonymous(c, reading));
  await withoutCredentials(c, next);
};
stream.use("*", streamAuth);

/** The stream's topic, from the request path. */
function topicOf(c: Context<AppEnv>): string {
  return topicOfStreamPath(new URL(c.req.url).pathname.slice(STREAM_ROOT.length));
}

/** `403` unless the credential may do `action` on the stream's topic. */
function demand(c: Context<AppEnv>, action: TopicAction, topic: string): void {
  const cred = c.get("credential");
  if (!cred || !authorize(cred, "topics", action, topic)) {
    throw new ApiError("FORBIDDEN", `credential lacks '${action}' on topics/${topic}`, { kind: "topics", action, name: topic });
  }
}

function bad(message: string, field: string): ApiError {
  return new ApiError("BAD_REQUEST", message, { field });
}

// ---- GET and HEAD: metadata, catch-up, long-poll, SSE ----

stream.get("/*", async (c) => {
  const topic = topicOf(c);
  demand(c, "subscribe", topic);
  const stub = partitionStub(c.env, topic, 0);
  if (c.req.method === "HEAD") return headResponse(unwrap(await stub.streamHead(topic)));

  const url = new URL(c.req.url);
  const offsets = url.searchParams.getAll("offset");
  if (offsets.length > 1) throw bad("give one offset", "offset");
  const offset = offsets[0];
  if (offset !== undefined && parseOffset(offset) === null) throw bad("offset must be -1, now, or an offset this server issued", "offset");
  const live = url.searchParams.get("live");
  if (live !== null && live !== "long-poll" && live !== "sse" && live !== "false") throw bad("live must be long-poll or sse", "live");
  const clientCursor = url.searchParams.get("cursor");
  const read = (from: string, waitMs: number): Promise<Result<ReadStreamOutcome>> => stub.streamRead({ topic, offset: from, waitMs });

  if (live === "long-poll" || live === "sse") {
    if (offset === undefined) throw bad(`live=${live} needs an offset`, "offset");
    if (live === "sse") {
      const first = unwrap(await read(offset, 0));
      const cursor = responseCursor(clientCursor);
      // A connection ends with the token that opened it; the client reconnects with a fresh one.
      const expiresAt = credentialExpiry(c);
      const lifetimeMs = Math.min(SSE_DEFAULTS.lifetimeMs, expiresAt === null ? Number.POSITIVE_INFINITY : Math.max(0, expiresAt - Date.now()));
      return sseResponse(first, read, () => String(Math.max(Number(cursor), Number(responseCursor(null)))), { ...SSE_DEFAULTS, lifetimeMs });
    }
    const r = unwrap(await read(offset, longPollMs(c.env.SPOOL_STREAM_LONG_POLL_SECONDS)));
    const cursor = responseCursor(clientCursor);
    return r.empty ? timedOutResponse(r, cursor) : readResponse(r, { now: false, cursor, ifNoneMatch: c.req.header("if-none-match") ?? null });
  }
  const r = unwrap(await read(offset ?? "-1", 0));
  return readResponse(r, { now: offset === "now", cursor: null, ifNoneMatch: c.req.header("if-none-match") ?? null });
});

// ---- PUT: create, ensure, fork ----

stream.put("/*", async (c) => {
  const topic = topicOf(c);
  const headers = c.req.raw.headers;
  const ttlSeconds = integerHeader(headers, H.ttl);
  const expiresAt = expiresAtHeader(headers);
  if (ttlSeconds !== null && expiresAt !== null) throw bad(`give ${H.ttl} or ${H.expiresAt}, not both`, H.ttl);
  const forkedFrom = headers.get(H.forkedFrom);
  const forkOffset = headers.get(H.forkOffset)?.trim() ?? null;
  const subOffset = integerHeader(headers, H.forkSubOffset);
  if (forkedFrom === null && (forkOffset !== null || subOffset !== null)) {
    throw bad(`${H.forkOffset} and ${H.forkSubOffset} need ${H.forkedFrom}`, H.forkedFrom);
  }
  if (forkOffset !== null && parsePositionToken(forkOffset) === null) throw bad(`${H.forkOffset} is not an offset this server issued`, H.forkOffset);
  if (subOffset !== null && subOffset > 0 && forkOffset === null) throw bad(`${H.forkSubOffset} needs ${H.forkOffset}`, H.forkSubOffset);
  demand(c, "publish", topic);
  const sourceTopic = forkedFrom === null ? null : topicOfForkSource(forkedFrom);
  if (sourceTopic !== null) demand(c, "subscribe", sourceTopic);
  const body = await readStreamBody(c.req.raw, maxBodyBytes(c.env.SPOOL_MAX_BODY_BYTES));
  const r = unwrap(await partitionStub(c.env, topic, 0).streamCreate({
    topic, contentType: contentTypeHeader(headers), ttlSeconds, expiresAt, closed: closedHeader(headers), body: body.length > 0 ? body : null,
    fork: sourceTopic === null ? null : { sourceTopic, sourcePath: forkedFrom!, offset: forkOffset, subOffset: subOffset ?? 0 },
  }));
  const location = new URL(c.req.url);
  location.search = "";
  return createdResponse(r.stream, r.created, location.toString());
});

// ---- POST: append, close ----

stream.post("/*", async (c) => {
  const topic = topicOf(c);
  const headers = c.req.raw.headers;
  const close = closedHeader(headers);
  const producer = producerHeaders(headers);
  const contentType = contentTypeHeader(headers);
  demand(c, "publish", topic);
  const body = await readStreamBody(c.req.raw, maxBodyBytes(c.env.SPOOL_MAX_BODY_BYTES));
  if (body.length === 0 && !close) throw bad(`an append needs a body (an empty one only with ${H.closed}: true)`, "body");
  if (body.length > 0 && contentType === null) throw bad("an append needs a Content-Type", "content-type");
  const outcome = unwrap(await partitionStub(c.env, topic, 0).streamAppend({
    topic, contentType, body: body.length > 0 ? body : null, close, streamSeq: headers.get(H.seq), producer,
  }));
  return appendResponse(c, outcome, producer !== null && body.length > 0);
});

// ---- DELETE ----

stream.delete("/*", async (c) => {
  const topic = topicOf(c);
  demand(c, "manage", topic);
  unwrap(await partitionStub(c.env, topic, 0).streamDelete(topic));
  return new Response(null, { status: 204 });
});
