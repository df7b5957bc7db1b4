/**
 * /v1/tokens: minting capability tokens. Admin key only: neither a token nor an access key
 * mints tokens, so a leaked credential cannot widen itself or outlive its revocation.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { requiresAdmin } from "../auth";
import { newApp } from "../http";
import { errorResponses } from "../schemas";
import { CapabilitiesSchema, MAX_TTL_SECONDS, MIN_TTL_SECONDS, mintToken } from "../tokens";

export const tokens = newApp();

const MintBody = z
  .object({
    ttl: z.number().int().min(MIN_TTL_SECONDS).max(MAX_TTL_SECONDS).openapi({ description: "lifetime in seconds, 1-86400" }),
    capabilities: CapabilitiesSchema,
  })
  .openapi("TokenRequest");

const MintResult = z
  .object({
    token: z.string(),
    expiresAt: z.number().int().openapi({ description: "ms since the Unix epoch" }),
  })
  .openapi("Token");

tokens.openapi(
  createRoute({
    method: "post",
    path: "/",
    summary: "Mint a capability token (admin key only)",
    middleware: [requiresAdmin()],
    request: { body: { content: { "application/json": { schema: MintBody } }, required: true } },
    responses: {
      201: { description: "a signed token", content: { "application/json": { schema: MintResult } } },
      ...errorResponses(400, 401, 403, 503),
    },
  }),
  async (c) => {
    const { ttl, capabilities } = c.req.valid("json");
    return c.json(await mintToken(c.env, capabilities, ttl), 201);
  },
);
