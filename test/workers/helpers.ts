/** Helpers for tests that run inside workerd: authenticated requests to the Worker. */
import { exports } from "cloudflare:workers";

export const ADMIN_KEY = "test-admin-key";
export const BASE = "http://spool.test";

export interface CallOptions {
  body?: unknown;
  /** Bearer credential; `null` sends none. Defaults to the admin key. */
  auth?: string | null;
  headers?: Record<string, string>;
  /** Send this raw text instead of JSON-encoding `body`. */
  raw?: string;
}

/** One request to the Worker, as a client over HTTP would make it. */
export async function call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
  const headers = new Headers(options.headers);
  const auth = options.auth === undefined ? ADMIN_KEY : options.auth;
  if (auth !== null) headers.set("authorization", `Bearer ${auth}`);
  let body: string | undefined = options.raw;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  return exports.default.fetch(new Request(`${BASE}${path}`, { method, headers, body }));
}

/** `call`, then parse the JSON answer. */
export async function callJson<T = any>(method: string, path: string, options: CallOptions = {}): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await call(method, path, options);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
}

/** A name unique to this test, so tests never share an object. */
export function uniqueName(prefix = "t"): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 12)}`;
}

/** Asserts the API's error shape and returns the code. */
export function errorCode(body: unknown): string {
  const err = (body as { error?: { code?: unknown; message?: unknown } }).error;
  if (!err || typeof err.code !== "string" || typeof err.message !== "string") {
    throw new Error(`not an API error body: ${JSON.stringify(body)}`);
  }
  return err.code;
}
