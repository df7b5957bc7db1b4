/**
 * The subscribers of one MQTT bench row, on a worker thread of the load generator (so
 * 1,000 mqtt.js clients and the publisher do not starve each other's event loop): opens
 * them 50 at a time, counts every message each receives while the row is measured, times
 * publish -> deliver on the tracked ones (the payload carries the publisher's clock), and
 * tells the publisher when every tracked subscriber has seen a message (its flow control).
 *
 * Two kinds: mqtt.js clients subscribed to `filter` at `qos` (they PUBACK QoS 1 deliveries
 * themselves), or Spool's own WebSocket subscription (`/v1/topics/<t>/subscribe`) with the
 * progress confirmations of bench/load/sockets.ts.
 */
import { parentPort, workerData } from "node:worker_threads";
import mqtt, { type MqttClient } from "mqtt";
import { closeSubscribers, confirmProgress, frameOffset, openSubscribers, type Subscriber } from "../load/sockets.ts";
import type { FromSubscribers, SubscribersSetup, ToSubscribers } from "./messages.ts";

const setup = workerData as SubscribersSetup;
const port = parentPort!;
const post = (m: FromSubscribers) => port.postMessage(m);
const clock = () => performance.timeOrigin + performance.now();

const trackedCount = Math.min(10, setup.count);
// Spread over the connection order, the last one included (it opened last).
const tracked = new Set(Array.from({ length: trackedCount }, (_, k) => setup.count - 1 - Math.floor((k * setup.count) / trackedCount)));
let measuring = false;
let received = 0; // every message, measured or not (missing-message accounting)
let measuredDeliveries = 0;
const latencies: number[] = [];
const seenBy = new Map<number, number>();

/** One delivery to subscriber `index` of the message whose JSON text is `text`. */
function delivered(index: number, text: string | null): void {
  received++;
  if (measuring) measuredDeliveries++;
  if (!tracked.has(index) || text === null) return;
  const { seq, t } = JSON.parse(text) as { seq: number; t: number };
  if (measuring && latencies.length < 200_000) latencies.push(clock() - t);
  const seen = (seenBy.get(seq) ?? 0) + 1;
  seenBy.set(seq, seen);
  if (seen >= trackedCount) {
    seenBy.delete(seq);
    post({ type: "seen", seq });
  }
}

/** Runs `open(i)` for every subscriber, `concurrency` at a time, within `timeoutMs`. */
async function bounded<T>(count: number, concurrency: number, open: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let start = 0; start < count; start += concurrency) {
    const batch = Array.from({ length: Math.min(concurrency, count - start) }, (_, k) => start + k);
    out.push(...(await Promise.all(batch.map(open))));
  }
  return out;
}

let closedEarly = 0;

async function openMqtt(index: number): Promise<MqttClient> {
  const client = mqtt.connect(setup.url, {
    clientId: `${setup.clientPrefix}-${index}`, username: "bench", password: setup.password ?? undefined,
    clean: true, reconnectPeriod: 0, connectTimeout: 30_000, keepalive: 60,
  });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
    client.once("close", () => reject(new Error(`subscriber ${index} closed before CONNACK`)));
  });
  client.on("close", () => closedEarly++);
  client.on("message", (_topic, payload) => delivered(index, tracked.has(index) ? payload.toString() : null));
  const granted = await client.subscribeAsync(setup.filter, { qos: setup.qos });
  if (granted[0]?.qos !== setup.qos) throw new Error(`subscriber ${index}: SUBACK granted ${JSON.stringify(granted)}`);
  return client;
}

let mqttClients: MqttClient[] = [];
let sockets: Subscriber[] = [];
let stopConfirming = () => {};

async function open(): Promise<void> {
  if (setup.kind === "mqtt") {
    mqttClients = await bounded(setup.count, 50, openMqtt);
  } else {
    sockets = await openSubscribers(setup.url, { authorization: `Bearer ${setup.password}` }, setup.count, (sub, data) => {
      if (frameOffset(data) < 0) return; // not a message frame
      if (!tracked.has(sub.index)) return delivered(sub.index, null);
      const frame = JSON.parse(data.toString()) as { type: string; body?: unknown };
      if (frame.type !== "message") return;
      // The MQTT publisher's payload is UTF-8 JSON text, which `/v1` reads as a string body.
      delivered(sub.index, typeof frame.body === "string" ? frame.body : JSON.stringify(frame.body));
    });
    stopConfirming = confirmProgress(sockets);
  }
}

async function close(): Promise<void> {
  stopConfirming();
  if (setup.kind === "mqtt") {
    const ending = Promise.all(mqttClients.map((c) => {
      c.removeAllListeners("close");
      return c.endAsync().catch(() => undefined);
    }));
    await Promise.race([ending, new Promise((r) => setTimeout(r, 5_000))]);
    for (const c of mqttClients) c.end(true);
  } else {
    await closeSubscribers(sockets);
  }
}

port.on("message", (m: ToSubscribers) => {
  if (m.type === "measure") {
    measuring = m.on;
    if (!m.on) post({ type: "measured", deliveries: measuredDeliveries });
  } else if (m.type === "close") {
    const wsClosed = sockets.filter((s) => s.closedEarly !== null).length;
    const report: FromSubscribers = { type: "report", received, deliveries: measuredDeliveries, latencies, closedEarly: closedEarly + wsClosed };
    void close().finally(() => post(report));
  }
});

open().then(
  () => post({ type: "open" }),
  (err: Error) => post({ type: "failed", message: err.message }),
);
