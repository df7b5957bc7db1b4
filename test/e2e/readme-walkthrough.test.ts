/**
 * The README's walkthrough runs as written: every ```sh block of its "## Walkthrough"
 * section, in order, in one bash session on a terminal, against a fresh local server,
 * with the output of every command compared with what the README shows (walkthrough.ts
 * says how placeholders work). `npx` and `node` are the machine's own, as a newcomer's
 * would be (node_modules/.bin is taken off PATH), so `npx spool` runs as it does for them.
 */
import { readFileSync } from "node:fs";
import { delimiter, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HAS_PTY } from "./cli-support";
import { startServer, type LocalServer } from "./server";
import { matches, normalise, readWalkthrough, SecondTerminal, Shell, substitute, type Step } from "./walkthrough";

const ROOT = resolve(import.meta.dirname, "../..");
const sections = readWalkthrough(readFileSync(resolve(ROOT, "README.md"), "utf8"));
/** Exit status of curl when --max-time ends a stream, as the SSE examples do on purpose. */
const CURL_TIMED_OUT = 28;

let server: LocalServer;
let shell: Shell;
const values = new Map<string, string>();

/** PATH without node_modules/.bin entries, when the machine has its own npx. */
function newcomerPath(): string {
  const all = (process.env.PATH ?? "").split(delimiter);
  const own = all.filter((dir) => !dir.includes(`node_modules/.bin`) && !dir.includes("node-gyp-bin"));
  const hasNpx = own.some((dir) => {
    try {
      readFileSync(resolve(dir, "npx"));
      return true;
    } catch {
      return false;
    }
  });
  return (hasNpx ? own : all).join(delimiter);
}

beforeAll(async () => {
  if (!HAS_PTY) return;
  server = await startServer();
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: newcomerPath(), NO_COLOR: "1" };
  for (const name of ["SPOOL_URL", "SPOOL_KEY", "npm_config_loglevel"]) delete env[name];
  shell = new Shell(ROOT, env);
}, 120_000);

afterAll(async () => {
  shell?.close();
  await server?.stop();
});

async function runStep(step: Step): Promise<void> {
  const command = substitute(step.command, values, { url: server.url, key: server.adminKey });
  const { output, status } = await shell.run(command);
  const shown = step.expected.length > 0 ? step.expected.join("\n") : "(nothing)";
  const ok = step.expected.length === 0 ? normalise(output) === "" : matches(output, step.expected, values);
  expect(ok, `README: ${step.command}\nshows:\n${shown}\nbut printed:\n${output}`).toBe(true);
  const expectedStatus = /--max-time/.test(command) ? [0, CURL_TIMED_OUT] : [0];
  expect(expectedStatus, `exit status of: ${step.command}\n${output}`).toContain(status);
}

// A person's terminal is a pseudo-terminal here: util-linux `script` (every Linux CI has it).
describe.skipIf(!HAS_PTY)("README walkthrough", () => {
  it("walkthrough - the README has the sections this test runs", () => {
    expect(sections.map((s) => s.title).slice(0, 1)).toEqual(["setup"]);
    expect(sections.length).toBeGreaterThanOrEqual(5);
    for (const s of sections) expect(s.blocks.length, `"${s.title}" has command blocks`).toBeGreaterThan(0);
  });

  for (const section of sections) {
    it(`walkthrough - ${section.title}`, async () => {
      const beside: { terminal: SecondTerminal; step: Step }[] = [];
      try {
        for (const block of section.blocks) {
          if (block.secondTerminal) {
            expect(block.steps, "a second-terminal block holds one command").toHaveLength(1);
            const step = block.steps[0]!;
            const command = substitute(step.command, values, { url: server.url, key: server.adminKey });
            beside.push({ terminal: new SecondTerminal(command, ROOT, await shell.env()), step });
            continue;
          }
          for (const step of block.steps) await runStep(step);
        }
        for (const { terminal, step } of beside) {
          const ok = await terminal.waitFor(step.expected, values, 15_000);
          expect(ok, `README (second terminal): ${step.command}\nshows:\n${step.expected.join("\n")}\nbut printed:\n${terminal.output}`).toBe(true);
        }
      } finally {
        for (const { terminal } of beside) await terminal.interrupt();
      }
    }, 120_000);
  }
});
