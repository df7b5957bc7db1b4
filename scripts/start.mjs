#!/usr/bin/env node
// `npm start`: run Spool locally on Miniflare (`wrangler dev`), state under .wrangler/state.
//
//   npm start                    on http://127.0.0.1:8787
//   npm start -- --port 8788     or PORT=8788 npm start
//   npm start -- --var NAME:v    anything else goes to `wrangler dev` as is
//
// On first start writes .dev.vars (git-ignored) with a random admin key and token secret.
// Checks the port before saying anything, so a busy port is one clear sentence. Runs
// wrangler (and its workerd) in a process group of its own and stops that whole group on
// Ctrl-C, SIGTERM or SIGHUP, then exits: nothing is left running. Keeps the output quiet:
// no metrics, no `Request.cf` download (a stack trace on machines without internet), and
// workerd's internal stack dump for a failed outbound request (a webhook to a host that
// does not resolve) becomes one plain line.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const devVarsPath = join(root, ".dev.vars");
/** How long wrangler gets to stop workerd after a signal before the group is killed. */
const STOP_GRACE_MS = 5_000;

const { port, passthrough, help } = parseArgs(process.argv.slice(2), process.env.PORT);
if (help) {
  console.log(`usage: npm start [-- --port <port>] [-- <wrangler dev options>]

Runs Spool on http://127.0.0.1:<port> (default 8787; PORT=<port> works too), state in .wrangler/state.
Other options go to \`wrangler dev\` (e.g. --var NAME:value). Ctrl-C stops everything.`);
  process.exit(0);
}

if (!(await portIsFree(port))) {
  console.error(`Port ${port} on 127.0.0.1 is already in use (another \`npm start\`?). Stop that, or pick another port: npm start -- --port ${port + 1}`);
  process.exit(1);
}

if (!existsSync(devVarsPath)) {
  const secret = () => randomBytes(24).toString("base64url");
  writeFileSync(
    devVarsPath,
    [
      "# Written by `npm start` for local development. Never commit this file.",
      `SPOOL_ADMIN_KEY=${secret()}`,
      `SPOOL_TOKEN_SECRET=${secret()}`,
      "SPOOL_ALLOW_PRIVATE_WEBHOOKS=true",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  console.log("Wrote .dev.vars with a new admin key and token secret.");
}

const vars = Object.fromEntries(
  readFileSync(devVarsPath, "utf8")
    .split("\n")
    .map((line) => /^\s*([A-Za-z0-9_]+)\s*=\s*"?(.*?)"?\s*$/.exec(line))
    .filter(Boolean)
    .map((m) => [m[1], m[2]]),
);
const url = `http://127.0.0.1:${port}`;
const key = vars.SPOOL_ADMIN_KEY ?? "(set SPOOL_ADMIN_KEY in .dev.vars)";

console.log(`
  Spool is starting on ${url}  (state in .wrangler/state; Ctrl-C stops it)
  admin key: ${key}
  console:   ${url}/console  (paste the admin key to sign in)

  In another terminal:
    export SPOOL_URL=${url} SPOOL_KEY=${key}
    npx spool send hello '{"hi": "there"}'
    npx spool receive hello --ack
`);

const child = spawn(
  wranglerNode(),
  [
    join(root, "node_modules", "wrangler", "bin", "wrangler.js"),
    "dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", join(root, ".wrangler", "state"),
    "--show-interactive-dev-session=false", ...passthrough,
  ],
  {
    cwd: root,
    // Its own process group: one signal reaches wrangler and workerd, and nothing outlives us.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      // wrangler's local trace store keeps full URLs, ?token= included (see wrangler.toml,
      // [observability]): off unless asked for.
      X_LOCAL_OBSERVABILITY: "false",
      ...process.env,
      WRANGLER_SEND_METRICS: "false",
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      ...(process.stdout.isTTY && !process.env.NO_COLOR ? { FORCE_COLOR: "1" } : {}),
    },
  },
);
child.stdout.on("data", lineFilter(process.stdout));
child.stderr.on("data", lineFilter(process.stderr));

let stopping;
function stop(signal) {
  if (stopping) return;
  stopping = signal;
  signalGroup(signal);
  setTimeout(() => signalGroup("SIGKILL"), STOP_GRACE_MS).unref();
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => stop(signal));
// If whatever started us goes away without passing a signal on (a shell between npm and
// us that died of SIGTERM), we are orphaned: stop as if told to.
const parent = process.ppid;
setInterval(() => process.ppid !== parent && stop("SIGTERM"), 500).unref();
child.on("exit", (code, signal) => {
  signalGroup("SIGKILL"); // whatever wrangler left behind (workerd) goes with it
  const codes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
  const exitCode = stopping ? codes[stopping] : (code ?? (signal ? 1 : 0));
  // Let the last of its output through first ("close" follows once the pipes are drained).
  child.on("close", () => process.exit(exitCode));
  setTimeout(() => process.exit(exitCode), 2_000).unref();
});

function signalGroup(signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is already gone
  }
}

/** `--port N`, `--port=N`, `-p N` (else PORT, else 8787); everything else is wrangler's. */
function parseArgs(args, envPort) {
  let raw = envPort || "8787";
  let help = false;
  const passthrough = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const m = /^--port=(.*)$/.exec(arg);
    if (m) raw = m[1];
    else if (arg === "--port" || arg === "-p") raw = args[++i] ?? "";
    else if (arg === "--help" || arg === "-h") help = true;
    else passthrough.push(arg);
  }
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`The port must be a number from 1 to 65535, not '${raw}'.`);
    process.exit(2);
  }
  return { port, passthrough, help };
}

function portIsFree(port) {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen({ port, host: "127.0.0.1", exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** Wrangler needs Node 22.12+: the one npm installed (node_modules/node) when this one is older. */
function wranglerNode() {
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major > 22 || (major === 22 && minor >= 12)) return process.execPath;
  const bundled = join(root, "node_modules", "node", "bin", "node");
  if (existsSync(bundled)) return bundled;
  console.error(`Spool's tools need Node 22.12 or newer (this is ${process.version}); run \`npm install\` first, which brings it.`);
  process.exit(1);
}

/**
 * Passes output through line by line, turning workerd's internal error dump — a red
 * "[ERROR] e = rust/…/ffi.rs:104: failed: <reason>", then a line of raw stack addresses —
 * into one plain line. Spool already handles these failures (a webhook is retried with
 * backoff and its subscription shows `lastError`); the dump only alarms.
 */
function lineFilter(out) {
  let pending = "";
  let skipping = false;
  return (chunk) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop();
    for (const line of lines) {
      const plain = line.replace(/\x1b\[[0-9;]*m/g, "");
      const internal = /\[ERROR\]\s+(?:e = )?\S+\.(?:rs|c\+\+|h):\d+: (?:failed: )?(.*)$/.exec(plain);
      if (internal) {
        skipping = true;
        const reason = internal[1].replace(/^jsg\.\w+: /, "");
        out.write(/lookup address|connect|refused|unreachable|timed out/i.test(reason)
          ? `[spool] an outbound request (a webhook delivery) failed: ${reason}; it is retried with backoff, see the subscription's lastError\n`
          : `[workerd] ${reason}\n`);
        continue;
      }
      if (skipping && (plain.trim() === "" || /^\s*stack:/.test(plain))) continue;
      skipping = false;
      out.write(`${line}\n`);
    }
  };
}
