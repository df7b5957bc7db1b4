/**
 * Folds the runs of each row into one summary: medians of Spool's figures and of the
 * baseline's, the median of the per-run ratios (each ratio is taken within one run, never
 * across runs), whether the target is met, and the CPU each side used.
 */
import { median, ratio } from "./stats.ts";
import type { Figure, Row, RunOutcome } from "./scenarios/types.ts";

export interface CpuSummary {
  serverCores: number | null;
  generatorCores: number | null;
}

export interface RowSummary extends Row {
  figure: Figure;
  baselineFigure: Figure | null;
  /** Median over runs of (Spool / baseline) measured in the same run. */
  ratio: number | null;
  met: boolean | null;
  cpu: CpuSummary | null;
  baselineCpu: CpuSummary | null;
  errors: number;
  notes: string[];
  runs: RunOutcome[];
}

function medianFigure(figures: Figure[]): Figure {
  const extraKeys = [...new Set(figures.flatMap((f) => Object.keys(f.extra ?? {})))];
  return {
    value: median(figures.map((f) => f.value)),
    p50Ms: median(figures.map((f) => f.p50Ms)),
    p99Ms: median(figures.map((f) => f.p99Ms)),
    extra: Object.fromEntries(extraKeys.map((k) => [k, median(figures.map((f) => f.extra?.[k]))])),
  };
}

function medianCpu(windows: ({ serverCores: number; generatorCores: number } | null)[]): CpuSummary | null {
  const present = windows.filter((w) => w !== null);
  if (present.length === 0) return null;
  return { serverCores: median(present.map((w) => w.serverCores)), generatorCores: median(present.map((w) => w.generatorCores)) };
}

export function targetMet(row: Row, value: number | null, r: number | null): boolean | null {
  const t = row.target;
  if (!t) return null;
  if (t.ratio !== undefined) {
    if (r === null) return false;
    if (row.better === "higher" ? r < t.ratio : r > t.ratio) return false;
  }
  if (t.atLeast !== undefined && (value === null || value < t.atLeast)) return false;
  return true;
}

export function summarise(row: Row, runs: RunOutcome[]): RowSummary {
  const figure = medianFigure(runs.map((r) => r.figure));
  const baselines = runs.map((r) => r.baseline).filter((b): b is Figure => b !== null);
  const r = median(runs.map((run) => ratio(run.figure.value, run.baseline?.value)));
  return {
    ...row,
    figure,
    baselineFigure: baselines.length > 0 ? medianFigure(baselines) : null,
    ratio: r,
    met: targetMet(row, figure.value, r),
    cpu: medianCpu(runs.map((x) => x.cpu)),
    baselineCpu: medianCpu(runs.map((x) => x.baselineCpu)),
    errors: runs.reduce((n, x) => n + x.errors, 0),
    notes: [...new Set(runs.flatMap((x) => x.notes ?? []))],
    runs,
  };
}
