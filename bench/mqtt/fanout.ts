/**
 * Load generator of the MQTT bench (a child process of bench/mqtt/main.ts, arguments as
 * JSON on stdin): one row = one broker, one delivery path, one subscriber count. The
 * subscribers run on a worker thread (subscribers.ts); this thread holds one mqtt.js
 * publisher that keeps a small window of messages in flight: the next publish starts when
 * the previous message reached every tracked subscriber (and, at QoS 1, was PUBACKed), so
 * the broker runs flat out without unbounded buffering, as in bench/load/fanout.ts.
 *
 * Topic shape, the same for every row: the MQTT topic `<t>/events`, subscribed through the
 * wildcard filter `<t>/+`; on Spool `<t>` is a one-partition topic created up front, and the
 * `spool-ws` row subscribes to its partition 0 over `/v1/topics/<t>/subscribe` while the
 * same mqtt.js publisher (QoS 1) publishes to `<t>/events`.
 */
import { Worker } from "node:worker_threads";
import mqtt from "mqtt";
import { emit, endPhase, finish, generatorArgs, must, sleep, startPhase } from "../load/common.ts";
import { wsUrl } from "../load/sockets.ts";
import { percentile } from "../stats.ts";
import type { FanoutArgs, FanoutResult, FromSubscribers, SubscribersSetup, ToSubscribers } from "./messages.ts";

const args = generatorArgs<FanoutArgs>();
const MESSAGE_TIMEOUT_MS = 5_000;
const OPEN_TIMEOUT_MS = 240_000;
const clock = () => performance.timeOrigin + performance.now();

const onSpool = args.row.startsWith("spool-");
const qos: 0 | 1 = args.row.endsWith("qos0") ? 0 : 1;
const mqttTopic = `${args.topic}/events`;
const prefix = `${args.topic}-${Math.random().toString(36).slice(2, 8)}`;
if (onSpool) await must(args, "PUT", `/v1/topics/${args.topic}`, { partitions: 1 });

const setup: SubscribersSetup = {
  kind: args.row === "spool-ws" ? "ws" : "mqtt",
  url: args.row === "spool-ws" ? wsUrl(args.url, `/v1/topics/${args.topic}/subscribe?partition=0&from=latest`) : args.mqttUrl,
  count: args.subscribers, filter: `${args.topic}/+`, qos, password: onSpool ? args.adminKey : null, clientPrefix: `${prefix}-sub`,
};
const subscribers = new Worker(new URL("./subscribers.ts", import.meta.url), { workerData: setup });
const tell = (m: ToSubscribers) => subscribers.postMessage(m);
const waiters = new Map<number, () => void>();
const replies: ((m: FromSubscribers) => boolean)[] = [];
subscribers.on("message", (m: FromSubscribers) => {
  if (m.type === "seen") return waiters.get(m.seq)?.();
  const i = replies.findIndex((accept) => accept(m));
  if (i >= 0) replies.splice(i, 1);
});
subscribers.on("error", (err) => {
  emit({ event: "log", message: `subscriber thread: ${err.message}` });
  process.exit(1);
});

/** The next reply of `type` from the subscriber thread, or an error after `ms`. */
function reply<T extends FromSubscribers["type"]>(types: T[], ms: number): Promise<Extract<FromSubscribers, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${types.join("/")} from the subscriber thread in ${ms} ms`)), ms);
    replies.push((m) => {
      if (!(types as string[]).includes(m.type)) return false;
      clearTimeout(timer);
      resolve(m as Extract<FromSubscribers, { type: T }>);
      return true;
    });
  });
}

const opened = await reply(["open", "failed"], OPEN_TIMEOUT_MS);
if (opened.type === "failed") throw new Error(`${args.row}: opening ${args.subscribers} subscribers failed: ${opened.message}`);

const publisher = await mqtt.connectAsync(args.mqttUrl, {
  clientId: `${prefix}-pub`, username: "bench", password: onSpool ? args.adminKey : undefined,
  clean: true, reconnectPeriod: 0, connectTimeout: 30_000,
});
// The publisher's QoS: the row's; Spool's WebSocket row gets QoS 1 (how `/v1` publishes count).
const publishQos: 0 | 1 = args.row === "spool-ws" ? 1 : qos;
const pad = "x".repeat(60); // about 100 bytes of payload, like bench/load's sample message

let seq = 0;
let errors = 0;
let published = 0;
let seconds = 0;
let measured: Promise<{ deliveries: number }> | null = null;

async function publishOne(): Promise<void> {
  const s = seq++;
  const seen = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), MESSAGE_TIMEOUT_MS);
    waiters.set(s, () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  const payload = JSON.stringify({ seq: s, t: clock(), pad });
  const acked = publisher.publishAsync(mqttTopic, payload, { qos: publishQos }).then(() => true, () => false);
  const [ok, arrived] = await Promise.all([acked, seen]);
  if (!ok || !arrived) errors++;
  waiters.delete(s);
}

/** Publishes for `ms` with the window in flight, measured or as warm-up. */
async function slice(ms: number, measure: boolean): Promise<void> {
  let stop = false;
  const loops = Array.from({ length: args.window }, async () => {
    while (!stop) await publishOne();
  });
  const before = seq;
  let elapsed = () => 0;
  if (measure) {
    tell({ type: "measure", on: true });
    elapsed = startPhase(args.row);
  }
  await sleep(ms);
  if (measure) {
    measured = reply(["measured"], 30_000); // listening before asking: the answer may come at once
    tell({ type: "measure", on: false });
    seconds = elapsed();
    endPhase(args.row);
    published = seq - before;
  }
  stop = true;
  await Promise.all(loops);
}

await slice(args.warmupSeconds * 1000, false);
await slice(args.seconds * 1000, true);
const { deliveries } = await measured!;
await sleep(500); // stragglers to the untracked subscribers
tell({ type: "close" });
const report = await reply(["report"], 30_000);
await publisher.endAsync().catch(() => undefined);
await subscribers.terminate();

if (report.closedEarly > 0) emit({ event: "log", message: `${args.row}: ${report.closedEarly} subscribers closed by the broker` });
const result: FanoutResult = {
  row: args.row, subscribers: args.subscribers, seconds, published,
  deliveriesPerSec: seconds > 0 ? deliveries / seconds : 0,
  p50Ms: percentile(report.latencies, 50), p99Ms: percentile(report.latencies, 99),
  errors: errors + report.closedEarly,
  missingDeliveries: Math.max(0, seq * args.subscribers - report.received),
};
finish(result);
