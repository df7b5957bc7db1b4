/**
 * Helpers for the Durable Streams e2e tests: a Spool of their own (state on tmpfs where
 * there is one; local tracing off, startServer's default, as `npm start` runs it), a tiny
 * proxy that adds Spool's credential to every request (the published conformance suite sends none), the
 * protocol's reference server, and a runner for the published suite, unmodified.
 *
 * The suite's CLI (`server-conformance-tests --run <url>`) cannot find its own test file
 * with the vitest it depends on (the file lies under node_modules, which vitest excludes),
 * so we start that same vitest on that same file (`dist/test-runner.js`) with a config
 * that includes it, `CONFORMANCE_TEST_URL` set and vitest's defaults otherwise — exactly
 * what the CLI means to do — and read its JSON report.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { startServer, type LocalServer } from "./server";

const ROOT = resolve(import.meta.dirname, "../..");
const require = createRequire(join(ROOT, "package.json"));

/** How long a Spool long-poll waits (its default), also given to the reference server. */
export const LONG_POLL_MS = 3_000;

/** A Spool for these tests: state on tmpfs when the machine has one (fsync-bound disks make every write slow). */
export async function startStreamsServer(options: { persistTo?: string; port?: number; vars?: Record<string, string> } = {}): Promise<LocalServer> {
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const persistTo = options.persistTo ?? mkdtempSync(join(base, "spool-streams-"));
  return startServer({ persistTo, port: options.port, vars: options.vars });
}

export function removeState(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface Running {
  url: string;
  close(): Promise<void>;
}

function listen(server: Server): Promise<string> {
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => {
    const addr = server.address();
    ok(`http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`);
  }));
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((ok) => server.close(() => ok()));
}

/** Forwards every request to `target` with `Authorization: Bearer <credential>`, streaming both ways. */
export async function startCredentialProxy(target: string, credential: string): Promise<Running> {
  const to = new URL(target);
  const server = createServer((req, res) => {
    const headers = { ...req.headers, host: to.host, authorization: `Bearer ${credential}` };
    const upstream = request({ hostname: to.hostname, port: to.port, path: req.url, method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
      answer.pipe(res);
    });
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
    res.on("close", () => upstream.destroy());
  });
  return { url: await listen(server), close: () => closeServer(server) };
}

/** The protocol's Node reference server (`@durable-streams/server`), in memory, in this process. */
export async function startReferenceServer(): Promise<Running> {
  const { DurableStreamTestServer } = await import("@durable-streams/server");
  const server = new DurableStreamTestServer({ port: 0, host: "127.0.0.1", longPollTimeout: LONG_POLL_MS });
  const url = await server.start();
  return { url, close: () => server.stop() };
}

export interface SuiteResult {
  passed: number;
  failed: number;
  skipped: number;
  /** Full names ("describe > test") of the failed tests. */
  failures: string[];
  seconds: number;
}

interface JsonReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: Array<{ assertionResults: Array<{ fullName: string; status: string }> }>;
}

/** Runs the published suite, unmodified, against `baseUrl`. */
export async function runConformanceSuite(baseUrl: string): Promise<SuiteResult> {
  const pkg = dirname(require.resolve("@durable-streams/server-conformance-tests/package.json"));
  const vitestBin = join(dirname(createRequire(join(pkg, "package.json")).resolve("vitest/package.json")), "vitest.mjs");
  const out = mkdtempSync(join(tmpdir(), "ds-suite-"));
  const report = join(out, "report.json");
  const config = join(ROOT, "test/e2e/durable-streams-suite.config.mjs");
  const started = Date.now();
  const code = await new Promise<number | null>((ok) => {
    const child = spawn(process.execPath, [vitestBin, "run", "--config", config, "--reporter=json", `--outputFile=${report}`], {
      cwd: pkg,
      env: { ...process.env, CONFORMANCE_TEST_URL: baseUrl, CONFORMANCE_SUITE_ROOT: pkg, FORCE_COLOR: "0" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on("exit", (c) => {
      if (!existsSync(report)) console.error(stderr);
      ok(c);
    });
  });
  if (!existsSync(report)) throw new Error(`the conformance suite did not report (exit ${code})`);
  const r = JSON.parse(readFileSync(report, "utf8")) as JsonReport;
  rmSync(out, { recursive: true, force: true });
  const failures = r.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === "failed").map((a) => a.fullName));
  return {
    passed: r.numPassedTests, failed: r.numFailedTests, skipped: r.numPendingTests + r.numTodoTests, failures,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}
