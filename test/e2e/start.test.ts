/**
 * `npm start` as a newcomer meets it: `--port` and `PORT` pick the port, a busy port is one
 * sentence before any banner, the output stays quiet (no engine warnings, no Request.cf
 * stack without internet, one plain line per failed webhook attempt instead of workerd's
 * dump), no credential (a `?token=`, the admin key) is written to its state dir (local
 * traces are off), and SIGTERM to npm's pid or Ctrl-C to the script stops everything it started.
 * Each run uses a copy of the project layout in a temporary directory (its own .dev.vars
 * and state), with the machine's own `node` and `npm` first on PATH.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "./cli-support";
import { until } from "./client-support";
import { freePort } from "./server";

/** What each run gets of its own rather than linked: its state, secrets and the script under test. */
const NOT_LINKED = new Set(["scripts", ".dev.vars", ".wrangler", ".git", "test-results"]);
const started: ChildProcess[] = [];

/** A project directory of its own: links to everything else, a real copy of scripts/start.mjs. */
function projectCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "spool-start-"));
  for (const name of readdirSync(ROOT)) if (!NOT_LINKED.has(name)) symlinkSync(join(ROOT, name), join(dir, name));
  mkdirSync(join(dir, "scripts"));
  copyFileSync(join(ROOT, "scripts", "start.mjs"), join(dir, "scripts", "start.mjs"));
  return dir;
}

/** PATH with the machine's own node/npm first (node_modules/.bin removed), as in a fresh shell. */
function machinePath(): string {
  return (process.env.PATH ?? "").split(delimiter).filter((d) => !d.includes("node_modules")).join(delimiter);
}

