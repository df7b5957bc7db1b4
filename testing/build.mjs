// Part of `npm run build` (after tsc): bundles Spool's Worker for spool/testing into
// dist/testing/ with its wrangler.toml config (testing/bundle.ts says what and why).
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildWorker } from "../dist/testing/bundle.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { scriptPath } = await buildWorker(root, join(root, "dist", "testing"));
// stderr: `npm pack --json` reads stdout.
console.error(`spool/testing: bundled the Worker into ${scriptPath.slice(root.length + 1)}`);
