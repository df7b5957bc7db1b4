/**
 * What every load generator (a child process of the harness) shares: its arguments, the
 * event line protocol, bounded HTTP calls to the server, and a sleep.
 */
import { readFileSync } from "node:fs";
import type { GeneratorArgs, GeneratorEvent } from "./protocol.ts";

/** The generator's arguments: JSON on stdin, written by the harness (bench/generator.ts). */
export function generatorArgs<T extends GeneratorArgs>(): T {
  const raw = readFileSync(0, "utf8");
  if (!raw) throw new Error("generator: missing JSON arguments on stdin");
  return JSON.parse(raw) as T;
}

export function emit(event: GeneratorEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

/** Tells the harness a phase is being measured from now, and returns the phase's clock. */
export function startPhase(phase: string): () => number {
  emit({ event: "start", phase });
  const t0 = performance.now();
  return () => (performance.now() - t0) / 1000;
}

export function endPhase(phase: string): void {
  emit({ event: "end", phase });
}

/** Ends the generator with its result; the harness reads this line last. */
export function finish(result: unknown): never {
  emit({ event: "result", result });
  process.exit(0);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface CallResult<T> {
  status: number;
  body: T;
}

/** One JSON HTTP call with the admin key, bounded by a 30 s timeout. */
export async function call<T = unknown>(
  args: GeneratorArgs,
  method: string,
  path: string,
  body?: unknown,
): Promise<CallResult<T>> {
  const res = await fetch(`${args.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${args.adminKey}`, "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed as T };
}

/** Like `call`, but a non-2xx answer is an error (for setup steps that must succeed). */
export async function must<T = unknown>(args: GeneratorArgs, method: string, path: string, body?: unknown): Promise<T> {
  const res = await call<T>(args, method, path, body);
  if (res.status < 200 || res.status > 299) {
    throw new Error(`${method} ${path} -> ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  }
  return res.body;
}

/** A message body of about 100 bytes, like a small application event. */
export function sampleMessage(seq: number): { body: Record<string, unknown> } {
  return { body: { seq, user: `user-${seq % 1000}`, action: "page.view", path: "/products/1234", sentAt: 0 } };
}
