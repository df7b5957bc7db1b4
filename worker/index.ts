/**
 * The Worker: wires the sub-apps, error handling and the OpenAPI document, and exports
 * the Durable Object classes. Nothing else lives here.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { authenticate, authenticated } from "./auth";
import type { AppEnv } from "./app-env";
import { ApiError } from "../durable-objects/shared/errors";
import { errorResponse, toApiError } from "./errors";
import { describeForLog, headAsGet, jsonBody, methodNotAllowed, withoutCredentials } from "./http";
import { meta } from "./routes/meta";
import { queues } from "./routes/queues";
import { tokens } from "./routes/tokens";
import { keys } from "./routes/keys";
import { topics } from "./routes/topics";
import { topicLive } from "./routes/topic-live";
import { groups } from "./routes/groups";
import { subscriptions } from "./routes/subscriptions";
import { mqtt } from "./routes/mqtt";
import { metrics } from "./routes/metrics";
import { consoleApp } from "./routes/console";
import { sqs } from "./sqs";
import { stream } from "./routes/stream";
import { STREAM_REQUEST_HEADERS, STREAM_RESPONSE_HEADERS } from "./stream/headers";
import { exceptStreams } from "./stream/path";
import { VERSION } from "./version";
import { testControl } from "./test-control";

const app = new OpenAPIHono<AppEnv>();

// The test kit's clock control (spool/testing); exists only with a binding a deployment cannot have.
app.use("*", testControl);
// Handlers only ever see GET for a HEAD (the body is dropped on the way out). Durable
// Streams (/v1/stream/, routes/stream.ts) tell HEAD from GET, take any content type and
// authenticate themselves (?token= on reads, anonymous capabilities): the JSON routes'
// middleware below skips them (exceptStreams).
app.use("*", exceptStreams(headAsGet));
// Browsers call Spool from other origins with bearer tokens (never cookies), so any
// origin may call; credentials travel in the Authorization header or ?token=.
app.use("*", cors({
  origin: "*",
  allowMethods: ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],
  allowHeaders: ["Authorization", "Content-Type", "Last-Event-ID", ...STREAM_REQUEST_HEADERS],
  exposeHeaders: ["Retry-After", ...STREAM_RESPONSE_HEADERS],
  maxAge: 600,
}));
app.use("/v1/*", exceptStreams(authenticated));
// From here on the request carries no credential: nothing downstream can log or forward it.
app.use("/v1/*", exceptStreams(withoutCredentials));
app.use("*", methodNotAllowed(() => app.routes));
app.use("/v1/*", exceptStreams(jsonBody));
app.route("/", meta);
app.route("/v1/queues", queues);
app.route("/v1/topics", topics);
app.route("/v1/topics", topicLive);
app.route("/v1/topics", groups);
app.route("/v1/topics", subscriptions);
app.route("/v1/tokens", tokens);
app.route("/v1/keys", keys);
app.route("/v1/mqtt", mqtt);
app.route("/v1/stream", stream);
app.route("/", metrics);
app.route("/", consoleApp);
// The SQS-compatible API (POST / and queue URLs): SigV4 and AWS error shapes, outside /v1.
app.route("/", sqs);

app.doc31("/openapi.json", {
  openapi: "3.1.0",
  info: { title: "Spool", version: VERSION, description: "Queues and replayable topics on Cloudflare's edge." },
  security: [{ bearer: [] }],
});
app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });

app.notFound(async (c) => {
  // Under /v1 an unauthenticated caller learns nothing about which paths exist.
  if (c.req.path.startsWith("/v1") && !c.get("credential")) {
    try {
      await authenticate(c, false);
    } catch (err) {
      return errorResponse(c, toApiError(err));
    }
  }
  return errorResponse(c, new ApiError("NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`));
});

app.onError((err, c) => {
  const apiError = toApiError(err);
  // Logged redacted: an error's text may quote a URL or header with a credential in it.
  if (apiError.code === "INTERNAL") console.error(`unhandled error: ${describeForLog(err)}`);
  return errorResponse(c, apiError);
});

export default app;
export { QueueObject } from "../durable-objects/queue/object";
export { TopicPartition } from "../durable-objects/topic/object";
export { TopicRelay } from "../durable-objects/topic/relay/relay";
export { Catalog } from "../durable-objects/catalog/catalog";
export { MqttConnection } from "../durable-objects/mqtt/connection";
export { MqttSession } from "../durable-objects/mqtt/session";
export { SpoolEntrypoint } from "./entrypoint";
