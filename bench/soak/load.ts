/**
 * The soak's clients: producers, lease consumers (acking most, nacking some, letting some
 * leases expire), a push consumer on a WebSocket that drops itself now and then, topic
 * publishers, a consumer group, a consumer of the topic→queue subscription's queue, and live WebSocket + SSE subscribers that reconnect every
 * so often and resume where they were. Every loop survives the server dying (it retries
 * with a pause) and stops when `stop.now` is set. Everything the server answered goes in
 * the ledger.
 */
import WebSocket from "ws";
import { makeId } from "./id-table.ts";
import { call, sleep, type LeasedDelivery, type Ledger, type QueueDelivery, type Target } from "./ledger.ts";

export interface LoadShape {
  queue: string;
  /** The queue a topic→queue subscription forwards into; consumed during the run as any user would. */
  forwardQueue: string;
  topic: string;
  partitions: number;
  group: string;
  producers: number;
  leaseConsumers: number;
  /** Push consumers on the queue's WebSocket (each drops itself every 20–40 s). */
  pushConsumers: number;
  publishers: number;
  wsSubscribers: number;
  sseSubscribers: number;
  /** Messages per batch, and the pause between one producer's batches (ms). */
  batch: number;
  pauseMs: number;
  /** Live subscribers reconnect after a random time in this range (ms). */
  reconnectMs: [number, number];
}

export interface Stop { now: boolean }

const random = (lo: number, hi: number): number => lo + Math.random() * (hi - lo);

/** Runs `step` until stopped; a thrown step (no answer) waits a little and goes on. */
async function loop(stop: Stop, pauseMs: number, step: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; !stop.now; i++) {
    try {
      await step(i);
      if (pauseMs > 0) await sleep(pauseMs);
    } catch {
      await sleep(500);
    }
  }
}

function producer(on: Target, ledger: Ledger, shape: LoadShape, k: number, stop: Stop): Promise<void> {
  return loop(stop, shape.pauseMs, async (i) => {
    const ids = Array.from({ length: shape.batch }, (_, j) => makeId("s", k, i, j));
    const started = performance.now(); // sub-millisecond: a drift of 20% on a p50 of 10 ms is 2 ms
    const r = await call(on, ledger, "POST", `/v1/queues/${shape.queue}/messages`, { messages: ids.map((id) => ({ id, body: { id, at: Date.now() } })) });
    if (r.status !== 201) return;
    ledger.sample("send", performance.now() - started);
    for (const id of ids) ledger.recordSent(id);
    ledger.counts.sends += ids.length;
  });
}


/** Receives and mostly acks; one in ten is nacked, one in twenty left to expire. */
function leaseConsumer(on: Target, ledger: Ledger, shape: LoadShape, stop: Stop): Promise<void> {
  return loop(stop, 0, async () => {
    const r = await call(on, ledger, "POST", `/v1/queues/${shape.queue}/receive`, { max: 10, wait: 1 });
    if (r.status !== 200) return sleep(200);
    const messages = r.body.messages as LeasedDelivery[];
    const toAck: LeasedDelivery[] = [];
    const toNack: LeasedDelivery[] = [];
    for (const m of messages) {
      ledger.recordDelivery(m, "lease");
      const roll = Math.random();
      if (roll < 0.05) ledger.counts.expiries++; // never answered: the lease expires
      else if (roll < 0.15) toNack.push(m);
      else toAck.push(m);
    }
    if (toNack.length > 0) {
      const n = await call(on, ledger, "POST", `/v1/queues/${shape.queue}/nack`, { receipts: toNack.map((m) => m.receipt) });
      if (n.status === 200) ledger.counts.nacks += n.body.nacked as number;
    }
    if (toAck.length > 0) await ackReceipts(on, ledger, queuePaths(shape.queue).ack, toAck, (m) => ledger.recordAck(m), (m) => ledger.recordAckUnknown(m.id));
  });
}

/**
 * One receive (or group poll) at `take` of up to `max`, each message shown to `onMessage`, then
 * all of them acked at `ack`: `acked` is told of each whose ack succeeded, `unknown` of each when
 * the ack got no answer. Returns how many came, or null when the take was not answered 200.
 */
export async function takeAndAck<M extends Acked = LeasedDelivery>(
  on: Target, ledger: Ledger, path: { take: string; ack: string }, max: number,
  onMessage: (m: M) => void, acked: (m: M) => void, unknown: (m: M) => void = () => undefined,
): Promise<number | null> {
  const r = await call(on, ledger, "POST", path.take, { max, wait: 1 });
  if (r.status !== 200) return null;
  const messages = r.body.messages as M[];
  for (const m of messages) onMessage(m);
  if (messages.length > 0) await ackReceipts(on, ledger, path.ack, messages, acked, unknown);
  return messages.length;
}

/** What an ack needs of a message: a queue's delivery or a group's. */
interface Acked { id: string; receipt: string }

