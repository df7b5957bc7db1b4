/**
 * Request plumbing shared by every sub-app: the app factory (validation errors in the
 * API's shape), the body-size limit, the JSON content-type and UTF-8 rules and path-name
 * checks; and the edge rules every request passes: HEAD answered as GET without a body,
 * `405` with `Allow` for a method a known path does not support, and credentials stripped
 * from the request (and from anything logged) once authentication has read them.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../durable-objects/shared/errors";
import type { AppEnv } from "./app-env";
import { errorResponse } from "./errors";
import { maxBodyBytes, readBody } from "./body";
import { assertName } from "./names";

export { DEFAULT_MAX_BODY_BYTES } from "./body";

interface Issue { path: PropertyKey[]; message: string; code?: string }

/** A sub-app whose schema failures answer `400 VALIDATION_FAILED` naming the field. */
export function newApp(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (result.success) return;
      const issues = (result.error as { issues: Issue[] }).issues;
      const first = issues[0];
      const field = first ? first.path.map(String).join(".") : "";
      throw new ApiError("VALIDATION_FAILED", first ? `${field || "body"}: ${first.message}` : "invalid request", {
        field,
        target: result.target,
        issues: issues.slice(0, 10).map((i) => ({ path: i.path.map(String).join("."), message: i.message })),
      });
    },
  });
}

/**
 * Rejects bodies over the configured limit with `413` before anything parses them, and
 * non-JSON bodies with `415`. An empty body counts as `{}`, so `curl -X PUT` with no body
 * creates a queue with defaults. Reads the body once; Hono caches it for the validators.
 */
export const jsonBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method !== "POST" && c.req.method !== "PUT" && c.req.method !== "PATCH") return next();
  if (c.req.header("upgrade")) return next();
  const limit = maxBodyBytes(c.env.SPOOL_MAX_BODY_BYTES);
  const buf = await readBody(c.req.raw, limit, { tooLarge: () => tooLarge(limit) });
  if (buf.byteLength > limit) throw tooLarge(limit);
  const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (buf.byteLength === 0) {
    c.req.raw = new Request(c.req.raw, { body: "{}", headers: withJsonType(c.req.raw.headers) });
    return next();
  }
  if (type !== "application/json" && !type.endsWith("+json")) {
    throw new ApiError("UNSUPPORTED_MEDIA_TYPE", "request body must be JSON (Content-Type: application/json)", {
      contentType: type || null,
    });
  }
  let text: string;
  try {
    // Fatal: invalid UTF-8 is refused, never stored as U+FFFD (API.md, Input hygiene).
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(buf);
  } catch {
    throw new ApiError("BAD_REQUEST", "request body is not valid UTF-8");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError("BAD_REQUEST", "request body is not valid JSON");
  }
  c.req.raw = new Request(c.req.raw, { body: text, headers: c.req.raw.headers });
  // The validators read c.req.json(): hand them this parse instead of a second one.
  (c.req.bodyCache as Record<string, Promise<unknown>>).json = Promise.resolve(parsed);
  await next();
};

function withJsonType(headers: Headers): Headers {
  const h = new Headers(headers);
  h.set("content-type", "application/json");
  h.delete("content-length");
  return h;
}

function tooLarge(limit: number): ApiError {
  return new ApiError("PAYLOAD_TOO_LARGE", `request body exceeds ${limit} bytes`, { limit });
}


/** Middleware that checks the named path parameters are valid resource names (`400 INVALID_NAME`). */
export function validNames(...params: string[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    for (const p of params) {
      const value = c.req.param(p);
      if (value !== undefined) assertName(value, p);
    }
    await next();
  };
}

/**
 * HEAD is GET without a body (Hono routes it so), but handlers that forward the request
 * itself (the consume socket) would forward a HEAD and then find no body to read: hand
 * every handler a GET, and drop the body here, cancelling it so an SSE stream started
 * for a HEAD does not stay open.
 */
