/**
 * Request plumbing shared by every sub-app: the app factory (validation errors in the
 * API's shape), the body-size limit, the JSON content-type rule and path-name checks.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../durable-objects/shared/errors";
import type { AppEnv } from "./app-env";
import { assertName } from "./names";

export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

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

function maxBodyBytes(raw: string | undefined): number {
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_MAX_BODY_BYTES;
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
  const declared = Number(c.req.header("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  // With a declared length within the limit, HTTP framing bounds the body: read it in one
  // call. Otherwise (chunked) count bytes as they stream and stop at the limit.
  const buf = Number.isFinite(declared) ? new Uint8Array(await c.req.raw.arrayBuffer()) : await readLimited(c.req.raw, limit);
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
  const text = new TextDecoder().decode(buf);
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

async function readLimited(req: Request, limit: number): Promise<Uint8Array> {
  if (!req.body) return new Uint8Array();
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
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
