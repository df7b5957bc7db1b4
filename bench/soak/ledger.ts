/**
 * What the soak's clients were told, kept so the end of the run can check every guarantee
 * against it: queue sends answered 201, acks that succeeded (or got no answer because the
 * server died), topic publishes at the offset their 201 named, what each live subscriber saw,
 * and latency samples bucketed per minute for the report.
 */
import { percentile } from "../stats.ts";

/** Where the server lives right now; a restart after a kill may move it to a new port. */
export interface Target {
  url: string;
  adminKey: string;
}

export interface Published {
  partition: number;
  offset: number;
  topic: string;
}

export class Ledger {
  /** Queue message ids answered 201. */
  readonly sent = new Set<string>();
  /** Queue message ids whose ack succeeded. */
  readonly acked = new Set<string>();
  /** Queue message ids whose ack got no answer: gone or back, either is right. */
  readonly ackUnknown = new Set<string>();
  /** Queue message ids delivered (lease, push or drain) at least once. */
  readonly delivered = new Set<string>();
  /** Deliveries of a queue message after its ack had succeeded (must stay empty): id, how it was acked, how and when it came again. */
  readonly redelivered: string[] = [];
  /** The acked ids whose ack went over the push consumer's socket (the others over HTTP): names the path of a redelivery. */
  readonly ackedOnSocket = new Set<string>();
  /** Topic message id → where its 201 said it was written. */
  readonly published = new Map<string, Published>();
  /** Per topic, per partition: the offsets a 201 named. */
  readonly offsets = new Map<string, Map<number, Set<number>>>();
  /** Consumer group: ids delivered, acked, and delivered again after an ack succeeded. */
  readonly group = { delivered: new Set<string>(), acked: new Set<string>(), ackUnknown: new Set<string>(), redelivered: [] as string[] };
  /** Forwarded queue (topic→queue subscription), consumed during the run: deliveries per id, acks, deliveries after an ack. */
  readonly forward = { delivered: new Map<string, number>(), acked: new Set<string>(), ackUnknown: new Set<string>(), redelivered: [] as string[] };
  /** Live subscriber problems: a gap (missed offsets), a duplicate, or a `gap` frame. */
  readonly liveViolations: string[] = [];
  liveDeliveries = 0;
  reconnects = 0;
  errors5xx = 0;
  counts = { sends: 0, publishes: 0, nacks: 0, expiries: 0, kills: 0 };
  readonly #samples = new Map<string, number[]>();
  readonly #start = Date.now();

  /** One latency sample for `op` (send, publish, receive, deliver…), in the current minute's bucket. */
  sample(op: string, ms: number): void {
    const key = `${Math.floor((Date.now() - this.#start) / 60_000)}:${op}`;
    const list = this.#samples.get(key) ?? [];
    if (list.length < 50_000) list.push(ms);
    this.#samples.set(key, list);
  }

  recordPublish(topic: string, id: string, partition: number, offset: number): void {
    this.published.set(id, { topic, partition, offset });
    const byPartition = this.offsets.get(topic) ?? new Map<number, Set<number>>();
    const set = byPartition.get(partition) ?? new Set<number>();
    set.add(offset);
    byPartition.set(partition, set);
    this.offsets.set(topic, byPartition);
  }

  /** A delivery from the forwarded queue: counts a redelivery if the id's ack had already succeeded. */
  recordForward(id: string): void {
    if (this.forward.acked.has(id)) this.forward.redelivered.push(id);
    this.forward.delivered.set(id, (this.forward.delivered.get(id) ?? 0) + 1);
  }

  /** A queue delivery to any consumer: counts a redelivery if the id's ack had already succeeded. */
  recordDelivery(id: string, sentAt: number | undefined, via: "lease" | "push" | "drain"): void {
    if (this.acked.has(id)) {
      const ackedVia = this.ackedOnSocket.has(id) ? "the push socket" : "HTTP";
      this.redelivered.push(`${id}: acked over ${ackedVia}, delivered again by ${via} at ${Math.round((Date.now() - this.#start) / 1000)} s`);
    }
    if (!this.delivered.has(id) && sentAt !== undefined) this.sample("send→first delivery", Date.now() - sentAt);
    this.delivered.add(id);
  }

  /** p50/p99 per minute and operation. */
  latencyPerMinute(): Array<{ minute: number; op: string; count: number; p50: number | null; p99: number | null }> {
    return [...this.#samples].map(([key, values]) => {
      const [minute, op] = [Number(key.slice(0, key.indexOf(":"))), key.slice(key.indexOf(":") + 1)];
      return { minute, op, count: values.length, p50: percentile(values, 50), p99: percentile(values, 99) };
    }).sort((a, b) => a.minute - b.minute || a.op.localeCompare(b.op));
  }
}

/** A JSON call to the server; throws when there is no answer (the server is down). */
export async function call(on: Target, ledger: Ledger, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${on.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${on.adminKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (res.status >= 500) ledger.errors5xx++;
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
