/** Helpers for the client SDK's e2e tests: clients against the shared server, tokens, waiting, request logs. */
import { Spool, type SpoolOptions } from "../../client";
import { adminKey, api, unique, url } from "./helpers";

export { unique };

/** A client with the admin key against the server global-setup started. */
export function adminClient(options: Partial<SpoolOptions> = {}): Spool {
  return new Spool({ url: url(), token: adminKey(), ...options } as SpoolOptions);
}

/** Mints a token through the API (admin key), as a backend would. */
export async function mintToken(capabilities: Record<string, string[]>, ttl = 600, base = url(), key = adminKey()): Promise<{ token: string; expiresAt: number }> {
  const res = await fetch(`${base}/v1/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ ttl, capabilities }),
  });
  if (res.status !== 201) throw new Error(`POST /v1/tokens: ${res.status} ${await res.text()}`);
  return (await res.json()) as { token: string; expiresAt: number };
}

/** Waits until `check` returns a truthy value (polling), or fails naming `what`. */
export async function until<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<Exclude<T, false | 0 | "" | null | undefined>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as Exclude<T, false | 0 | "" | null | undefined>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Takes `n` items from an async iterator (without ending it). */
export async function take<T>(it: AsyncIterator<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
  at: number;
  body?: string;
}

/** A `fetch` that records every request's method, path, status and time. */
export function loggingFetch(log: LoggedRequest[], hook?: (entry: LoggedRequest) => void): SpoolOptions["fetch"] {
  return async (input, init) => {
    const res = await fetch(input, init);
    const u = new URL(input);
    const entry = { method: init?.method ?? "GET", path: u.pathname + u.search, status: res.status, at: Date.now(), body: typeof init?.body === "string" ? init.body : undefined };
    log.push(entry);
    hook?.(entry);
    return res;
  };
}

export { api, url, adminKey };