async function ackReceipts<M extends Acked>(on: Target, ledger: Ledger, path: string, messages: M[], acked: (m: M) => void, unknown: (m: M) => void): Promise<void> {
  let ack: { status: number; body: any };
  try {
    ack = await call(on, ledger, "POST", path, { receipts: messages.map((m) => m.receipt) });
  } catch (err) {
    for (const m of messages) unknown(m);
    throw err;
  }
  if (ack.status !== 200) return;
  const failed = new Set((ack.body.failed as Array<{ receipt: string }>).map((f) => f.receipt));
  for (const m of messages) if (!failed.has(m.receipt)) acked(m);
}

/** The receive and ack paths of a queue, and of a topic's consumer group. */
export const queuePaths = (queue: string) => ({ take: `/v1/queues/${queue}/receive`, ack: `/v1/queues/${queue}/ack` });
export const groupPaths = (topic: string, group: string) => ({ take: `/v1/topics/${topic}/groups/${group}/poll`, ack: `/v1/topics/${topic}/groups/${group}/ack` });

/** Consumes the forwarded queue: receives up to 100 and acks them. Without it the queue would fill (maxMessages) within minutes. */
function forwardConsumer(on: Target, ledger: Ledger, shape: LoadShape, stop: Stop): Promise<void> {
  return loop(stop, 0, async () => {
    const n = await takeAndAck(on, ledger, queuePaths(shape.forwardQueue), 100, (m) => ledger.recordForward(m.id), (m) => ledger.recordForwardAck(m.id));
    if (n === null) await sleep(200);
  });
}

/** A push consumer: credit 10, acks each message on the socket, drops the socket every 20–40 s. */
async function pushConsumer(on: Target, ledger: Ledger, shape: LoadShape, stop: Stop): Promise<void> {
  while (!stop.now) {
    await new Promise<void>((done) => {
      const ws = new WebSocket(`${on.url.replace("http", "ws")}/v1/queues/${shape.queue}/consume`, { headers: { authorization: `Bearer ${on.adminKey}` } });
      const pending: QueueDelivery[] = []; // ack frames answered in order, one receipt each
      let closing = false; // this client closed the socket: frames still arriving were pushed before the server knew
      const dropAfter = setTimeout(() => {
        closing = true;
        ws.close();
      }, random(20_000, 40_000));
      const stopping = setInterval(() => stop.now && ws.close(), 250);
      ws.on("open", () => ws.send(JSON.stringify({ type: "credit", n: 10 })));
      ws.on("message", (data) => {
        const f = JSON.parse(String(data)) as Partial<LeasedDelivery> & { type: string; op?: string; failed?: unknown[] };
        if (f.type === "message" && f.id && f.receipt) {
          const m = f as LeasedDelivery;
          ledger.recordDelivery(m, "push", closing ? " on a closing socket" : "");
          pending.push(m);
          ws.send(JSON.stringify({ type: "ack", receipts: [m.receipt] }));
        } else if (f.type === "result" && f.op === "ack") {
          const m = pending.shift();
          if (m !== undefined && (f.failed ?? []).length === 0) ledger.recordAck(m);
        }
      });
      const finish = (): void => {
        clearTimeout(dropAfter);
        clearInterval(stopping);
        for (const m of pending.splice(0)) ledger.recordAckUnknown(m.id);
        done();
      };
      ws.on("close", finish);
      ws.on("error", () => ws.terminate());
    });
    if (!stop.now) await sleep(300);
  }
}

function publisher(on: Target, ledger: Ledger, shape: LoadShape, k: number, stop: Stop): Promise<void> {
  return loop(stop, shape.pauseMs, async (i) => {
    const ids = Array.from({ length: shape.batch }, (_, j) => makeId("p", k, i, j));
    const started = performance.now(); // sub-millisecond: a drift of 20% on a p50 of 10 ms is 2 ms
    const r = await call(on, ledger, "POST", `/v1/topics/${shape.topic}/messages`, { messages: ids.map((id) => ({ id, key: id, body: { id } })) });
    if (r.status !== 201) return;
    ledger.sample("publish", performance.now() - started);
    ledger.counts.publishes += ids.length;
    for (const [j, m] of (r.body.messages as Array<{ partition: number; offset: number }>).entries()) ledger.recordPublish(ids[j]!, m.partition, m.offset);
  });
}

function groupConsumer(on: Target, ledger: Ledger, shape: LoadShape, stop: Stop): Promise<void> {
  return loop(stop, 0, async () => {
    const n = await takeAndAck<Acked>(on, ledger, groupPaths(shape.topic, shape.group), 50, (m) => ledger.recordGroupDelivery(m.id), (m) => ledger.recordGroupAck(m.id));
    if (n === null) await sleep(200);
  });
}

