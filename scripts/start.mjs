#!/usr/bin/env node
// `npm start`: run Spool locally on Miniflare (wrangler dev), state under .wrangler/state.
// On first start writes .dev.vars (git-ignored) with a random admin key and token secret.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const devVarsPath = join(root, ".dev.vars");
const port = process.env.PORT ?? "8787";

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
    .map((line) => /^\s*([A-Z0-9_]+)\s*=\s*"?(.*?)"?\s*$/.exec(line))
    .filter(Boolean)
    .map((m) => [m[1], m[2]]),
);
const url = `http://127.0.0.1:${port}`;
const key = vars.SPOOL_ADMIN_KEY ?? "(set SPOOL_ADMIN_KEY in .dev.vars)";

console.log(`
  Spool is starting on ${url}
  admin key: ${key}

  try:  curl -s -X POST ${url}/v1/queues/hello/messages \\
          -H "Authorization: Bearer ${key}" -H "Content-Type: application/json" \\
          -d '{"body": {"hi": "there"}}'
`);

const child = spawn(
  "npx",
  ["wrangler", "dev", "--ip", "127.0.0.1", "--port", port, "--persist-to", join(root, ".wrangler/state"), ...process.argv.slice(2)],
  { cwd: root, stdio: "inherit", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => process.exit(code ?? 0));
