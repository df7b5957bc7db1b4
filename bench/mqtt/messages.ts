/**
 * What the MQTT bench's pieces say to each other: the rows it measures, the arguments of
 * its load generator (bench/mqtt/fanout.ts, JSON on stdin), the generator's result, and the
 * messages between the generator's publisher and its subscriber thread (subscribers.ts).
 */
import type { FanoutPhaseResult } from "../load/fanout.ts";
import type { GeneratorArgs } from "../load/protocol.ts";

/** The rows, per subscriber count. `spool-ws` is Spool's own `/v1/topics/<t>/subscribe`. */
export const ROWS = ["spool-mqtt-qos0", "spool-mqtt-qos1", "spool-ws", "aedes-qos0", "aedes-qos1"] as const;
export type RowKind = (typeof ROWS)[number];

export interface FanoutArgs extends GeneratorArgs {
  row: RowKind;
  subscribers: number;
  /** The ws:// URL mqtt.js connects to (Spool's `/v1/mqtt` or aedes). */
  mqttUrl: string;
  /** The Spool topic (first MQTT level); its one partition carries every message. */
  topic: string;
  /** Messages published but not yet seen by every tracked subscriber. */
  window: number;
}

/**
 * The WebSocket fan-out's figures (bench/load/fanout.ts), per row; `errors` counts failed
 * publishes, messages some tracked subscriber never saw and connections closed by the broker.
 */
export interface FanoutResult extends Omit<FanoutPhaseResult, "phase" | "missingFrames"> {
  row: RowKind;
  /** Deliveries expected (published × subscribers) but not received by the end. */
  missingDeliveries: number;
}

export interface SubscribersSetup {
  kind: "mqtt" | "ws";
  url: string;
  count: number;
  /** MQTT: the filter and the QoS asked for. */
  filter: string;
  qos: 0 | 1;
  /** The MQTT CONNECT password, or the bearer of the WebSocket upgrade (null: none, aedes). */
  password: string | null;
  clientPrefix: string;
}

export type ToSubscribers = { type: "measure"; on: boolean } | { type: "close" };

export type FromSubscribers =
  | { type: "open" }
  | { type: "failed"; message: string }
  | { type: "seen"; seq: number }
  | { type: "measured"; deliveries: number }
  | { type: "report"; received: number; deliveries: number; latencies: number[]; closedEarly: number };
