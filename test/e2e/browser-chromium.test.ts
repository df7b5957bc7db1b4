/**
 * How the browser tests find their Chromium (scripts/chromium.mjs, run by `npm test` first):
 * CHROMIUM_PATH, then the usual places, then PATH; as root on Debian, apt-get install
 * chromium; otherwise one sentence saying what to install. Every branch is walked with
 * stand-ins, so nothing is installed or removed on this machine.
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ensureChromium, findChromium, mayInstallWithApt, MISSING_CHROMIUM } from "../../scripts/chromium.mjs";
import { ROOT } from "./cli-support";

const DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n';
const UBUNTU = "NAME=Ubuntu\nID=ubuntu\nID_LIKE=debian\n";

function fakeBrowser(name = "chromium"): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), "spool-chromium-"));
  const path = join(dir, name);
  writeFileSync(path, "#!/bin/sh\n");
  chmodSync(path, 0o755);
  return { dir, path };
}

describe("finding Chromium", () => {
  it("chromium - CHROMIUM_PATH wins; one that is not an executable is an error, not a silent fallback", () => {
    const { path } = fakeBrowser();
    expect(findChromium({ env: { CHROMIUM_PATH: path }, platform: "linux" })).toBe(path);
    expect(() => findChromium({ env: { CHROMIUM_PATH: "/nowhere/chromium" }, platform: "linux" })).toThrow("CHROMIUM_PATH is set to /nowhere/chromium");
  });

  it("chromium - the usual Linux and macOS places, then PATH", () => {
    const seen: string[] = [];
    const only = (wanted: string) => (p: string) => (seen.push(p), p === wanted);
    expect(findChromium({ env: {}, platform: "linux", executable: only("/usr/bin/chromium-browser") })).toBe("/usr/bin/chromium-browser");
    expect(findChromium({ env: {}, platform: "darwin", executable: only("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome") }))
      .toBe("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome");
    const { dir, path } = fakeBrowser("google-chrome");
    expect(findChromium({ env: { PATH: `/nothing:${dir}` }, platform: "linux", executable: (p) => p === path })).toBe(path);
    expect(findChromium({ env: { PATH: "/nothing" }, platform: "linux", executable: () => false })).toBeUndefined();
  });

  it("chromium - apt-get only as root on Debian", () => {
    expect(mayInstallWithApt({ platform: "linux", uid: 0, osRelease: DEBIAN })).toBe(existsSync("/usr/bin/apt-get"));
    expect(mayInstallWithApt({ platform: "linux", uid: 1000, osRelease: DEBIAN })).toBe(false);
    expect(mayInstallWithApt({ platform: "linux", uid: 0, osRelease: UBUNTU })).toBe(false);
    expect(mayInstallWithApt({ platform: "darwin", uid: 0, osRelease: "" })).toBe(false);
  });

  it("chromium - none found and allowed: apt-get update, install chromium, then use it", () => {
    const calls: string[][] = [];
    let installed = false;
    const path = ensureChromium({
      log: () => {},
      find: () => (installed ? "/usr/bin/chromium" : undefined),
      mayInstall: () => true,
      apt: (args) => {
        calls.push(args);
        if (args[0] === "install") installed = true;
        return undefined;
      },
    });
    expect(path).toBe("/usr/bin/chromium");
    expect(calls).toEqual([["update", "-qq"], ["install", "-y", "-qq", "chromium"]]);
  });

  it("chromium - none found and not allowed, or apt-get failing: one sentence saying what to install", () => {
    expect(() => ensureChromium({ find: () => undefined, mayInstall: () => false, apt: () => "never called" })).toThrow(MISSING_CHROMIUM);
    expect(() => ensureChromium({ log: () => {}, find: () => undefined, mayInstall: () => true, apt: () => "Could not resolve 'deb.debian.org'" }))
      .toThrow(`apt-get update failed (Could not resolve 'deb.debian.org'). ${MISSING_CHROMIUM}`);
    expect(MISSING_CHROMIUM.split(". ").length).toBe(1);
  });

  it("chromium - `node scripts/chromium.mjs` prints the path, or exits 1 with the sentence", async () => {
    const { path } = fakeBrowser();
    const run = promisify(execFile);
    const ok = await run(process.execPath, ["scripts/chromium.mjs"], { cwd: ROOT, env: { ...process.env, CHROMIUM_PATH: path } });
    expect(ok.stdout.trim()).toBe(path);
    const failed = await run(process.execPath, ["scripts/chromium.mjs"], { cwd: ROOT, env: { ...process.env, CHROMIUM_PATH: "/nowhere/chromium" } }).catch((e: { code: number; stderr: string }) => e);
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stderr: string }).stderr.trim().split("\n")).toHaveLength(1);
  });
});

