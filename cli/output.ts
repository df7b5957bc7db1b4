/**
 * Everything the CLI prints. Results go to stdout — one JSON object per line when stdout is
 * a pipe or a file, so scripts can read them line by line; a few commands print a readable
 * form on a terminal instead (`--json` keeps JSON). Diagnostics go to stderr as plain
 * sentences. Progress of long operations is drawn on stderr only when it is a terminal,
 * on one line that is cleared when done.
 */
import type { TopicMessage } from "../client/index";

export interface Stream {
  write(text: string): boolean;
  isTTY?: boolean;
}

/** Progress shown at most this often… */
const PROGRESS_INTERVAL_MS = 100;
/** …and only for operations that last longer than this. */
const PROGRESS_DELAY_MS = 500;

export class Output {
  readonly stdoutTty: boolean;
  readonly stderrTty: boolean;

  constructor(private readonly stdout: Stream, private readonly stderr: Stream, private readonly forceJson = false) {
    this.stdoutTty = stdout.isTTY === true;
    this.stderrTty = stderr.isTTY === true;
  }

  /** True when results should be drawn for a person rather than printed as JSON lines. */
  get human(): boolean {
    return this.stdoutTty && !this.forceJson;
  }

  withJson(forceJson: boolean): Output {
    return forceJson ? new Output(this.stdout, this.stderr, true) : this;
  }

  /** One JSON value on one line of stdout. */
  json(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** A line of stdout. */
  line(text: string): void {
    this.stdout.write(`${text}\n`);
  }

  /** A line of stderr, always (warnings, reconnects). */
  note(text: string): void {
    this.stderr.write(`${text}\n`);
  }

  /** A line of stderr for a person at a terminal; nothing when stderr is redirected. */
  tell(text: string): void {
    if (this.stderrTty) this.stderr.write(`${text}\n`);
  }

  /** A progress line on a terminal's stderr (a no-op elsewhere). */
  progress(): Progress {
    return new Progress(this.stderrTty ? this.stderr : undefined);
  }

  /** Rows as aligned columns (the first row is the header). */
  table(rows: string[][]): void {
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
    for (const row of rows) this.line(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd());
  }
}

export class Progress {
  private last = 0;
  private shown = false;
  private readonly started = Date.now();

  constructor(private readonly stderr: Stream | undefined) {}

  /** Redraws the line (throttled; nothing during the first PROGRESS_DELAY_MS, so quick operations stay quiet). */
  update(text: string): void {
    if (!this.stderr) return;
    const now = Date.now();
    if (now - this.started < PROGRESS_DELAY_MS || now - this.last < PROGRESS_INTERVAL_MS) return;
    this.last = now;
    this.shown = true;
    this.stderr.write(`\r\x1b[K${text}`);
  }

  /** Clears the line, then prints `summary` (if any) as a line of its own. */
  done(summary?: string): void {
    if (!this.stderr) return;
    if (this.shown) this.stderr.write("\r\x1b[K");
    this.shown = false;
    if (summary) this.stderr.write(`${summary}\n`);
  }
}

/** `0:2  13:05:12.870  key=k  {"text":"live"}  headers={…}`: one readable line per topic message. */
export function formatTopicMessage(m: TopicMessage): string {
  const time = new Date(m.timestamp);
  const clock = `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}.${String(time.getMilliseconds()).padStart(3, "0")}`;
  const parts = [`${m.partition}:${m.offset}`, clock];
  if (m.key !== null && m.key !== undefined) parts.push(`key=${m.key}`);
  parts.push(JSON.stringify(m.body));
  if (m.headers && Object.keys(m.headers).length > 0) parts.push(`headers=${JSON.stringify(m.headers)}`);
  return parts.join("  ");
}

/** 1234567 → "1,234,567". */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}
