/** Number formatting shared by the Markdown table and the chart. */
import { round } from "../stats.ts";

export function num(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const r = round(value)!;
  return Math.abs(r) >= 1000 ? r.toLocaleString("en-US") : String(r);
}

export function pct(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return `${Math.round(value * 100)}%`;
}

export function times(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return `${round(value)}×`;
}

export function latency(p50: number | null | undefined, p99: number | null | undefined): string {
  if ((p50 ?? null) === null && (p99 ?? null) === null) return "–";
  return `${num(p50)} / ${num(p99)}`;
}
