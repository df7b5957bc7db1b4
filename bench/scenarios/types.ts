/**
 * The shapes every scenario shares: what one run of a row measured (Spool's figure and its
 * baseline from the same run), what the row promises (target), and the context a run gets.
 */
import type { CpuWindow } from "../generator.ts";
import type { BenchServer } from "../server.ts";

/** One measurement: the primary number plus latency percentiles and extras where they apply. */
export interface Figure {
  value: number | null;
  p50Ms?: number | null;
  p99Ms?: number | null;
  extra?: Record<string, number | null>;
}

/** What one run of one row produced. */
export interface RunOutcome {
  figure: Figure;
  baseline: Figure | null;
  cpu: CpuWindow | null;
  baselineCpu: CpuWindow | null;
  /** Failed requests (non-2xx, socket errors, missing frames) during the measured windows. */
  errors: number;
  notes?: string[];
}

export interface Target {
  /** Spool / baseline must be >= this (higher is better) or <= it (lower is better). */
  ratio?: number;
  /** Spool's primary value must be >= this. */
  atLeast?: number;
  text: string;
}

/** A row of the results table. */
export interface Row {
  id: string;
  title: string;
  unit: string;
  better: "higher" | "lower";
  /** What the baseline is, or null when the row has none. */
  baseline: string | null;
  target?: Target;
  /** "cost": a cost-per-message row (counted, not timed), reported in its own table. */
  kind?: "cost";
}

export interface RunContext {
  server: BenchServer;
  quick: boolean;
  /** Measured seconds per phase, and warm-up seconds before each. */
  seconds: number;
  warmupSeconds: number;
  /** Alternates between runs so drift on a shared machine does not favour one side. */
  baselineFirst: boolean;
  /** A fresh object name for this run. */
  name(prefix: string): string;
  log(line: string): void;
}

/** A set of rows measured together (they share setup, such as a filled queue). */
export interface Group {
  id: string;
  rows: Row[];
  /** Whether the group runs in `--quick` mode unless asked for by name. */
  quick: boolean;
  run(ctx: RunContext, rows: Row[]): Promise<Record<string, RunOutcome>>;
}
