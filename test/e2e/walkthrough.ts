/**
 * Runs the README's walkthrough as a person would: reads its ```sh blocks, runs each
 * command in one bash session (so `export`s and `TOKEN=$(…)` carry on), on a terminal (a
 * pseudo-terminal from util-linux `script`, as `spool` prints differently to a terminal),
 * and compares what it printed with what the README shows after `# ->`.
 *
 * How the README is read:
 *   - A command is a line, plus the lines after it while it ends in `\` or has an
 *     unclosed single quote. A `# -> ` line after it starts its expected output; the `#`
 *     lines indented by two or more spaces right after continue it. Other `#` lines are
 *     comments. A command with no `# ->` must print nothing.
 *   - In expected output, whitespace is optional; `...` and `…` stand for any text; a
 *     quoted string with `…` in it ("1.5f0c…") stands for any string and is remembered:
 *     where the same text appears in a later command, the value printed here is put in
 *     (what a person copies from their output); 13-digit numbers stand for any time in ms,
 *     clock times (13:05:11.034) for any clock time; a `(note)` after two spaces is ignored.
 *   - A block right after `<!-- walkthrough: second terminal -->` runs beside the others,
 *     like a second terminal; its expected output is checked when its section ends, then
 *     it gets Ctrl-C.
 *   - The server's URL and admin key replace `http://127.0.0.1:8787` and
 *     `<admin key from npm start>` in commands.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";

export interface Step {
  command: string;
  /** Expected output lines (without the `# -> ` / `#    ` prefixes); empty: prints nothing. */
  expected: string[];
}

export interface Block {
  steps: Step[];
  secondTerminal: boolean;
}

export interface Section {
  title: string;
  blocks: Block[];
}

const SECOND_TERMINAL = "<!-- walkthrough: second terminal -->";

/** The `## Walkthrough` section of the README, split by `### ` headings (the text before the first is "setup"). */
export function readWalkthrough(readme: string): Section[] {
  const start = readme.search(/^## Walkthrough/m);
  if (start < 0) throw new Error("README has no '## Walkthrough' section");
  const rest = readme.slice(start + 3);
  const end = rest.search(/^## /m);
  const text = rest.slice(0, end < 0 ? undefined : end);
  return text.split(/^### /m).map((part, i) => ({
    title: i === 0 ? "setup" : part.slice(0, part.indexOf("\n")).trim(),
    blocks: [...part.matchAll(/(<!-- walkthrough: second terminal -->\s*\n)?```sh\n([\s\S]*?)```/g)].map((m) => ({
      secondTerminal: m[1]?.includes(SECOND_TERMINAL) ?? false,
      steps: parseBlock(m[2]!),
    })),
  }));
}

