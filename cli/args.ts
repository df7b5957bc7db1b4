/**
 * How a command is described (name, usage, options, help text) and how its arguments are
 * parsed and checked: node:util `parseArgs`, plus the few value types the commands share
 * (integers in a range, JSON bodies, `name=value` headers, `resource:action,action`
 * capabilities). Every mistake is a `UsageError`, which exits with code 2 and says how to
 * get help.
 */
import { parseArgs } from "node:util";
import type { Context } from "./context";

/** A mistake in the command line: exit code 2, the message and a pointer to `--help`. */
export class UsageError extends Error {
  constructor(message: string, readonly command?: string) {
    super(message);
    this.name = "UsageError";
  }
}

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** What the value looks like in help: `<s>`, `<k=v>`, … */
  value?: string;
  help: string;
}

export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

export interface CommandSpec {
  name: string;
  /** One line for `spool --help`. */
  summary: string;
  /** `<queue> [json|-]`: what follows the command name. */
  usage: string;
  /** Paragraphs for `spool <command> --help`. */
  description: string;
  options: Record<string, OptionSpec>;
  examples: string[];
  /** Positional arguments accepted: [min, max]. */
  args: [number, number];
  run(ctx: Context, args: string[], options: OptionValues): Promise<number | void>;
}

/** Options every command takes. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  url: { type: "string", value: "<url>", help: "server base URL (default: $SPOOL_URL, else http://127.0.0.1:8787)" },
  key: { type: "string", value: "<key>", help: "admin key or token (default: $SPOOL_KEY, else SPOOL_ADMIN_KEY from .dev.vars)" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

export interface Parsed {
  args: string[];
  options: OptionValues;
}

/** Parses `argv` (what follows the command name) against the command's options. */
export function parse(spec: CommandSpec, argv: string[]): Parsed {
  const all = { ...GLOBAL_OPTIONS, ...spec.options };
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries(all)) {
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs explains well ("Unknown option '--foo'"); drop its hint about "--" separators.
    const message = err instanceof Error ? err.message.replace(/\. To specify a positional argument.*$/s, "") : String(err);
    throw new UsageError(message, spec.name);
  }
  const values = parsed.values as OptionValues;
  if (values.help) return { args: parsed.positionals, options: values };
  const [min, max] = spec.args;
  if (parsed.positionals.length < min) throw new UsageError(`missing argument: spool ${spec.name} ${spec.usage}`, spec.name);
  if (parsed.positionals.length > max) throw new UsageError(`unexpected argument '${parsed.positionals[max]}'`, spec.name);
  return { args: parsed.positionals, options: values };
}

export function stringOption(options: OptionValues, name: string): string | undefined {
  const v = options[name];
  return typeof v === "string" ? v : undefined;
}

export function listOption(options: OptionValues, name: string): string[] {
  const v = options[name];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : typeof v === "string" ? [v] : [];
}

/** An integer option within [min, max], or `fallback` when absent. */
export function intOption(options: OptionValues, name: string, min: number, max: number, fallback?: number): number | undefined {
  const raw = stringOption(options, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not '${raw}'`);
  return n;
}

/** A JSON value given on the command line. */
export function jsonArgument(text: string, what = "message body"): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`the ${what} must be JSON, not '${text}' (a string is '"${text.replace(/'/g, "'\\''")}"' in quotes)`);
  }
}

/** `--header name=value`, repeatable. */
export function headersOption(options: OptionValues): Record<string, string> | undefined {
  const list = listOption(options, "header");
  if (list.length === 0) return undefined;
  const headers: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UsageError(`--header takes name=value, not '${item}'`);
    headers[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return headers;
}

/**
 * `--cap topics/chat.*:publish,subscribe`, repeatable, into the API's capabilities object:
 * `{"topics/chat.*": ["publish", "subscribe"]}`. The server validates names and actions.
 */
export function capabilitiesOption(options: OptionValues): Record<string, string[]> {
  const list = listOption(options, "cap");
  if (list.length === 0) throw new UsageError("give at least one --cap <queues|topics>/<name>:<action>[,<action>…]");
  const caps: Record<string, string[]> = {};
  for (const item of list) {
    const colon = item.lastIndexOf(":");
    const resource = item.slice(0, colon);
    const actions = item.slice(colon + 1).split(",").map((a) => a.trim()).filter(Boolean);
    if (colon <= 0 || actions.length === 0 || !/^(queues|topics)\//.test(resource)) {
      throw new UsageError(`--cap takes <queues|topics>/<name>:<action>[,<action>…], e.g. topics/chat:subscribe,publish — not '${item}'`);
    }
    caps[resource] = [...new Set([...(caps[resource] ?? []), ...actions])];
  }
  return caps;
}

/** `--from latest|earliest|<offset>`. */
export function startOption(options: OptionValues, fallback: "latest" | "earliest"): "latest" | "earliest" | number {
  const raw = stringOption(options, "from");
  if (raw === undefined) return fallback;
  if (raw === "latest" || raw === "earliest") return raw;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--from takes latest, earliest or an offset (0, 1, …), not '${raw}'`);
  return n;
}
