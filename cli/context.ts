/**
 * What a command runs with: the server's URL and credential, an SDK client on them, a raw
 * HTTP client for the few routes the SDK has no method for (paged lists, access keys), the
 * output, and a signal that Ctrl-C aborts.
 *
 * Where the server and key come from, first match wins: `--url` / `--key`, then `SPOOL_URL`
 * / `SPOOL_KEY`, then — only for a server on this machine — the `SPOOL_ADMIN_KEY` that
 * `npm start` wrote to `.dev.vars` (looked for from the current directory upwards) and the
 * default port 8787. The local admin key is never sent to a server elsewhere.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Credentials } from "../client/auth";
import { Http } from "../client/http";
import { Spool } from "../client/index";
import { stringOption, UsageError, type OptionValues } from "./args";
import type { Output } from "./output";

export const DEFAULT_URL = "http://127.0.0.1:8787";

export interface Context {
  readonly url: string;
  readonly spool: Spool;
  /** For routes without an SDK method; same credential, retries and errors as the SDK. */
  readonly http: Http;
  readonly out: Output;
  /** Aborted by Ctrl-C (SIGINT) or SIGTERM. */
  readonly signal: AbortSignal;
}

export interface Target {
  url: string;
  key: string;
  /** Where the key came from, for error messages. */
  keySource: string;
}

/** Resolves server and credential from options, environment and `.dev.vars`. */
export function resolveTarget(options: OptionValues, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Target {
  const url = (stringOption(options, "url") || env.SPOOL_URL || DEFAULT_URL).replace(/\/+$/, "");
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
  } catch {
    throw new UsageError(`--url must be an http(s) URL like ${DEFAULT_URL}, not '${url}'`);
  }
  const given = stringOption(options, "key");
  if (given !== undefined) return { url, key: given, keySource: "--key" };
  if (env.SPOOL_KEY) return { url, key: env.SPOOL_KEY, keySource: "SPOOL_KEY" };
  if (isLoopback(url)) {
    const devVars = findDevVars(cwd);
    const key = devVars ? readDevVars(devVars).SPOOL_ADMIN_KEY : undefined;
    if (devVars && key) return { url, key, keySource: devVars };
  }
  throw new UsageError(
    isLoopback(url)
      ? "no key: pass --key or set SPOOL_KEY (or run this inside the project, where `npm start` wrote .dev.vars)"
      : `no key for ${url}: pass --key or set SPOOL_KEY (the local .dev.vars key is only used for a server on this machine)`,
  );
}

export function createContext(target: Target, out: Output, signal: AbortSignal): Context {
  const spool = new Spool({ url: target.url, token: target.key });
  const http = new Http(target.url, new Credentials({ token: target.key }), (input, init) => fetch(input, init));
  return { url: target.url, spool, http, out, signal };
}

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "127.0.0.1" || host === "localhost" || host === "[::1]" || host === "::1";
}

function findDevVars(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, ".dev.vars");
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** `NAME=value` lines (optionally quoted), as wrangler reads them. */
export function readDevVars(path: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const m = /^\s*([A-Za-z0-9_]+)\s*=\s*"?(.*?)"?\s*$/.exec(line);
    if (m) vars[m[1]!] = m[2]!;
  }
  return vars;
}
