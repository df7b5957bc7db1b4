/**
 * The SDK over a service binding: `new Spool({ binding: env.SPOOL })` in a Worker whose
 * wrangler.toml binds Spool's `SpoolEntrypoint`. The whole SDK runs unchanged on top of the
 * binding's `fetch`: JSON calls, WebSocket consumers and subscriptions (a Worker opens a
 * WebSocket with `fetch` and `Upgrade: websocket`, which a binding carries), SSE, and the
 * typed errors, built from the same error bodies as over HTTP. No server code and no
 * Workers types are imported: the binding is typed by what the SDK calls on it.
 *
 * A binding acts as the admin (the account owner configured it), so requests go without a
 * credential; `spool.withToken(token)` narrows a client to a token's capabilities, and the
 * entrypoint verifies and authorises it exactly as over HTTP.
 *
 * `unwrapResult` serves code that calls the entrypoint's typed RPC methods directly
 * (`await env.SPOOL.queueSend("jobs", [...])`): RPC loses error classes, so they answer
 * errors as data, and this turns one into the SDK's error class for its code.
 */
import { ErrorCodes, isErrorCode, type ErrorValue } from "../protocol/errors.js";
import { spoolError } from "./errors.js";
import type { FetchLike } from "./http.js";

/** What the SDK needs of a service binding to `SpoolEntrypoint` (a `Fetcher`, `Service<…>`). */
export interface SpoolBinding {
  fetch(input: string, init?: RequestInit): Promise<Response>;
}

/** The base URL of requests through a binding (only the path is routed; no network is involved). */
export const BINDING_BASE_URL = "https://spool.binding";

/**
 * Stands for "no credential: the binding's own admin" inside the client, whose credential
 * plumbing always has a token; `bindingFetch` takes it out before a request leaves.
 */
export const BINDING_ADMIN = "spool-binding-admin";

/** The binding's `fetch`, with the placeholder admin credential removed from each request. */
export function bindingFetch(binding: SpoolBinding): FetchLike {
  return (input, init = {}) => {
    const headers = new Headers(init.headers);
    if (headers.get("authorization") === `Bearer ${BINDING_ADMIN}`) headers.delete("authorization");
    return binding.fetch(input, { ...init, headers });
  };
}

/** An RPC answer of `SpoolEntrypoint`: the value, or the error as data. */
export type BindingResult<T> = { ok: true; value: T } | { ok: false; error: ErrorValue };

/**
 * The value of a typed RPC answer, or its error thrown as the SDK's class for the code
 * (`NotFoundError`, `InvalidRequestError`, …):
 *
 *   const { messages } = unwrapResult(await env.SPOOL.queueReceive("jobs", { max: 10 }));
 */
export function unwrapResult<T>(result: BindingResult<T>): T {
  if (result.ok) return result.value;
  const { code, message, details, retryAfter } = result.error;
  throw spoolError({ code, message, status: isErrorCode(code) ? ErrorCodes[code] : 500, details, retryAfter });
}
