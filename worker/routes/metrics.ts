/**
 * GET /metrics: every queue's and topic's figures in Prometheus text format (API.md,
 * Console and metrics). Readable by the admin key, or by a credential with `manage` on
 * both `queues/*` and `topics/*` (the two list capabilities: metrics name every queue and
 * topic, as the lists do). Outside /v1, so the route authenticates itself; the admin key
 * and access keys are taken from the Authorization header only, never from the URL.
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { demand, requires } from "../auth";
import { METRICS_CONTENT_TYPE, renderMetrics } from "./metrics-format";
import { queueFigures, topicFigures } from "./metrics-sources";

export const metrics = new Hono<AppEnv>();

metrics.get("/metrics", requires("queues", "manage", { list: true }), async (c) => {
  demand(c, "topics", "manage", "*");
  const [queues, topics] = await Promise.all([queueFigures(c.env), topicFigures(c.env)]);
  return c.body(renderMetrics(queues, topics), 200, {
    "content-type": METRICS_CONTENT_TYPE,
    // Figures are of this moment: no cache between Prometheus and the Worker may keep them.
    "cache-control": "no-store",
  });
});
