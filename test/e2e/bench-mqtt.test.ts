// The MQTT fan-out bench (bench/mqtt/main.ts) end to end with tiny settings: it starts its own
// Spool (Miniflare) and aedes, and writes JSON and Markdown with every row measured. No timing
// thresholds: figures are only checked to exist and be positive numbers.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROWS } from "../../bench/mqtt/messages.ts";
import type { MqttBenchResults } from "../../bench/mqtt/report.ts";
import { positive, runBench } from "./bench-run";

const out = mkdtempSync(join(tmpdir(), "spool-bench-mqtt-test-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("MQTT bench", () => {
  it("bench - a tiny MQTT fan-out run measures every row on Spool and aedes", async () => {
    const { code, output } = await runBench("bench/mqtt/main.ts", ["--sizes", "5", "--seconds", "1", "--runs", "1", "--out", out], 100_000);
    expect(code, output).toBe(0);

    const results = JSON.parse(readFileSync(join(out, "mqtt-fanout.json"), "utf8")) as MqttBenchResults;
    expect(results).toMatchObject({ seconds: 1, runs: 1, sizes: [5] });
    expect(results.summary.map((r) => r.row)).toEqual([...ROWS]);
    for (const row of results.summary) {
      expect(row.subscribers).toBe(5);
      expect(row.errors, `${row.row} errors\n${output}`).toBe(0);
      expect(positive(row.deliveriesPerSec), `${row.row} deliveries/s`).toBe(true);
      expect(positive(row.p50Ms), `${row.row} p50`).toBe(true);
      expect(positive(row.p99Ms), `${row.row} p99`).toBe(true);
      expect(row.p99Ms!).toBeGreaterThanOrEqual(row.p50Ms!);
      // CPU of the broker and of the load generator was sampled while measured.
      expect(positive(row.serverCores), `${row.row} broker cores`).toBe(true);
      expect(positive(row.generatorCores), `${row.row} generator cores`).toBe(true);
    }

    const md = readFileSync(join(out, "mqtt-fanout.md"), "utf8");
    for (const label of ["Spool MQTT QoS 0", "Spool MQTT QoS 1", "Spool WebSocket subscription", "aedes QoS 0", "aedes QoS 1"]) {
      expect(md).toContain(`| 5 | ${label} |`);
    }
  }, 120_000);
});
