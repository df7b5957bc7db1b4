/**
 * A small SVG of a soak: server RSS over time (every sample, restarts visible as drops),
 * Spool's V8 heap once a minute (direct server), the send p50/p99 per minute, and the CPU
 * of Spool and of the soak per minute (latency follows Spool's CPU), one polyline each,
 * each panel scaled to its own maximum.
 */
import type { SoakReport } from "./soak.ts";

const W = 900;
const H = 220;
const PAD = 50;

function polyline(points: Array<[number, number]>, xMax: number, yMax: number, top: number, colour: string): string {
  const xy = points.map(([x, y]) => `${(PAD + (x / (xMax || 1)) * (W - 2 * PAD)).toFixed(1)},${(top + H - (y / (yMax || 1)) * H).toFixed(1)}`);
  return `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${xy.join(" ")}"/>`;
}

function panel(title: string, top: number, lines: Array<{ label: string; colour: string; points: Array<[number, number]> }>, unit: string): string[] {
  const xMax = Math.max(1, ...lines.flatMap((l) => l.points.map(([x]) => x)));
  const yMax = Math.max(1, ...lines.flatMap((l) => l.points.map(([, y]) => y)));
  return [
    `<text x="${PAD}" y="${top - 12}" font-size="14">${title} (max ${Math.round(yMax)} ${unit})</text>`,
    `<rect x="${PAD}" y="${top}" width="${W - 2 * PAD}" height="${H}" fill="none" stroke="#ccc"/>`,
    ...lines.map((l) => polyline(l.points, xMax, yMax, top, l.colour)),
    ...lines.map((l, i) => `<text x="${W - PAD - 160}" y="${top + 16 + i * 16}" font-size="12" fill="${l.colour}">${l.label}</text>`),
  ];
}

export function soakChart(report: SoakReport): string {
  const minutes = (op: string, key: "p50" | "p99"): Array<[number, number]> =>
    report.latency.filter((r) => r.op === op && r[key] !== null).map((r) => [r.minute, r[key]!]);
  const body = [
    ...panel("server RSS over time (s)", 40, [
      { label: "all processes (MB)", colour: "#1f77b4", points: report.rss.map((s) => [s.atMs / 1000, s.totalBytes / 1e6]) },
      { label: "Spool's workerd (MB)", colour: "#ff7f0e", points: report.rss.map((s) => [s.atMs / 1000, s.spoolBytes / 1e6]) },
      {
        label: "Spool's V8 heap after GC (MB)", colour: "#9467bd",
        points: report.rss.filter((s) => s.heapUsedBytes !== undefined).map((s) => [s.atMs / 1000, s.heapUsedBytes! / 1e6]),
      },
    ], "MB"),
    ...panel("send latency per minute", 40 + H + 60, [
      { label: "send p50 (ms)", colour: "#2ca02c", points: minutes("send", "p50") },
      { label: "send p99 (ms)", colour: "#d62728", points: minutes("send", "p99") },
    ], "ms"),
    ...panel("CPU per minute, % of one core", 40 + 2 * (H + 60), [
      { label: "Spool's workerd", colour: "#ff7f0e", points: report.rssPerMinuteMb.map((r) => [r.minute, r.spoolCpuPct]) },
      { label: "the soak's clients", colour: "#7f7f7f", points: report.rssPerMinuteMb.map((r) => [r.minute, r.clientCpuPct]) },
    ], "%"),
  ];
  const height = 40 + 3 * H + 150;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${body.join("\n")}\n</svg>\n`;
}
