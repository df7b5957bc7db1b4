/** Unauthenticated meta routes: /health. (/openapi.json is served by index.ts.) */
import { createRoute, z } from "@hono/zod-openapi";
import { newApp } from "../http";
import { VERSION } from "../version";

export const meta = newApp();

meta.openapi(
  createRoute({
    method: "get",
    path: "/health",
    summary: "Liveness check (no auth)",
    responses: {
      200: {
        description: "the broker is up",
        content: { "application/json": { schema: z.object({ ok: z.literal(true), version: z.string() }) } },
      },
    },
  }),
  (c) => c.json({ ok: true as const, version: VERSION }, 200),
);
