/**
 * Capability tokens: what they may grant, minting and verification.
 *
 * A token is a JWT signed with HS256 under `SPOOL_TOKEN_SECRET` (via `jose`; no crypto of
 * our own). Its claims are `exp` (seconds, as JWT wants), `iss: "spool"` and
 * `capabilities: {"<kind>/<name or prefix*>": [actions]}`. Verification (shared with the
 * objects, which verify a socket's credential swap: durable-objects/shared/token-verify.ts)
 * accepts only HS256, tries the current secret and then `SPOOL_TOKEN_SECRET_PREVIOUS`
 * (rotation), and treats every failure alike: the caller gets `null` and answers 401.
 *
 * The capability model (actions, patterns, `CapabilitiesSchema`) is shared with access
 * keys (/v1/keys), which grant exactly what a token with the same capabilities would.
 */
import { z } from "@hono/zod-openapi";
import { SignJWT } from "jose";
import type { Capabilities } from "./auth";
import type { Env } from "../durable-objects/env";
import { ApiError } from "../durable-objects/shared/errors";
import { capabilityProblem, TOKEN_ALGORITHM, TOKEN_ISSUER, verifyTokenClaims, type TokenClaims } from "../durable-objects/shared/token-verify";

export { ACTIONS, capabilityProblem, type TokenClaims } from "../durable-objects/shared/token-verify";

/** Bounds of a token's lifetime in seconds. */
export const MIN_TTL_SECONDS = 1;
export const MAX_TTL_SECONDS = 86_400;
/** Most capability entries one token carries (tokens travel in URLs, so they stay small). */
export const MAX_CAPABILITIES = 64;

/**
 * The request schema of a capability map (`POST /v1/tokens`, `POST /v1/keys`): 1 to
 * MAX_CAPABILITIES entries, each accepted by `capabilityProblem`.
 */
export const CapabilitiesSchema = z
  .record(z.string(), z.array(z.string()))
  .superRefine((caps, ctx) => {
    const entries = Object.entries(caps);
    if (entries.length === 0) ctx.addIssue({ code: "custom", message: "at least one capability is required" });
    if (entries.length > MAX_CAPABILITIES) ctx.addIssue({ code: "custom", message: `at most ${MAX_CAPABILITIES} capabilities` });
    for (const [pattern, actions] of entries) {
      const problem = capabilityProblem(pattern, actions);
      if (problem) ctx.addIssue({ code: "custom", path: [pattern], message: problem });
    }
  })
  .openapi("Capabilities", { example: { "topics/chat.*": ["publish", "subscribe"], "queues/jobs": ["send", "receive"] } });

function keyOf(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

/**
 * Signs a token granting `capabilities` for `ttlSeconds`. `503 NOT_CONFIGURED` when no
 * secret is set: without one no token could ever be verified.
 */
export async function mintToken(env: Env, capabilities: Capabilities, ttlSeconds: number, now = Date.now()): Promise<{ token: string; expiresAt: number }> {
  if (!env.SPOOL_TOKEN_SECRET) {
    throw new ApiError("NOT_CONFIGURED", "SPOOL_TOKEN_SECRET is not configured; tokens cannot be minted");
  }
  const exp = Math.floor(now / 1000) + ttlSeconds;
  const token = await new SignJWT({ capabilities })
    .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: "JWT" })
    .setIssuer(TOKEN_ISSUER)
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(exp)
    .sign(keyOf(env.SPOOL_TOKEN_SECRET));
  return { token, expiresAt: exp * 1000 };
}

/** The claims of a token signed by the current or previous secret and not expired; else null. */
export async function verifyToken(token: string, env: Env): Promise<TokenClaims | null> {
  return verifyTokenClaims(token, env);
}
