/**
 * Capability tokens: what they may grant, minting and verification.
 *
 * A token is a JWT signed with HS256 under `SPOOL_TOKEN_SECRET` (via `jose`; no crypto of
 * our own). Its claims are `exp` (seconds, as JWT wants), `iss: "spool"` and
 * `capabilities: {"<kind>/<name or prefix*>": [actions]}`. Verification accepts only HS256,
 * tries the current secret and then `SPOOL_TOKEN_SECRET_PREVIOUS` (rotation), and treats
 * every failure alike: the caller gets `null` and answers 401.
 *
 * The capability model (actions, patterns, `CapabilitiesSchema`) is shared with access
 * keys (/v1/keys), which grant exactly what a token with the same capabilities would.
 */
import { z } from "@hono/zod-openapi";
import { jwtVerify, SignJWT } from "jose";
import type { Capabilities } from "./auth";
import type { Env } from "../durable-objects/env";
import { ApiError } from "../durable-objects/shared/errors";

/** The actions each kind of resource knows (API.md, Tokens). */
export const ACTIONS = {
  queues: ["send", "receive", "manage"],
  topics: ["publish", "subscribe", "consume", "manage"],
} as const;

/** Bounds of a token's lifetime in seconds. */
export const MIN_TTL_SECONDS = 1;
export const MAX_TTL_SECONDS = 86_400;
/** Most capability entries one token carries (tokens travel in URLs, so they stay small). */
export const MAX_CAPABILITIES = 64;

const ALGORITHM = "HS256";
const ISSUER = "spool";
/** A pattern after `<kind>/`: an exact name, or a (possibly empty) name prefix and `*`. */
const EXACT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const PREFIX = /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,126})?\*$/;

export interface TokenClaims {
  capabilities: Capabilities;
  /** ms since epoch */
  expiresAt: number;
}

/**
 * Why a capability entry is unacceptable, or null when it is fine. Used by the mint route's
 * schema and again on every verified token, so a token can only ever grant what minting
 * would have accepted.
 */
export function capabilityProblem(pattern: string, actions: unknown): string | null {
  const slash = pattern.indexOf("/");
  const kind = pattern.slice(0, slash);
  const rest = pattern.slice(slash + 1);
  if (slash < 0 || (kind !== "queues" && kind !== "topics")) {
    return `'${pattern.slice(0, 200)}': a capability key is "queues/<pattern>" or "topics/<pattern>"`;
  }
  if (!EXACT.test(rest) && !PREFIX.test(rest)) {
    return `'${pattern.slice(0, 200)}': the pattern must be a valid name or a name prefix ending in '*'`;
  }
  const known: readonly string[] = ACTIONS[kind];
  if (!Array.isArray(actions) || actions.length === 0) return `'${pattern}': actions must be a non-empty array`;
  for (const a of actions) {
    if (typeof a !== "string" || !known.includes(a)) {
      return `'${pattern}': unknown action ${JSON.stringify(a)} for ${kind} (one of ${known.join(", ")})`;
    }
  }
  return null;
}

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
    .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
    .setIssuer(ISSUER)
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(exp)
    .sign(keyOf(env.SPOOL_TOKEN_SECRET));
  return { token, expiresAt: exp * 1000 };
}

/** The claims of a token signed by the current or previous secret and not expired; else null. */
export async function verifyToken(token: string, env: Env): Promise<TokenClaims | null> {
  const secrets = [env.SPOOL_TOKEN_SECRET, env.SPOOL_TOKEN_SECRET_PREVIOUS].filter((s): s is string => !!s);
  for (const secret of secrets) {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, keyOf(secret), {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        requiredClaims: ["exp"],
      }));
    } catch {
      continue; // wrong secret, expired, malformed, other algorithm: try the next secret
    }
    const claims = claimsOf(payload);
    if (claims) return claims;
  }
  return null;
}

function claimsOf(payload: Record<string, unknown>): TokenClaims | null {
  const caps = payload.capabilities;
  const exp = payload.exp;
  if (typeof exp !== "number" || typeof caps !== "object" || caps === null || Array.isArray(caps)) return null;
  const out: Capabilities = {};
  for (const [pattern, actions] of Object.entries(caps)) {
    if (capabilityProblem(pattern, actions) !== null) return null;
    out[pattern] = [...(actions as string[])];
  }
  return { capabilities: out, expiresAt: exp * 1000 };
}
