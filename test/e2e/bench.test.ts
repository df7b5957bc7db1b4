// The bench harness itself: a --quick run of one scenario writes JSON, Markdown and SVG
// whose rows carry Spool's figure next to a baseline measured in the same run. No timing
// thresholds: figures are only checked to exist and be positive numbers.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { positive, runBench } from "./bench-run";

const out = mkdtempSync(join(tmpdir(), "spool-bench-test-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("bench harness", () => {
  it("bench - quick publish run reports Spool and its same-run baseline in JSON, Markdown and SVG", async () => {
    const { code, output } = await runBench("bench/run.mjs", ["--quick", "--scenario", "publish-1", "--seconds", "1", "--out", out], 150_000);
    expect(code, output).toBe(0);

    const results = JSON.parse(readFileSync(join(out, "latest.json"), "utf8"));
    expect(results).toMatchObject({ schema: 1, mode: "quick", runs: 1, server: { kind: "miniflare" } });
    expect(results.machine.cpus).toBeGreaterThan(0);
    expect(results.load.before).toHaveLength(3);
    expect(results.rows.map((r: { id: string }) => r.id)).toEqual(["publish-1"]);

    const row = results.rows[0];
    expect(row.baseline).toBe("route -> DO RPC doing one INSERT");
    expect(positive(row.baselineFigure.value), "baseline msgs/s").toBe(true);
    expect(positive(row.baselineFigure.p99Ms), "baseline p99").toBe(true);
    expect(positive(row.figure.value), `Spool msgs/s (notes: ${row.notes})`).toBe(true);
    expect(positive(row.figure.p50Ms)).toBe(true);
    expect(row.ratio).toBeCloseTo(row.runs[0].figure.value / row.runs[0].baseline.value, 6);
    expect(row.errors).toBe(0);
    expect(typeof row.met).toBe("boolean");
    // CPU of both sides was sampled from /proc during the measured window.
    expect(positive(row.cpu.serverCores)).toBe(true);
    expect(positive(row.cpu.generatorCores)).toBe(true);
    expect(positive(row.baselineCpu.serverCores)).toBe(true);

    const md = readFileSync(join(out, "latest.md"), "utf8");
    expect(md).toContain("| Publish, 1 msg/request, 32 connections |");
    expect(md).toContain("route -> DO RPC doing one INSERT");
    const svg = readFileSync(join(out, "latest.svg"), "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("Publish, 1 msg/request, 32 connections");
  }, 180_000);

  it("bench - unknown option is refused with a usage error and writes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spool-bench-bad-"));
    try {
      const { code, output } = await runBench("bench/run.mjs", ["--no-such-option", "--out", dir], 30_000);
      expect(code).not.toBe(0);
      expect(output).toMatch(/no-such-option/);
      expect(() => readFileSync(join(dir, "latest.json"))).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
