/**
 * Authentication (who is calling) and authorisation (may they do this).
 *
 * Every /v1 route declares what it needs with `requires(kind, action)` next to its
 * definition; `authorize` is the single function that answers "may this credential do
 * action A on resource R". The admin key may do everything; capability tokens
 * (worker/tokens.ts) carry `{"<kind>/<name or prefix*>": [actions]}`, and access keys
 * (`Bearer <accessKeyId>:<secretAccessKey>`, kept by the Catalog) grant the same way.
 */
import { timingSafeEqual } from "../durable-objects/shared/secrets";
import type { Context, MiddlewareHandler } from "hono";
import { ApiError } from "../durable-objects/shared/errors";
import { catalogStub, type Env } from "../durable-objects/env";
import { ACCESS_KEY_ID_PATTERN, ADMIN_ACCESS_KEY_ID, type AccessKeyCredential } from "../durable-objects/catalog/keys";
import { now } from "../durable-objects/shared/clock";
import type { AppEnv } from "./app-env";
import { ACTIONS, capabilityProblem, verifyToken } from "./tokens";
// Pattern matching is shared with objects, which check a socket's credential swap themselves.
import { patternMatches } from "../durable-objects/shared/token-verify";

export type ResourceKind = keyof typeof ACTIONS;
export type QueueAction = (typeof ACTIONS.queues)[number];
export type TopicAction = (typeof ACTIONS.topics)[number];
export type ActionOf<K extends ResourceKind> = K extends "queues" ? QueueAction : TopicAction;
export type Capabilities = Record<string, string[]>;

export type Credential =
  | { type: "admin" }
  | { type: "token"; capabilities: Capabilities; expiresAt: number }
  | { type: "key"; accessKeyId: string; capabilities: Capabilities };

/**
 * The credential of a request that sent none, on a route that grants
 * `SPOOL_ANONYMOUS_CAPABILITIES` (Durable Streams): an access key everyone holds, under an
 * id no real key can have.
 */
export const ANONYMOUS_ACCESS_KEY_ID = "anonymous";

export { timingSafeEqual };

/**
 * The one authorisation decision. `name` is the resource name, or `"*"` for the list
 * routes, which need `manage` granted on exactly `"<kind>/*"`.
 */
export function authorize(cred: Credential, kind: ResourceKind, action: string, name: string): boolean {
  if (cred.type === "admin") return true;
  for (const [pattern, actions] of Object.entries(cred.capabilities)) {
    if (!actions.includes(action)) continue;
    if (name === "*" ? pattern === `${kind}/*` : patternMatches(pattern, kind, name)) return true;
  }
  return false;
}

function bearer(c: Context): string | undefined {
  const header = c.req.header("authorization");
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw new ApiError("UNAUTHORIZED", "Authorization header must be 'Bearer <key or token>'");
  return m[1];
}

/**
 * How long an isolate trusts an access key it looked up. A revoked key is refused
 * everywhere once every isolate's entry has lapsed, so this bounds revocation (API.md: within
 * 10 s). Measured on the objects' clock, so tests can let it lapse with `advanceClock`.
 */
export const ACCESS_KEY_CACHE_MS = 5_000;
/** Most keys one isolate remembers; the oldest entry makes room. */
const ACCESS_KEY_CACHE_SIZE = 1_000;

const accessKeyCache = new Map<string, { until: number; key: AccessKeyCredential }>();

/**
 * The key `accessKeyId` with its secret, from this isolate's cache or the Catalog. Only
 * keys that exist are remembered: a flood of made-up ids cannot push real keys out, and
 * costs one Catalog call each, as without a cache. Resolved values only are cached (a
 * promise must not be awaited from another request's context).
 */
export async function lookupAccessKey(env: Env, accessKeyId: string): Promise<AccessKeyCredential | null> {
  const asked = now();
  const cached = accessKeyCache.get(accessKeyId);
  if (cached && cached.until > asked) return cached.key;
  accessKeyCache.delete(accessKeyId);
  const key = await catalogStub(env).accessKey(accessKeyId);
  if (!key) return null;
  accessKeyCache.set(accessKeyId, { until: asked + ACCESS_KEY_CACHE_MS, key });
  if (accessKeyCache.size > ACCESS_KEY_CACHE_SIZE) accessKeyCache.delete(accessKeyCache.keys().next().value!);
  return key;
}