export function parseBlock(text: string): Step[] {
  const steps: Step[] = [];
  let open: string[] | undefined; // lines of a command still being continued
  let inExpected = false;
  for (const line of text.split("\n")) {
    if (open) {
      open.push(line);
      if (!continues(open.join("\n"))) {
        steps.push({ command: open.join("\n"), expected: [] });
        open = undefined;
      }
      continue;
    }
    const expectation = /^\s*# -> ?(.*)$/.exec(line);
    const continuation = /^\s*#\s{2,}(\S.*)$/.exec(line);
    if (expectation && steps.length > 0) {
      steps.at(-1)!.expected.push(expectation[1]!);
      inExpected = true;
    } else if (continuation && inExpected) {
      steps.at(-1)!.expected.push(continuation[1]!);
    } else if (/^\s*(#|$)/.test(line)) {
      inExpected = false;
    } else {
      inExpected = false;
      if (continues(line)) open = [line];
      else steps.push({ command: line, expected: [] });
    }
  }
  if (open) throw new Error(`unfinished command in the README:\n${open.join("\n")}`);
  return steps;
}

/** True while a command goes on to the next line: a trailing `\` or an open single quote. */
function continues(text: string): boolean {
  return /\\$/.test(text) || (text.match(/'/g) ?? []).length % 2 === 1;
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * What a terminal screen shows once the output is done: carriage returns and cursor moves
 * to a column overwrite, erase-line sequences erase (npm's spinner, spool's progress line),
 * colours vanish. Then, for comparing: lines trimmed, blank lines dropped, joined.
 */
export function normalise(output: string): string {
  return output.split("\n").map(screenLine).map((l) => l.trim()).filter(Boolean).join("");
}

function screenLine(raw: string): string {
  const cells: string[] = [];
  let cursor = 0;
  for (const m of raw.matchAll(/\x1b\[([0-9;?]*)([A-Za-z])|\r|[^\x1b\r]/gu)) {
    if (m[0] === "\r") cursor = 0;
    else if (m[2] === "G") cursor = Math.max(0, Number(m[1] || "1") - 1);
    else if (m[2] === "K") cells.length = Math.min(cells.length, cursor);
    else if (m[2] === undefined) cells[cursor++] = m[0];
  }
  return Array.from(cells, (c) => c ?? " ").join("");
}

export interface Pattern {
  regex: RegExp;
  /** For each capture group, the sample text it stands for ("1.5f0c…" with its quotes). */
  samples: string[];
}

/** The expected output as a regular expression (see the header for the placeholders). */
export function pattern(expected: string[]): Pattern {
  const text = expected.map((l) => l.replace(/\s{2,}\([^()]*\)\s*$/, "").trim()).join("");
  const samples: string[] = [];
  const token = /"[^"]*…[^"]*"|\.\.\.|…|\b\d{13}\b|\b\d\d:\d\d:\d\d(?:\.\d{3})?\b|\s+/g;
  let source = "";
  let last = 0;
  for (const m of text.matchAll(token)) {
    source += escapeRegExp(text.slice(last, m.index));
    const t = m[0];
    if (t.startsWith('"')) {
      samples.push(t);
      source += '("[^"]*")';
    } else if (t === "..." || t === "…") source += "[\\s\\S]*?";
    else if (/^\s+$/.test(t)) source += "\\s*";
    else if (t.includes(":")) source += "\\d\\d:\\d\\d:\\d\\d(?:\\.\\d{3})?";
    else source += "\\d{13}";
    last = m.index + t.length;
  }
  source += escapeRegExp(text.slice(last));
  return { regex: new RegExp(`^${source}$`), samples };
}

/** Matches output against the expectation; remembers captured samples in `values`. */
export function matches(output: string, expected: string[], values: Map<string, string>): boolean {
  const { regex, samples } = pattern(expected);
  const m = regex.exec(normalise(output));
  if (!m) return false;
  samples.forEach((sample, i) => values.set(sample, m[i + 1]!));
  return true;
}

/** The command with remembered values and the server's URL and key put in. */
export function substitute(command: string, values: Map<string, string>, server: { url: string; key: string }): string {
  let out = command.replaceAll("http://127.0.0.1:8787", server.url).replaceAll("<admin key from npm start>", server.key);
  for (const [sample, value] of values) out = out.replaceAll(sample, value);
  return out;
}

const MARK = "\x1eSTEP-DONE\x1e";

/**
 * One bash session. Assignments (`X=…`, `export X=…`) run in it directly, so they last;
 * every other command runs on a pseudo-terminal (`script`), whose output — stdout and
 * stderr together, as on a screen — is what gets compared. `set -a` exports every
 * variable, so commands on the terminal and the second terminal see them.
 */
export class Shell {
  private readonly bash: ChildProcessWithoutNullStreams;
  private buffer = "";
  private errors = "";
  private waiting: (() => void) | undefined;

  constructor(cwd: string, env: NodeJS.ProcessEnv) {
    this.bash = spawn("bash", ["--noprofile", "--norc"], { cwd, env: { ...env, SHELL: "/bin/bash" } });
    this.bash.stdout.on("data", (d: Buffer) => {
      this.buffer += d.toString();
      this.waiting?.();
    });
    this.bash.stderr.on("data", (d: Buffer) => (this.errors += d.toString()));
    this.bash.stdin.write("set -a\n");
  }

  /** Runs one command; resolves with what it printed and its exit status. */
  async run(command: string, timeoutMs = 60_000): Promise<{ output: string; status: number }> {
    const direct = /^(export\s+)?[A-Za-z_][A-Za-z0-9_]*=/.test(command);
    return this.exec(command, direct, timeoutMs);
  }

  private async exec(command: string, direct: boolean, timeoutMs: number): Promise<{ output: string; status: number }> {
    const script = direct
      ? `${command}\n`
      : `__cmd=$(cat <<'__SPOOL_WALKTHROUGH__'\n${command}\n__SPOOL_WALKTHROUGH__\n)\nscript -qefc "$__cmd" /dev/null < /dev/null\n`;
    this.buffer = "";
    this.errors = "";
    this.bash.stdin.write(`${script}printf '\\n${MARK}%s\\n' "$?"\n`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.buffer.indexOf(MARK);
      if (at >= 0 && this.buffer.indexOf("\n", at) > 0) {
        const status = Number(this.buffer.slice(at + MARK.length, this.buffer.indexOf("\n", at)));
        return { output: this.buffer.slice(0, at).replace(/\n$/, "") + this.errors, status };
      }
      if (Date.now() > deadline) throw new Error(`command did not finish within ${timeoutMs / 1000} s:\n${command}`);
      await new Promise<void>((r) => {
        this.waiting = r;
        setTimeout(r, 200);
      });
    }
  }

  /** The session's environment now (what a second terminal with the same exports has). */
  async env(): Promise<NodeJS.ProcessEnv> {
    const { output } = await this.exec("env -0 | base64 -w0", true, 10_000);
    const pairs = Buffer.from(output.trim(), "base64").toString().split("\0").filter(Boolean);
    return Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
  }

  close(): void {
    this.bash.stdin.end();
    this.bash.kill();
  }
}

/** A command running beside the session on its own terminal, stopped with Ctrl-C. */
export class SecondTerminal {
  private readonly child: ChildProcessWithoutNullStreams;
  output = "";
  readonly exited: Promise<number | null>;

  constructor(command: string, cwd: string, env: NodeJS.ProcessEnv) {
    this.child = spawn("script", ["-qefc", command, "/dev/null"], { cwd, env: { ...env, SHELL: "/bin/bash" } });
    this.child.stdout.on("data", (d: Buffer) => (this.output += d.toString()));
    this.child.stderr.on("data", (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((r) => this.child.once("exit", (code) => r(code)));
  }

  /** Waits until the output matches (bounded), returning whether it did. */
  async waitFor(expected: string[], values: Map<string, string>, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (matches(this.output, expected, values)) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return matches(this.output, expected, values);
  }

  /** Ctrl-C on its terminal; SIGKILL if it has not stopped within 5 s. */
  async interrupt(): Promise<number | null> {
    this.child.stdin.write("\x03");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
