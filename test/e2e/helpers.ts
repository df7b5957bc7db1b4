/** Helpers for e2e tests: authenticated HTTP calls to the server started by global-setup. */
import { inject } from "vitest";

export const url = (): string => inject("spoolUrl");
export const adminKey = (): string => inject("adminKey");

export async function api<T = any>(method: string, path: string, body?: unknown, auth: string | null = adminKey()): Promise<{ status: number; body: T; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (auth !== null) headers.authorization = `Bearer ${auth}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${url()}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
}

export function unique(prefix = "e2e"): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
}
