/**
 * Launches the headless Chromium every browser test uses: the one scripts/chromium.mjs
 * finds (CHROMIUM_PATH, the usual Linux and macOS places, PATH), driven by playwright-core
 * with an explicit executablePath — never a browser playwright would download. Without one,
 * the test fails with the sentence saying what to install.
 */
import { chromium, type Browser } from "playwright-core";
import { findChromium, MISSING_CHROMIUM } from "../../scripts/chromium.mjs";

/** Flags for a quiet, sandbox-free headless run in containers and CI. */
export const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
];

export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(MISSING_CHROMIUM);
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
}
