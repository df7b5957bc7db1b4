/**
 * `spool`: the command line for a Spool server, built on the SDK in client/. This module
 * picks the command, prints help, and turns every outcome into an exit code scripts can
 * rely on (EXIT below) with one plain sentence on stderr for every failure.
 * cli/spool.mjs bundles and runs it; `main` returns the exit code.
 */
import { ConnectionError, SpoolError } from "../client/index";
import { GLOBAL_OPTIONS, parse, UsageError, type CommandSpec, type OptionSpec, type OptionValues } from "./args";
import { info, keys, ls, token } from "./admin";
import { createContext, resolveTarget } from "./context";
import { Output } from "./output";
import { publish, read, tail } from "./topics";
import { purge, receive, redrive, send } from "./queues";

/** Exit codes. */
export const EXIT = {
  OK: 0,
  /** The server answered with an error (its code and message are on stderr). */
  REFUSED: 1,
  /** The command line is wrong. */
  USAGE: 2,
  /** The server could not be reached. */
  UNREACHABLE: 3,
  /** Stopped by Ctrl-C (SIGINT) or SIGTERM. */
  INTERRUPTED: 130,
} as const;

const COMMANDS: CommandSpec[] = [send, receive, purge, redrive, publish, tail, read, ls, info, token, keys];

export interface MainOptions {
  version: string;
}

export async function main(argv: string[], { version }: MainOptions): Promise<number> {
  const out = new Output(process.stdout, process.stderr);
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(EXIT.OK); // `spool read … | head`: the reader has enough
  });
  let globals: OptionValues;
  let name: string | undefined;
  let rest: string[];
  try {
    ({ globals, name, rest } = leadingOptions(argv));
  } catch (err) {
    out.note(`spool: ${err instanceof Error ? err.message : String(err)} (spool --help)`);
    return EXIT.USAGE;
  }
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const topic = name === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    out.line(topic ? commandHelp(topic) : overview());
    return EXIT.OK;
  }
  if (name === "--version" || name === "-v") {
    out.line(version);
    return EXIT.OK;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    out.note(`spool: unknown command '${name}'. Commands: ${COMMANDS.map((c) => c.name).join(", ")} (spool --help)`);
    return EXIT.USAGE;
  }

  const stop = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    // The first Ctrl-C ends streams and requests cleanly; a second one does not wait.
    if (++interrupts > 1) process.exit(EXIT.INTERRUPTED);
    stop.abort(new Error("interrupted"));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  let ctx;
  try {
    const { args, options } = parse(command, rest);
    if (options.help) {
      out.line(commandHelp(command));
      return EXIT.OK;
    }
    // `publish --key` is the message key; there the credential comes before the command.
    const credential = command.options.key ? globals.key : (options.key ?? globals.key);
    ctx = createContext(resolveTarget({ url: options.url ?? globals.url, key: credential }), out, stop.signal);
    const code = await command.run(ctx, args, options);
    return stop.signal.aborted ? EXIT.INTERRUPTED : (code ?? EXIT.OK);
  } catch (err) {
    if (stop.signal.aborted) return EXIT.INTERRUPTED;
    return report(err, out, command, ctx?.url);
  } finally {
    await ctx?.spool.close();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/**
 * `--url`, `--key`, `--help` and `--version` before the command name apply to any command
 * (`spool --key <k> publish chat … --key customer-1`); the first other word is the command.
 */
function leadingOptions(argv: string[]): { globals: OptionValues; name: string | undefined; rest: string[] } {
  const globals: OptionValues = {};
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--(url|key)(?:=(.*))?$/.exec(arg);
    if (!m) break;
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${m[1]} needs a value`);
    globals[m[1]!] = value;
  }
  return { globals, name: argv[i], rest: argv.slice(i + 1) };
}

/** One sentence on stderr per failure, and its exit code. */
function report(err: unknown, out: Output, command: CommandSpec, url: string | undefined): number {
  if (err instanceof UsageError) {
    out.note(`spool ${command.name}: ${err.message} (spool ${command.name} --help)`);
    return EXIT.USAGE;
  }
  if (err instanceof ConnectionError) {
    const cause = rootCause(err);
    out.note(`spool: cannot reach ${url}${cause ? ` (${cause})` : ""}. Is the server running? Start one with \`npm start\`, or point --url / SPOOL_URL at it.`);
    return EXIT.UNREACHABLE;
  }
  if (err instanceof SpoolError) {
    const hint = err.code === "UNAUTHORIZED" ? " Check --key / SPOOL_KEY (the admin key is in .dev.vars)." : "";
    out.note(`spool: ${err.code}: ${err.message}${hint}`);
    return EXIT.REFUSED;
  }
  out.note(`spool: ${err instanceof Error ? err.message : String(err)}`);
  return EXIT.REFUSED;
}

/** The innermost cause of a network failure: "connect ECONNREFUSED 127.0.0.1:8787". */
function rootCause(err: unknown): string | undefined {
  let e: unknown = err;
  while (e instanceof Error && e.cause !== undefined) e = e.cause;
  return e instanceof Error && e !== err ? e.message : undefined;
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length + c.usage.length + 1));
  return [
    "spool: the command line for a Spool server",
    "",
    "usage: spool [--url <url>] [--key <key>] <command> [arguments]",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${`${c.name} ${c.usage}`.padEnd(width)}  ${c.summary}`),
    "",
    "The server and key: --url/--key, else SPOOL_URL/SPOOL_KEY, else http://127.0.0.1:8787 with the",
    "admin key `npm start` wrote to .dev.vars. Results go to stdout (JSON lines when piped), messages to stderr.",
    "Exit codes: 0 done, 1 the server refused (its error code is on stderr), 2 wrong command line,",
    "3 server unreachable, 130 interrupted.",
    "",
    "spool <command> --help shows a command's options.",
  ].join("\n");
}

function commandHelp(c: CommandSpec): string {
  const lines = [`usage: spool ${c.name} ${c.usage}`.trimEnd(), "", ...wrap(c.description, 92), "", "options:"];
  const globals = Object.entries(GLOBAL_OPTIONS).filter(([n]) => !(n in c.options));
  const all: [string, OptionSpec][] = [...Object.entries(c.options), ...globals];
  const flag = ([n, o]: [string, OptionSpec]) => `${o.short ? `-${o.short}, ` : ""}--${n}${o.value ? ` ${o.value}` : ""}`;
  const width = Math.max(...all.map((e) => flag(e).length));
  for (const entry of all) lines.push(`  ${flag(entry).padEnd(width)}  ${entry[1].help}`);
  if (c.options.key) lines.push("", "The credential goes before the command here: spool --key <admin key or token> " + c.name + " … (or SPOOL_KEY).");
  lines.push("", "examples:", ...c.examples.map((e) => `  ${e}`));
  return lines.join("\n");
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}
