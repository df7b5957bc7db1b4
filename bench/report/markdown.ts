/** The results as a Markdown page: one table of Spool vs baseline, the reference figures, notes. */
import type { BenchResults } from "../main.ts";
import type { RowSummary } from "../summary.ts";
import { costSection } from "./cost.ts";
import { latency, num, pct, times } from "./format.ts";

function ratioCell(row: RowSummary): string {
  if (row.ratio === null) return "–";
  return row.better === "higher" ? pct(row.ratio) : times(row.ratio);
}

function targetCell(row: RowSummary): string {
  if (!row.target) return "";
  const mark = row.met === null ? "" : row.met ? "met" : "**missed**";
  return `${row.target.text}: ${mark}`;
}

function cpuCell(row: RowSummary): string {
  if (!row.cpu) return "–";
  return `${num(row.cpu.serverCores)} / ${num(row.cpu.generatorCores)}`;
}

function table(rows: RowSummary[]): string[] {
  const out = [
    "| scenario | Spool | baseline | Spool vs baseline | p50 / p99 ms (Spool) | p50 / p99 ms (baseline) | cores: server / generator | target |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    const base = r.baselineFigure ? `${num(r.baselineFigure.value)} (${r.baseline})` : "—";
    const x = r.figure.extra ?? {};
    const extra = [
      x.perServerCore != null ? `; ${num(x.perServerCore)} per server core` : "",
      x.kibPerSubscriber != null ? `; ${num(x.kibPerSubscriber)} KiB per subscriber` : "",
      x.hibernatedMiB != null ? `; ${num(x.hibernatedMiB)} MiB after 30 s idle` : "",
    ].join("");
    out.push(
      `| ${r.title} | ${num(r.figure.value)} ${r.unit}${extra} | ${base} | ${ratioCell(r)} | ` +
        `${latency(r.figure.p50Ms, r.figure.p99Ms)} | ${r.baselineFigure ? latency(r.baselineFigure.p50Ms, r.baselineFigure.p99Ms) : "–"} | ` +
        `${cpuCell(r)} | ${targetCell(r)} |`,
    );
  }
  return out;
}

export function markdownReport(results: BenchResults): string {
  const m = results.machine;
  const timed = results.rows.filter((r) => r.kind !== "cost");
  const lines = [
    `# Spool bench — ${results.date.slice(0, 10)}`,
    "",
    `${results.mode === "full" ? "" : `**${results.mode === "quick" ? "Quick smoke" : "Profiled"} run — not for quoting.** `}` +
      `${results.runs} run(s), medians; ${results.phaseSeconds} s per measured phase after ${results.warmupSeconds} s warm-up. ` +
      `Server: ${results.server.kind === "miniflare" ? "the bench Worker under Miniflare's Node API, direct socket, no local tracing" : results.server.kind} ` +
      `(${results.server.processes.join(", ") || "?"}). Machine: ${m.cpus} × ${m.model}, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}. ` +
      `Code: ${results.source.commit}${results.source.workingTree ? " (working tree)" : ""}${results.source.patches.length ? ` + ${results.source.patches.join(", ")}` : ""}. ` +
      `Load average (1 min) before ${results.load.before[0]}, after ${results.load.after[0]}, highest seen ${results.load.max1m}.`,
    "",
    ...(timed.length > 0 ? [...table(timed), ""] : []),
    ...costSection(results.rows),
  ];
  const withNotes = results.rows.filter((r) => r.notes.length > 0 || r.errors > 0);
  for (const r of withNotes) {
    lines.push(`- ${r.id}: ${[r.errors > 0 ? `${r.errors} failed requests or frames` : "", ...r.notes].filter(Boolean).join("; ")}`);
  }
  if (withNotes.length > 0) lines.push("");
  if (results.reference.wranglerDev) {
    lines.push("Reference — the same Worker through `wrangler dev` (its proxy and local tracing), one run:", "");
    lines.push(...table(results.reference.wranglerDev), "");
  }
  for (const n of results.notes) lines.push(`- ${n}`);
  lines.push("", "Chart: [latest.svg](latest.svg). Raw figures per run: [latest.json](latest.json).", "");
  return lines.join("\n");
}