export const headAsGet: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method !== "HEAD") return next();
  c.req.raw = new Request(c.req.raw, { method: "GET" });
  await next();
  if (c.res.webSocket || c.res.status === 101) return;
  await c.res.body?.cancel();
  c.res = new Response(null, c.res);
};

/** A registered route as Hono lists it (`app.routes`): middleware has the method `ALL`. */
export interface RegisteredRoute {
  method: string;
  path: string;
}

interface PathMethods {
  pattern: RegExp;
  methods: Set<string>;
}

/** `/v1/queues/:q/consume` → a RegExp matching concrete paths, one segment per parameter. */
function pathPattern(path: string): RegExp {
  const source = path
    .split("/")
    .map((segment) => {
      if (segment === "*") return ".*";
      if (segment.startsWith(":")) return "[^/]+";
      return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return new RegExp(`^${source}$`);
}

function methodTable(routes: readonly RegisteredRoute[]): PathMethods[] {
  const byPath = new Map<string, Set<string>>();
  for (const r of routes) {
    if (r.method === "ALL") continue;
    const methods = byPath.get(r.path) ?? new Set<string>();
    methods.add(r.method.toUpperCase());
    byPath.set(r.path, methods);
  }
  return [...byPath].map(([path, methods]) => ({ pattern: pathPattern(path), methods }));
}

const METHOD_ORDER = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/** The `Allow` list of the routes matching a path: HEAD with GET, OPTIONS (CORS) always. */
function allowList(matching: readonly PathMethods[]): string[] {
  const methods = new Set<string>(["OPTIONS"]);
  for (const entry of matching) for (const m of entry.methods) methods.add(m);
  if (methods.has("GET")) methods.add("HEAD");
  return [...methods].sort((a, b) => METHOD_ORDER.indexOf(a) - METHOD_ORDER.indexOf(b));
}

/**
 * `405 METHOD_NOT_ALLOWED` with `Allow` for a method that a known path does not support.
 * The methods come from the routes registered on the app (read on the first request, once
 * every route exists), so a new route needs no second list. Paths no route knows fall
 * through to `404`. Registered after authentication, so an anonymous caller learns nothing.
 */
export function methodNotAllowed(routes: () => readonly RegisteredRoute[]): MiddlewareHandler<AppEnv> {
  let table: PathMethods[] | undefined;
  return async (c, next) => {
    table ??= methodTable(routes());
    // HEAD is GET without a body (Durable Streams see HEAD itself: they skip headAsGet).
    const method = c.req.method === "HEAD" ? "GET" : c.req.method;
    const matching = table.filter((e) => e.pattern.test(c.req.path));
    if (matching.length === 0 || matching.some((e) => e.methods.has(method))) return next();
    const allow = allowList(matching);
    const res = errorResponse(c, new ApiError("METHOD_NOT_ALLOWED", `${method} is not supported on this path; use ${allow.join(", ")}`, { allow }));
    res.headers.set("Allow", allow.join(", "));
    return res;
  };
}

/**
 * Once `authenticated` has read the credential, the request goes on without it: no
 * `Authorization` header and no `?token=` in what handlers see or forward to objects, so
 * no object invocation, trace or log line downstream can carry it.
 */
export const withoutCredentials: MiddlewareHandler<AppEnv> = async (c, next) => {
  const url = new URL(c.req.raw.url);
  const hasQueryToken = url.searchParams.has("token");
  if (!hasQueryToken && !c.req.raw.headers.has("authorization")) return next();
  url.searchParams.delete("token");
  const headers = new Headers(c.req.raw.headers);
  headers.delete("authorization");
  c.req.raw = new Request(hasQueryToken ? url.toString() : c.req.raw.url, new Request(c.req.raw, { headers }));
  await next();
};

/** Credential redaction for logs lives beside the objects, which log through it too. */
export { describeForLog, redactCredentials } from "../durable-objects/shared/plain-errors";
