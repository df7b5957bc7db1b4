/**
 * The results as an SVG bar chart, written by hand (no browser, no chart library): one bar
 * per row, Spool's figure as a multiple of its same-run baseline, with the baseline at 100%
 * and each row's target marked.
 */
import type { BenchResults } from "../main.ts";
import type { RowSummary } from "../summary.ts";
import { num, pct, times } from "./format.ts";

const W = 960;
const LABEL_W = 330;
const BAR_W = 380;
const ROW_H = 26;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function color(row: RowSummary): string {
  if (row.met === null) return "#6b8fb3";
  return row.met ? "#3a9a5b" : "#d9822b";
}

function section(title: string, rows: RowSummary[], y0: number, scaleMax: number): { svg: string[]; height: number } {
  const svg: string[] = [];
  svg.push(`<text x="12" y="${y0 + 16}" font-weight="bold">${esc(title)}</text>`);
  const top = y0 + 28;
  const x0 = LABEL_W;
  const xOf = (r: number) => x0 + (Math.min(r, scaleMax) / scaleMax) * BAR_W;
  const bottom = top + rows.length * ROW_H;
  for (let g = 0; g <= scaleMax + 1e-9; g += scaleMax > 3 ? 1 : 0.5) {
    const x = xOf(g);
    svg.push(`<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${bottom}" stroke="${g === 1 ? "#333" : "#ddd"}" stroke-width="${g === 1 ? 1.5 : 1}"/>`);
    svg.push(`<text x="${x}" y="${bottom + 14}" font-size="11" text-anchor="middle" fill="#555">${g === 1 ? "baseline" : `${Math.round(g * 100)}%`}</text>`);
  }
  rows.forEach((row, i) => {
    const y = top + i * ROW_H;
    const r = row.ratio ?? 0;
    svg.push(`<text x="${x0 - 8}" y="${y + 16}" text-anchor="end">${esc(row.title)}</text>`);
    svg.push(`<rect x="${x0}" y="${y + 4}" width="${Math.max(1, xOf(r) - x0)}" height="${ROW_H - 8}" fill="${color(row)}"/>`);
    if (row.target?.ratio !== undefined) {
      const tx = xOf(row.target.ratio);
      svg.push(`<line x1="${tx}" y1="${y + 1}" x2="${tx}" y2="${y + ROW_H - 1}" stroke="#b00020" stroke-width="2" stroke-dasharray="3,2"/>`);
    }
    const shown = row.better === "higher" ? pct(row.ratio) : times(row.ratio);
    const abs = row.baselineFigure ? ` (${num(row.figure.value)} vs ${num(row.baselineFigure.value)} ${row.unit})` : "";
    svg.push(`<text x="${x0 + BAR_W + 8}" y="${y + 16}" font-size="12">${esc(`${shown}${abs}`)}</text>`);
  });
  return { svg, height: bottom + 24 - y0 };
}

export function svgChart(results: BenchResults): string {
  const timed = results.rows.filter((r) => r.kind !== "cost");
  const withRatio = timed.filter((r) => r.baselineFigure !== null);
  const higher = withRatio.filter((r) => r.better === "higher");
  const lower = withRatio.filter((r) => r.better === "lower");
  const absolute = timed.filter((r) => r.baselineFigure === null);
  const parts: string[] = [];
  let y = 40;
  if (higher.length > 0) {
    const max = Math.max(1.5, ...higher.map((r) => Math.ceil((r.ratio ?? 0) * 2) / 2));
    const s = section("Throughput: Spool as a share of its same-run baseline (higher is better)", higher, y, Math.min(max, 4));
    parts.push(...s.svg);
    y += s.height + 10;
  }
  if (lower.length > 0) {
    const max = Math.max(2.5, ...lower.map((r) => Math.ceil(r.ratio ?? 0)));
    const s = section("Latency and memory: Spool relative to its reference (lower is better)", lower, y, Math.min(max, 8));
    parts.push(...s.svg);
    y += s.height + 10;
  }
  for (const r of absolute) {
    const cores = r.figure.extra?.perServerCore != null ? `, ${num(r.figure.extra.perServerCore)} per server core` : "";
    parts.push(`<text x="12" y="${y + 14}">${esc(`${r.title}: ${num(r.figure.value)} ${r.unit}${cores}`)}</text>`);
    y += 20;
  }
  y += 8;
  const m = results.machine;
  const footer = `${results.date.slice(0, 10)} · ${results.mode} · ${results.runs} run(s), medians · ${m.cpus} × ${m.model} (shared with the load generator) · ` +
    `load ${results.load.before[0]} → ${results.load.after[0]} · dashed red: target`;
  parts.push(`<text x="12" y="${y + 10}" font-size="11" fill="#555">${esc(footer)}</text>`);
  const height = y + 24;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="24" font-size="16" font-weight="bold">Spool bench vs same-run baselines and a peer (partyserver)</text>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}