/** Drops a revoked key from this isolate's cache at once (other isolates let it lapse). */
export function forgetAccessKey(accessKeyId: string): void {
  accessKeyCache.delete(accessKeyId);
}

/**
 * The credential of `Bearer <accessKeyId>:<secretAccessKey>`. The admin key acts as the
 * access key `admin` with itself as secret. Every failure is the same 401, so a caller
 * learns nothing about which ids exist.
 */
async function accessKeyCredential(env: Env, adminKey: string, accessKeyId: string, secret: string): Promise<Credential> {
  if (accessKeyId === ADMIN_ACCESS_KEY_ID) {
    if (timingSafeEqual(secret, adminKey)) return { type: "admin" };
  } else if (ACCESS_KEY_ID_PATTERN.test(accessKeyId) && secret !== "") {
    const key = await lookupAccessKey(env, accessKeyId);
    if (key && timingSafeEqual(secret, key.secretAccessKey)) {
      return { type: "key", accessKeyId, capabilities: key.capabilities };
    }
  }
  throw new ApiError("UNAUTHORIZED", "unknown or revoked access key, or the wrong secret for it");
}

/**
 * Who is calling. The admin key and access keys (`id:secret`) are accepted only in the
 * Authorization header; tokens also in `?token=` where `allowQueryToken` (WebSocket and SSE
 * routes, which browsers cannot give headers). Long-lived secrets never go in URLs.
 */
/**
 * The capabilities a deployment grants callers that send no credential
 * (`SPOOL_ANONYMOUS_CAPABILITIES`, JSON like `{"topics/public.*": ["subscribe"]}`), or null
 * when it grants none (the default). Checked as a minted token's would be: a malformed
 * value refuses everyone with 503 rather than granting something unintended.
 */
export function anonymousCapabilities(env: Env): Capabilities | null {
  const raw = env.SPOOL_ANONYMOUS_CAPABILITIES?.trim();
  if (!raw) return null;
  let caps: unknown;
  try {
    caps = JSON.parse(raw);
  } catch {
    caps = null;
  }
  const valid = typeof caps === "object" && caps !== null && !Array.isArray(caps) &&
    Object.entries(caps).every(([pattern, actions]) => capabilityProblem(pattern, actions) === null);
  if (!valid) {
    throw new ApiError("NOT_CONFIGURED", "SPOOL_ANONYMOUS_CAPABILITIES must be a JSON object of capability patterns to actions");
  }
  return caps as Capabilities;
}

/**
 * `authenticate`, except that a request carrying no credential at all gets the anonymous
 * capabilities when the deployment grants some. A credential that is sent must be valid.
 */
export async function authenticateOrAnonymous(c: Context<AppEnv>, allowQueryToken: boolean): Promise<Credential> {
  // A `?token=` where none is accepted still counts as sent: such a request is refused (401), not anonymous.
  const sent = c.req.header("authorization") !== undefined || c.req.query("token") !== undefined;
  const anonymous = !sent && c.env.SPOOL_ADMIN_KEY ? anonymousCapabilities(c.env) : null;
  return anonymous ? { type: "key", accessKeyId: ANONYMOUS_ACCESS_KEY_ID, capabilities: anonymous } : authenticate(c, allowQueryToken);
}

export async function authenticate(c: Context<AppEnv>, allowQueryToken: boolean): Promise<Credential> {
  const env: Env = c.env;
  if (!env.SPOOL_ADMIN_KEY) {
    throw new ApiError("NOT_CONFIGURED", "SPOOL_ADMIN_KEY is not configured; the broker refuses all /v1 requests");
  }
  const fromHeader = bearer(c);
  if (fromHeader !== undefined) {
    if (timingSafeEqual(fromHeader, env.SPOOL_ADMIN_KEY)) return { type: "admin" };
    // A JWT never holds ':'; an access key credential always does.
    const colon = fromHeader.indexOf(":");
    if (colon >= 0) return accessKeyCredential(env, env.SPOOL_ADMIN_KEY, fromHeader.slice(0, colon), fromHeader.slice(colon + 1));
  }
  const token = fromHeader ?? (allowQueryToken ? c.req.query("token") : undefined);
  if (!token) throw new ApiError("UNAUTHORIZED", "missing credential: send 'Authorization: Bearer <key or token>'");
  const claims = await verifyToken(token, env);
  if (!claims) throw new ApiError("UNAUTHORIZED", "invalid, expired or wrongly signed credential");
  return { type: "token", capabilities: claims.capabilities, expiresAt: claims.expiresAt };
}

