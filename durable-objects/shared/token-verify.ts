/**
 * Verifying capability tokens, and what a token's capabilities grant: the one implementation,
 * used by the Worker when a request arrives (worker/tokens.ts, worker/auth.ts) and by objects
 * when an open socket swaps its credential with an `{"type":"auth","token"}` frame. It needs
 * only the secrets (`SPOOL_TOKEN_SECRET`, `SPOOL_TOKEN_SECRET_PREVIOUS`), which objects share
 * with the Worker as bindings, so it lives here: objects never import worker/.
 *
 * A token is a JWT signed with HS256 (via `jose`; no crypto of our own) with claims `exp`
 * (seconds), `iss: "spool"` and `capabilities: {"<kind>/<name or prefix*>": [actions]}`.
 * Verification accepts only HS256, tries the current secret and then the previous one
 * (rotation), and treats every failure alike: the caller gets `null`.
 */
import { jwtVerify } from "jose";

/** The actions each kind of resource knows (API.md, Tokens). */
export const ACTIONS = {
  queues: ["send", "receive", "manage"],
  topics: ["publish", "subscribe", "consume", "manage"],
} as const;

export type ResourceKind = keyof typeof ACTIONS;
/** `{"<kind>/<name or prefix*>": [actions]}`. */
export type Capabilities = Record<string, string[]>;

export interface TokenClaims {
  capabilities: Capabilities;
  /** ms since epoch */
  expiresAt: number;
}

/** What verification needs: the secrets, nothing else of the environment. */
export interface TokenSecrets {
  SPOOL_TOKEN_SECRET?: string;
  SPOOL_TOKEN_SECRET_PREVIOUS?: string;
}

/** Longest token an `auth` frame may carry (tokens travel in URLs too, so real ones are far smaller). */
export const MAX_TOKEN_CHARS = 16_384;

/** The answer to an accepted `{"type":"auth","token"}` frame. */
export const AUTH_RESULT = { type: "result", op: "auth" } as const;

export const TOKEN_ALGORITHM = "HS256";
export const TOKEN_ISSUER = "spool";

/** A pattern after `<kind>/`: an exact name, or a (possibly empty) name prefix and `*`. */
const EXACT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const PREFIX = /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,126})?\*$/;

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

/** Does a capability pattern (`"topics/chat.*"`, `"queues/jobs"`) cover this resource? */
export function patternMatches(pattern: string, kind: ResourceKind, name: string): boolean {
  const prefix = `${kind}/`;
  if (!pattern.startsWith(prefix)) return false;
  const rest = pattern.slice(prefix.length);
  return rest.endsWith("*") ? name.startsWith(rest.slice(0, -1)) : rest === name;
}

/** Whether `capabilities` grant `action` on the resource `kind/name`. */
export function grants(capabilities: Capabilities, kind: ResourceKind, action: string, name: string): boolean {
  for (const [pattern, actions] of Object.entries(capabilities)) {
    if (actions.includes(action) && patternMatches(pattern, kind, name)) return true;
  }
  return false;
}

function keyOf(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

/** The claims of a token signed by the current or previous secret and not expired; else null. */
export async function verifyTokenClaims(token: string, secrets: TokenSecrets): Promise<TokenClaims | null> {
  const keys = [secrets.SPOOL_TOKEN_SECRET, secrets.SPOOL_TOKEN_SECRET_PREVIOUS].filter((s): s is string => !!s);
  for (const secret of keys) {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, keyOf(secret), {
        algorithms: [TOKEN_ALGORITHM],
        issuer: TOKEN_ISSUER,
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

/**
 * The verdict on a credential swap (`{"type":"auth","token"}` on an open socket): the new
 * claims when `token` verifies, has not expired by `now` (the objects' clock) and grants
 * `action` on `kind/name`; null otherwise (the socket is closed with `CloseCodes.AUTH_REFUSED`).
 */
export async function swapCredential(token: string, secrets: TokenSecrets, kind: ResourceKind, action: string, name: string, now: number): Promise<TokenClaims | null> {
  const claims = await verifyTokenClaims(token, secrets);
  if (!claims || claims.expiresAt <= now || !grants(claims.capabilities, kind, action, name)) return null;
  return claims;
}