function launch(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): ChildProcess & { log: () => string } {
  const clean: NodeJS.ProcessEnv = { ...process.env, PATH: machinePath(), ...env };
  for (const k of Object.keys(clean)) if (k.startsWith("npm_") || k === "PORT") delete clean[k];
  Object.assign(clean, env);
  const child = spawn(command, args, { cwd, env: clean, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout!.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  started.push(child);
  return Object.assign(child, { log: () => log });
}

const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once("exit", (code) => r(code)));

/** Waits for /health, failing with what the server printed. */
async function serving(port: number, child: { log: () => string }): Promise<void> {
  try {
    await until(() => healthy(port), "the server to answer /health", 90_000);
  } catch {
    throw new Error(`no answer on port ${port} within 90 s; it printed:\n${child.log()}`);
  }
}

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health`)).ok;
  } catch {
    return false;
  }
}

/** Processes whose command line mentions `dir` (what `npm start` in it started). */
function processesIn(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmd.includes(dir)) found.push(`${pid} ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

afterAll(() => {
  for (const child of started) if (child.exitCode === null) child.kill("SIGKILL");
});

// Finding what is left running reads /proc: Linux only.
describe.skipIf(process.platform !== "linux")("npm start", () => {
  it("start - a busy port is one sentence on stderr, before any banner, exit 1", async () => {
    const dir = projectCopy();
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, "127.0.0.1", r));
    try {
      const child = launch("node", ["scripts/start.mjs", "--port", String(port)], dir);
      expect(await exited(child)).toBe(1);
      expect(child.log().trim()).toBe(`Port ${port} on 127.0.0.1 is already in use (another \`npm start\`?). Stop that, or pick another port: npm start -- --port ${port + 1}`);
    } finally {
      blocker.close();
    }
  });

  it("start - npm start -- --port runs there, quietly; a dead webhook is one plain line; SIGTERM to npm stops everything", async () => {
    const dir = projectCopy();
    const port = await freePort();
    const npm = launch("npm", ["start", "--", "--port", String(port)], dir);
    await serving(port, npm);
    const key = /admin key: (\S+)/.exec(npm.log())![1]!;
    expect(npm.log()).toContain(`export SPOOL_URL=http://127.0.0.1:${port} SPOOL_KEY=${key}`);
    expect(readFileSync(join(dir, ".dev.vars"), "utf8")).toContain(`SPOOL_ADMIN_KEY=${key}`);

    // A webhook to a name that never resolves (.invalid): each failed attempt is one line.
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    expect((await call("PUT", "/v1/topics/hooks")).status).toBe(200);
    expect((await call("PUT", "/v1/topics/hooks/subscriptions/dead", { url: "http://spool-start-test.invalid/hook", maxAttempts: 2 })).status).toBe(200);
    expect((await call("POST", "/v1/topics/hooks/messages", { body: 1 })).status).toBe(201);
    await until(async () => ((await (await call("GET", "/v1/topics/hooks/subscriptions/dead")).json()) as { failed: number }).failed === 1, "both attempts to fail", 30_000);
    await until(() => (npm.log().match(/\[spool\] an outbound request/g) ?? []).length >= 2, "a line per failed attempt", 5_000);

    const log = npm.log();
    for (const noise of ["EBADENGINE", "ENOTFOUND", "Request.cf", "stack:", "ffi.rs", "wdErrId", "npm warn"]) expect(log, noise).not.toContain(noise);

    npm.kill("SIGTERM");
    await exited(npm);
    await until(() => processesIn(dir).length === 0, "every process npm start started to exit", 15_000);
    expect(await healthy(port)).toBe(false);
  }, 150_000);

  it("start - no credential reaches the state dir: a ?token= subscriber and an admin-key publish leave no trace of either", async () => {
    const dir = projectCopy();
    const port = await freePort();
    // The default a newcomer gets: whatever this shell says about local traces is not passed on.
    const npm = launch("npm", ["start", "--", "--port", String(port)], dir, { X_LOCAL_OBSERVABILITY: undefined });
    await serving(port, npm);
    const key = /admin key: (\S+)/.exec(npm.log())![1]!;
    const base = `http://127.0.0.1:${port}`;
    const admin = { authorization: `Bearer ${key}`, "content-type": "application/json" };
    expect((await fetch(`${base}/v1/topics/creds`, { method: "PUT", headers: admin, body: "{}" })).status).toBe(200);
    const minted = await fetch(`${base}/v1/tokens`, {
      method: "POST", headers: admin, body: JSON.stringify({ ttl: 600, capabilities: { "topics/creds": ["subscribe", "publish"] } }),
    });
    expect(minted.status).toBe(201);
    const { token } = (await minted.json()) as { token: string };

    // A WebSocket and an SSE subscriber with ?token= (as browsers do), a publish with the admin key.
    const frames: string[] = [];
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/topics/creds/subscribe?token=${encodeURIComponent(token)}`);
    ws.addEventListener("message", (e) => frames.push(String(e.data)));
    await new Promise<void>((ok, fail) => {
      ws.addEventListener("open", () => ok());
      ws.addEventListener("error", () => fail(new Error("the ?token= WebSocket did not open")));
    });
    const sse = new AbortController();
    const events = await fetch(`${base}/v1/topics/creds/events?from=0&token=${encodeURIComponent(token)}`, { signal: sse.signal });
    expect(events.status).toBe(200);
    expect((await fetch(`${base}/v1/topics/creds/messages`, { method: "POST", headers: admin, body: JSON.stringify({ messages: [{ body: "hi" }] }) })).status).toBe(201);
    await until(() => frames.some((f) => f.includes('"hi"')), "the WebSocket subscriber to get the message", 15_000);
    const reader = events.body!.getReader();
    for (let seen = ""; !seen.includes('"hi"'); ) seen += new TextDecoder().decode((await reader.read()).value);
    // A read with ?token= is refused (only WebSocket and SSE take one) but its URL reached the runtime all the same.
    const read = await fetch(`${base}/v1/topics/creds/messages?partition=0&from=0&token=${encodeURIComponent(token)}`);
    expect(read.status).toBe(401);
    await read.arrayBuffer();
    // Their invocations end (and would be traced) before the server stops.
    const closed = new Promise<void>((ok) => ws.addEventListener("close", () => ok()));
    ws.close();
    sse.abort();
    await closed;
    expect((await fetch(`${base}/health`)).ok).toBe(true);

    npm.kill("SIGTERM");
    await exited(npm);
    await until(() => processesIn(dir).length === 0, "every process npm start started to exit", 15_000);
    const state = join(dir, ".wrangler", "state");
    const files = filesUnder(state);
    expect(files.length).toBeGreaterThan(0); // the topic's objects were persisted there
    let bytes = 0;
    for (const file of files) {
      const text = readFileSync(file).toString("latin1");
      bytes += text.length;
      expect(text.includes(token), `the token in ${file}`).toBe(false);
      expect(text.includes(key), `the admin key in ${file}`).toBe(false);
    }
    console.log(`npm start state dir after the credential test: ${files.length} files, ${bytes} bytes`);
  }, 150_000);

  it("start - PORT picks the port; Ctrl-C (SIGINT) to the script stops wrangler and workerd, exit 130", async () => {
    const dir = projectCopy();
    const port = await freePort();
    const script = launch("node", ["scripts/start.mjs"], dir, { PORT: String(port) });
    await serving(port, script);
    expect(script.log()).toContain(`Spool is starting on http://127.0.0.1:${port}`);
    script.kill("SIGINT");
    expect(await exited(script)).toBe(130);
    await until(() => processesIn(dir).length === 0, "every process to exit", 15_000);
    expect(await healthy(port)).toBe(false);
  }, 120_000);
});