/** One live subscriber's view: the next offset it expects; checked on every message. */
export class LiveView {
  next = 0;
  readonly name: string;
  readonly partition: number;
  readonly #ledger: Ledger;
  /** `from`: the first offset it is to see (0, or the partition's end after a prefill). */
  constructor(name: string, partition: number, ledger: Ledger, from = 0) {
    this.name = name;
    this.partition = partition;
    this.#ledger = ledger;
    this.next = from;
  }
  see(offset: number): void {
    this.#ledger.liveDeliveries++;
    if (offset !== this.next) this.#ledger.liveViolations.push(`${this.name}: expected offset ${this.next}, got ${offset}`);
    this.next = Math.max(this.next, offset + 1);
  }
}

/** A WebSocket subscriber from its view's first offset that reconnects from where it was. */
async function wsSubscriber(on: Target, ledger: Ledger, shape: LoadShape, view: LiveView, stop: Stop): Promise<void> {
  while (!stop.now) {
    await new Promise<void>((done) => {
      const ws = new WebSocket(`${on.url.replace("http", "ws")}/v1/topics/${shape.topic}/subscribe?partition=${view.partition}&from=${view.next}`, { headers: { authorization: `Bearer ${on.adminKey}` } });
      const dropAfter = setTimeout(() => ws.close(), random(...shape.reconnectMs));
      const stopping = setInterval(() => stop.now && ws.close(), 250);
      ws.on("message", (data) => {
        const f = JSON.parse(String(data)) as { type: string; offset?: number };
        if (f.type === "message" && typeof f.offset === "number") view.see(f.offset);
        else if (f.type === "gap") ledger.liveViolations.push(`${view.name}: gap frame ${String(data)}`);
      });
      ws.on("close", () => {
        clearTimeout(dropAfter);
        clearInterval(stopping);
        done();
      });
      ws.on("error", () => ws.terminate());
    });
    ledger.reconnects++;
    if (!stop.now) await sleep(300);
  }
}

/** An SSE subscriber; reconnects with Last-Event-ID. */
async function sseSubscriber(on: Target, ledger: Ledger, shape: LoadShape, view: LiveView, stop: Stop): Promise<void> {
  while (!stop.now) {
    const abort = new AbortController();
    const dropAfter = setTimeout(() => abort.abort(), random(...shape.reconnectMs));
    const stopping = setInterval(() => stop.now && abort.abort(), 250);
    try {
      const headers: Record<string, string> = { authorization: `Bearer ${on.adminKey}`, accept: "text/event-stream" };
      if (view.next > 0) headers["last-event-id"] = String(view.next - 1);
      const res = await fetch(`${on.url}/v1/topics/${shape.topic}/events?partition=${view.partition}&from=earliest`, { headers, signal: abort.signal });
      if (!res.ok || !res.body) throw new Error(`SSE ${res.status}`);
      const decoder = new TextDecoder();
      let buffer = "";
      const reader = res.body.getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        buffer += decoder.decode(chunk.value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: ?(.*)$/m.exec(event)?.[1] ?? "message";
          const data = /^data: ?(.*)$/m.exec(event)?.[1];
          if (data === undefined) continue;
          if (type === "gap") ledger.liveViolations.push(`${view.name}: gap event ${data}`);
          else if (type === "message") view.see((JSON.parse(data) as { offset: number }).offset);
        }
      }
    } catch {
      // dropped on purpose, or the server died
    } finally {
      clearTimeout(dropAfter);
      clearInterval(stopping);
    }
    ledger.reconnects++;
    if (!stop.now) await sleep(300);
  }
}

/**
 * Starts every client; `writers` stops producers and publishers, `stop` everything else. Live
 * subscribers start at `from[partition]` (default 0). The views are returned for the final check.
 */
export function startLoad(
  on: Target, ledger: Ledger, shape: LoadShape, writers: Stop, stop: Stop, from: readonly number[] = [],
): { running: Promise<unknown>; views: LiveView[] } {
  const views: LiveView[] = [];
  const tasks: Promise<void>[] = [];
  for (let k = 0; k < shape.producers; k++) tasks.push(producer(on, ledger, shape, k, writers));
  for (let k = 0; k < shape.leaseConsumers; k++) tasks.push(leaseConsumer(on, ledger, shape, stop));
  for (let k = 0; k < shape.pushConsumers; k++) tasks.push(pushConsumer(on, ledger, shape, stop));
  for (let k = 0; k < shape.publishers; k++) tasks.push(publisher(on, ledger, shape, k, writers));
  tasks.push(groupConsumer(on, ledger, shape, stop));
  tasks.push(forwardConsumer(on, ledger, shape, stop));
  for (let k = 0; k < shape.wsSubscribers; k++) {
    const view = new LiveView(`ws${k}/p${k % shape.partitions}`, k % shape.partitions, ledger, from[k % shape.partitions]);
    views.push(view);
    tasks.push(wsSubscriber(on, ledger, shape, view, stop));
  }
  for (let k = 0; k < shape.sseSubscribers; k++) {
    const view = new LiveView(`sse${k}/p${k % shape.partitions}`, k % shape.partitions, ledger, from[k % shape.partitions]);
    views.push(view);
    tasks.push(sseSubscriber(on, ledger, shape, view, stop));
  }
  return { running: Promise.all(tasks), views };
}
