#!/usr/bin/env node
// The Chromium the browser tests drive (through playwright-core, never a downloaded browser).
//
//   node scripts/chromium.mjs     finds it (CHROMIUM_PATH, then the usual Linux and macOS
//                                 places and PATH); as root on Debian with none installed,
//                                 installs Debian's `chromium` with apt-get; prints its path.
//                                 Otherwise exits 1 with one sentence saying what to install.
//
// `npm test` runs this first (package.json "pretest"), so a fresh machine either gets a
// browser or learns in a second what it lacks; test/e2e/browser.test.ts uses `findChromium`.
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Where Chromium (or Chrome, which works the same for the tests) usually lives. */
export const KNOWN_LOCATIONS = {
  linux: [
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/lib/chromium/chromium",
    "/snap/bin/chromium",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
  ],
  darwin: [
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    join(homedir(), "Applications/Chromium.app/Contents/MacOS/Chromium"),
    join(homedir(), "Applications/Google Chrome.app/Contents/MacOS/Google Chrome"),
  ],
};
const PATH_NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

/** What to do when there is no browser, in one sentence. */
export const MISSING_CHROMIUM =
  "No Chromium for the browser tests: install it (Debian: apt-get install chromium; Ubuntu: snap install chromium; " +
  "macOS: brew install --cask chromium) or set CHROMIUM_PATH to a Chromium or Chrome executable.";

function isExecutable(path) {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The browser's path, or undefined. CHROMIUM_PATH wins; one that is set but not an
 * executable is an error (a typo should not silently fall back to another browser).
 */
export function findChromium({ env = process.env, platform = process.platform, executable = isExecutable } = {}) {
  if (env.CHROMIUM_PATH) {
    if (executable(env.CHROMIUM_PATH)) return env.CHROMIUM_PATH;
    throw new Error(`CHROMIUM_PATH is set to ${env.CHROMIUM_PATH}, which is not an executable file.`);
  }
  for (const path of KNOWN_LOCATIONS[platform] ?? []) if (executable(path)) return path;
  for (const dir of (env.PATH ?? "").split(delimiter).filter(Boolean)) {
    for (const name of PATH_NAMES) if (executable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** True where installing Debian's package is ours to do: root, on Debian, with apt-get. */
export function mayInstallWithApt({ platform = process.platform, uid = process.getuid?.(), osRelease = readOsRelease() } = {}) {
  return platform === "linux" && uid === 0 && /^ID=("?)debian\1$/m.test(osRelease) && existsSync("/usr/bin/apt-get");
}

function readOsRelease() {
  try {
    return readFileSync("/etc/os-release", "utf8");
  } catch {
    return "";
  }
}

/** Runs apt-get with `args`; returns undefined on success, else why it failed. */
function aptGet(args) {
  const run = spawnSync("apt-get", args, { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
  if (run.status === 0) return undefined;
  return (run.stderr || run.error?.message || `exit code ${run.status}`).trim().split("\n").pop();
}

/**
 * Finds the browser, installing Debian's chromium where allowed; throws one sentence
 * (MISSING_CHROMIUM, or why apt-get failed and then it) otherwise. The steps can be
 * replaced, so the test can walk every branch without touching the machine.
 */
export function ensureChromium({
  log = (line) => process.stderr.write(`${line}\n`),
  find = () => findChromium(),
  mayInstall = () => mayInstallWithApt(),
  apt = aptGet,
} = {}) {
  const found = find();
  if (found) return found;
  if (!mayInstall()) throw new Error(MISSING_CHROMIUM);
  log("No Chromium found; installing Debian's chromium for the browser tests (apt-get, about a minute)…");
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", "chromium"]]) {
    const failure = apt(args);
    if (failure !== undefined) throw new Error(`apt-get ${args[0]} failed (${failure}). ${MISSING_CHROMIUM}`);
  }
  const installed = find();
  if (!installed) throw new Error(MISSING_CHROMIUM);
  return installed;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const path = ensureChromium();
    if (!process.argv.includes("--quiet")) console.log(path);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
