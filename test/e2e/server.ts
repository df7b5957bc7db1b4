/**
 * Starts a real local Spool (`wrangler dev` on Miniflare) on free loopback ports for
 * end-to-end tests, the client's restart test and benchmarks. Stop it with `stop()`;
 * state persists under `persistTo`, so a restart with the same directory keeps it. Local
 * tracing is off unless asked for (`localTraces`), as under `npm start`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const E2E_ADMIN_KEY = "e2e-admin-key";
export const E2E_TOKEN_SECRET = "e2e-token-secret-0123456789abcdef0123";

export interface LocalServer {
  url: string;
  port: number;
  persistTo: string;
  adminKey: string;
  stop(): Promise<void>;
  /** Kills every process of the server at once with SIGKILL, as a crash would (no shutdown; state persists). */
  crash(): Promise<void>;
}

export interface StartOptions {
  persistTo?: string;
  port?: number;
  vars?: Record<string, string>;
  /** Wrangler config to run (default: the project's wrangler.toml). */
  config?: string;
  /**
   * wrangler dev's local trace store (X_LOCAL_OBSERVABILITY): it records every invocation
   * under `persistTo` (gigabytes in a soak, full URLs included) and costs memory and CPU.
   * Default off, as `npm start` runs it; unset, an X_LOCAL_OBSERVABILITY in the
   * environment decides, as it does for `npm start`.
   */
  localTraces?: boolean;
}

const ROOT = resolve(import.meta.dirname, "../..");

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => ok(port));
    });
  });
}

export async function startServer(options: StartOptions = {}): Promise<LocalServer> {
  const port = options.port ?? (await freePort());
  const inspectorPort = await freePort();
  const persistTo = options.persistTo ?? mkdtempSync(join(tmpdir(), "spool-e2e-"));
  const vars: Record<string, string> = {
    SPOOL_ADMIN_KEY: E2E_ADMIN_KEY,
    SPOOL_TOKEN_SECRET: E2E_TOKEN_SECRET,
    SPOOL_ALLOW_PRIVATE_WEBHOOKS: "true",
    ...options.vars,
  };
  const args = [
    "wrangler", "dev",
    "--config", options.config ?? join(ROOT, "wrangler.toml"),
    "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
    "--persist-to", persistTo, "--show-interactive-dev-session=false", "--log-level", "warn",
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  const child = spawn("npx", args, {
    cwd: ROOT,
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "true", NO_COLOR: "1",
      X_LOCAL_OBSERVABILITY: localTracesSwitch(options.localTraces),
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHealth(url, child, () => output);
  } catch (err) {
    await kill(child);
    throw err;
  }
  return { url, port, persistTo, adminKey: vars.SPOOL_ADMIN_KEY!, stop: () => kill(child), crash: () => kill(child, "SIGKILL") };
}

/** The X_LOCAL_OBSERVABILITY value for wrangler dev: the option, else the environment's, else off. */
function localTracesSwitch(localTraces: boolean | undefined): string {
  if (localTraces !== undefined) return String(localTraces);
  return process.env.X_LOCAL_OBSERVABILITY ?? "false";
}

async function waitForHealth(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${output()}`);
    try {
      // Bounded: wrangler's proxy can accept a connection and not answer while the Worker starts,
      // and an unbounded probe would then wait past the deadline (a 180-s test timeout, no output).
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`wrangler dev did not become healthy within 60 s:\n${output()}`);
}

async function kill(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  try {
    process.kill(-child.pid, signal); // the whole process group: npx, wrangler, workerd
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      /* already gone */
    }
  }, 5_000);
  await exited;
  clearTimeout(timer);
}
