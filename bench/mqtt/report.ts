/**
 * The MQTT bench's results file and its Markdown table: medians per size and row, with the
 * ratios the issue asks for (each Spool row against aedes at the same QoS and size, and
 * Spool's MQTT rows against Spool's own WebSocket subscription) and the CPU each side used,
 * so a reader can tell whether the broker or the load generator was the bottleneck.
 */
import { ratio } from "../stats.ts";
import type { FanoutResult, RowKind } from "./messages.ts";

export interface Row extends FanoutResult {
  /** Run number, -1 for a median. */
  run: number;
  /** Cores the broker (workerd, or the aedes process) and the load generator used while measured. */
  serverCores: number | null;
  generatorCores: number | null;
}

export interface MqttBenchResults {
  date: string;
  seconds: number;
  warmupSeconds: number;
  runs: number;
  window: number;
  sizes: number[];
  machine: { cpus: number; model: string; memoryGiB: number };
  load: { before: number[]; after: number[] };
  summary: Row[];
  rows: Row[];
}

const LABELS: Record<RowKind, string> = {
  "spool-mqtt-qos0": "Spool MQTT QoS 0",
  "spool-mqtt-qos1": "Spool MQTT QoS 1",
  "spool-ws": "Spool WebSocket subscription",
  "aedes-qos0": "aedes QoS 0",
  "aedes-qos1": "aedes QoS 1",
};

/** The aedes row a Spool row is compared with: same QoS; the WebSocket subscription is at-least-once, like QoS 1. */
const AEDES_PEER: Partial<Record<RowKind, RowKind>> = {
  "spool-mqtt-qos0": "aedes-qos0", "spool-mqtt-qos1": "aedes-qos1", "spool-ws": "aedes-qos1",
};

const fmt = (v: number | null, digits = 0) =>
  v === null ? "–" : v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const times = (v: number | null) => (v === null ? "" : `${v.toFixed(2)}×`);

export function markdown(results: MqttBenchResults): string {
  const find = (n: number, kind: RowKind | undefined) => results.summary.find((r) => r.subscribers === n && r.row === kind);
  const lines = results.summary.map((r) => {
    const aedes = find(r.subscribers, AEDES_PEER[r.row]);
    const ws = r.row.startsWith("spool-mqtt") ? find(r.subscribers, "spool-ws") : undefined;
    const vsAedes = aedes ? `${times(ratio(r.deliveriesPerSec, aedes.deliveriesPerSec))} / ${times(ratio(r.p50Ms, aedes.p50Ms))}` : "";
    const vsWs = ws ? `${times(ratio(r.deliveriesPerSec, ws.deliveriesPerSec))} / ${times(ratio(r.p50Ms, ws.p50Ms))}` : "";
    return `| ${r.subscribers.toLocaleString("en-US")} | ${LABELS[r.row]} | ${fmt(r.deliveriesPerSec)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ` +
      `${vsAedes} | ${vsWs} | ${r.errors} | ${r.missingDeliveries} | ${fmt(r.serverCores, 2)} | ${fmt(r.generatorCores, 2)} |`;
  });
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");
  return [
    `# MQTT fan-out (${results.date.slice(0, 10)}, ${results.machine.cpus} cores, ${results.seconds} s per phase after ${results.warmupSeconds} s warm-up, ` +
      `median of ${results.runs} runs taking turns)`,
    "",
    "One mqtt.js publisher, N subscribers of MQTT topic `<t>/events` through filter `<t>/+` (mqtt.js, MQTT 3.1.1, clean sessions); " +
      `${results.window} messages in flight (the next publish once every tracked subscriber has the previous one and, at QoS 1, its PUBACK came). ` +
      "Spool's WebSocket row subscribes to the same one-partition Spool topic `<t>` over `/v1/topics/<t>/subscribe` (confirming progress every 50 ms) " +
      "while the same publisher publishes at QoS 1. aedes 1.2.0 runs in memory in its own Node process, over `ws`. " +
      "Latency: publish -> deliver on 10 tracked subscribers. Ratios: deliveries/s and p50 (the WebSocket row is compared with aedes QoS 1). " +
      "Cores: CPU seconds / wall seconds of the broker (workerd or aedes) and of the load generator (publisher + all subscribers) while measured.",
    "",
    "| subscribers | row | deliveries/s | p50 ms | p99 ms | vs aedes (deliv. / p50) | vs Spool WS (deliv. / p50) | errors | missing | broker cores | generator cores |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...lines,
    "",
    `Load average before ${load(results.load.before)}, after ${load(results.load.after)}.`,
    "",
  ].join("\n");
}