const PARAM_OF: Record<ResourceKind, string> = { queues: "q", topics: "t" };

export interface RequireOptions {
  /** Accept `?token=` as well as the header (WebSocket and SSE routes). */
  queryToken?: boolean;
  /** The list routes: authorise against `"<kind>/*"` rather than a path parameter. */
  list?: boolean;
}

/**
 * Route middleware: authenticate, then demand `action` on the route's queue or topic.
 * `401` for a bad or missing credential, `403` for a valid one without the capability.
 */
export function requires<K extends ResourceKind>(
  kind: K,
  action: ActionOf<K>,
  options: RequireOptions = {},
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const cred = c.get("credential") ?? (await authenticate(c, options.queryToken ?? false));
    c.set("credential", cred);
    demand(c, kind, action, options.list ? "*" : (c.req.param(PARAM_OF[kind]) ?? ""));
    await next();
  };
}

/**
 * Whether the request's credential (set by `requires`) may also do `action` on the route's
 * resource. For sockets whose frames do more than the route itself: a /subscribe socket
 * publishes only when this says `publish`. Decide at upgrade and keep the answer in the
 * socket's attachment.
 */
export function may<K extends ResourceKind>(c: Context<AppEnv>, kind: K, action: ActionOf<K>): boolean {
  const cred = c.get("credential");
  return cred !== undefined && authorize(cred, kind, action, c.req.param(PARAM_OF[kind]) ?? "");
}

/**
 * `403` unless the request's credential may do `action` on `kind/name`. `requires` uses it
 * for the route's own resource; routes call it for a second resource named in the body (a
 * subscription's target queue, redrive's `to`, a dead-letter queue), so a token cannot
 * reach a queue it holds nothing on through a topic or queue it does hold.
 */
export function demand<K extends ResourceKind>(c: Context<AppEnv>, kind: K, action: ActionOf<K>, name: string): void {
  const cred = c.get("credential");
  if (cred === undefined || !authorize(cred, kind, action, name)) {
    throw new ApiError("FORBIDDEN", `credential lacks '${action}' on ${kind}/${name}`, { kind, action, name });
  }
}

/** When the request's credential stops being valid (ms epoch), or null for the admin key. */
export function credentialExpiry(c: Context<AppEnv>): number | null {
  const cred = c.get("credential");
  return cred?.type === "token" ? cred.expiresAt : null;
}

/** Paths whose browsers cannot send headers (WebSocket and SSE), so `?token=` is accepted. */
const STREAM_PATH = /^\/v1\/(queues\/[^/]+\/consume|topics\/[^/]+\/(subscribe|events))$/;

/**
 * Middleware for every /v1 request: authenticates before anything reads the body, so an
 * unauthenticated caller gets 401 (not 413/415/400) and costs no body parsing.
 * `requires` then only authorises.
 */
export const authenticated: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method === "GET" && c.req.path === MQTT_PATH) return mqttUpgrade(c, next);
  const allowQueryToken = c.req.method === "GET" && STREAM_PATH.test(c.req.path);
  c.set("credential", await authenticate(c, allowQueryToken));
  await next();
};

/** MQTT over WebSocket (worker/routes/mqtt.ts) authenticates in its CONNECT packet. */
const MQTT_PATH = "/v1/mqtt";

/**
 * The MQTT upgrade goes through without a credential: MQTT clients send theirs in the
 * CONNECT password, after the upgrade. A `?token=` or Authorization header that verifies
 * is kept for a CONNECT without a password; one that does not is ignored here (that
 * CONNECT is then answered "not authorized"). A missing admin key still refuses (503).
 */
async function mqttUpgrade(c: Context<AppEnv>, next: () => Promise<void>): Promise<void> {
  try {
    c.set("credential", await authenticate(c, true));
  } catch (err) {
    if (err instanceof ApiError && err.code === "NOT_CONFIGURED") throw err;
  }
  await next();
}

/** Route middleware for admin-only routes (minting tokens, access keys): no token or access key suffices. */
export function requiresAdmin(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const cred = c.get("credential") ?? (await authenticate(c, false));
    if (cred.type !== "admin") throw new ApiError("FORBIDDEN", "only the admin key may do this");
    c.set("credential", cred);
    await next();
  };
}
