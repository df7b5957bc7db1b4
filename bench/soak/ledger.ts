/**
 * What the soak's clients were told, kept so the end of the run can check every guarantee
 * against it: queue sends answered 201, acks that succeeded (or got no answer because the
 * server died), topic publishes at the offset their 201 named, what each live subscriber saw,
 * and latency percentiles per minute for the report. Per-message facts live in IdTables
 * (id-table.ts), so an hour's millions of ids do not grow the soak's own heap.
 */
import { percentile } from "../stats.ts";
import { IdTable } from "./id-table.ts";

/** Where the server lives right now; a restart after a kill may move it to a new port. */
export interface Target {
  url: string;
  adminKey: string;
}

/** A queue message as a consumer got it (receive, push frame or the final drain). */
export interface QueueDelivery {
  id: string;
  seq: number;
  /** Which delivery of the message this is (1 for the first): the server counts one per lease, in its own order. */
  attempts: number;
  receipt?: string;
  body?: { at?: number };
}

/** A leased delivery: one with a receipt to ack. */
export type LeasedDelivery = QueueDelivery & { receipt: string };

const tenths = (ms: number | null): number | null => (ms === null ? null : Math.round(ms * 10) / 10);

/** One delivery of a queue message as one number (a Map of millions of ids holds numbers far more cheaply than objects). */
const ATTEMPTS_SPAN = 1 << 16;
function deliveryKey(seq: number, attempts: number): number {
  return seq * ATTEMPTS_SPAN + Math.min(attempts, ATTEMPTS_SPAN - 1);
}
function fromDeliveryKey(key: number): { seq: number; attempts: number } {
  return { seq: Math.floor(key / ATTEMPTS_SPAN), attempts: key % ATTEMPTS_SPAN };
}

/** What the soak knows about a queue message id (IdTable flags). */
const QueueFlag = { SENT: 1, DELIVERED: 2, ACKED: 4, ACK_UNKNOWN: 8, SEEN_AT_END: 16 } as const;
/**
 * What the soak knows about a topic message id: its publish, the log, the consumer group, the
 * forwarded queue. (An ack without an answer needs no flag there: nothing is checked against it.)
 */
const TopicFlag = { PUBLISHED: 1, LOGGED: 2, GROUP_DELIVERED: 4, GROUP_ACKED: 8, FORWARDED: 16, FORWARD_ACKED: 32 } as const;

/** A topic position as one number (partition < 2^12, offset < 2^40). */
const position = (partition: number, offset: number): number => partition * 2 ** 40 + offset;
const showPosition = (p: number): string => (Number.isNaN(p) ? "nothing" : `${Math.floor(p / 2 ** 40)}:${p % 2 ** 40}`);

export class Ledger {
  /** Queue messages (ids `s…`): sent, delivered, acked (with which delivery: `deliveryKey`), ack unknown, seen by the final drain. */
  readonly #queue: IdTable;
  /** Topic messages (ids `p…`): where the 201 put them, what the log holds, the group's and the forwarded queue's view. */
  readonly #topic: IdTable;
  /** Deliveries of a queue message made after its ack had succeeded (must stay empty): id, which delivery was acked, how and when it came again. */
  readonly redelivered: string[] = [];
  /**
   * Deliveries the server made before the one that was acked, which this process saw only
   * after that ack's answer (frames on one connection, answers on another: their order here
   * is not the server's). Not a redelivery; counted, with the first few kept.
   */
  readonly seenLate = { count: 0, examples: [] as string[] };
  /** Consumer group and forwarded queue deliveries after an ack succeeded (must stay empty). */
  readonly groupRedelivered: string[] = [];
  readonly forwardRedelivered: string[] = [];
  /** Live subscriber problems: a gap (missed offsets), a duplicate, or a `gap` frame. */
  readonly liveViolations: string[] = [];
  liveDeliveries = 0;
  reconnects = 0;
  errors5xx = 0;
  counts = { sends: 0, publishes: 0, nacks: 0, expiries: 0, kills: 0 };
  /** Latency samples of the current minute, per operation; earlier minutes are kept as their percentiles only. */
  #minute = 0;
  readonly #samples = new Map<string, number[]>();
  readonly #summaries: LatencySummary[] = [];
  readonly #start = Date.now();

  /** `batchSize`: messages per batch of the soak's producers and publishers (ids are numbered by it). */
  constructor(batchSize = 100) {
    this.#queue = new IdTable("s", batchSize, true);
    this.#topic = new IdTable("p", batchSize, true);
  }

  /** One latency sample for `op` (send, publish, receive, deliver…), in the current minute's bucket. */
  sample(op: string, ms: number): void {
    const minute = Math.floor((Date.now() - this.#start) / 60_000);
    if (minute !== this.#minute) {
      this.#summaries.push(...this.#summarise());
      this.#samples.clear();
      this.#minute = minute;
    }
    const list = this.#samples.get(op) ?? [];
    if (list.length < 50_000) list.push(ms);
    this.#samples.set(op, list);
  }

  // ---- queue ----

  recordSent(id: string): void {
    this.#queue.set(id, QueueFlag.SENT);
  }

  /**
   * A queue delivery to any consumer. If the id's ack had already succeeded, it is a
   * redelivery when the server made it after the acked one: a later attempt of the same
   * message, or another message (seq) with the same id. The server counts attempts per lease
   * in its own order, so an attempt up to the acked one was made before the ack: seen late.
   */
  recordDelivery(m: QueueDelivery, via: "lease" | "push" | "drain", note = ""): void {
    const flags = this.#queue.set(m.id, via === "drain" ? QueueFlag.DELIVERED | QueueFlag.SEEN_AT_END : QueueFlag.DELIVERED);
    if (flags & QueueFlag.ACKED) {
      const acked = fromDeliveryKey(this.#queue.value(m.id));
      const line = `${m.id}: seq ${acked.seq} delivery ${acked.attempts} acked, seq ${m.seq} delivery ${m.attempts} seen by ${via}${note} at ${this.#seconds()} s`;
      if (m.seq === acked.seq && m.attempts <= acked.attempts) {
        this.seenLate.count++;
        if (this.seenLate.examples.length < 20) this.seenLate.examples.push(line);
      } else {
        this.redelivered.push(line);
      }
      return;
    }
    const sentAt = via === "drain" ? undefined : m.body?.at; // the drain's delays are the run's end, not latency
    if (!(flags & QueueFlag.DELIVERED) && sentAt !== undefined) this.sample("send→first delivery", Date.now() - sentAt);
  }

  /** A queue message's ack succeeded for delivery `m`. */
  recordAck(m: QueueDelivery): void {
    this.#queue.set(m.id, QueueFlag.ACKED);
    this.#queue.setValue(m.id, deliveryKey(m.seq, m.attempts));
  }

  /** An ack that got no answer: the message may be gone or back, either is right. */
  recordAckUnknown(id: string): void {
    this.#queue.set(id, QueueFlag.ACK_UNKNOWN);
  }

  /** Queue sends answered 201 that never came out: not acked (nor acked without an answer) and not seen by the final drain. */
  lostSends(): string[] {
    const out: string[] = [];
    for (const { name, flags } of this.#queue.entries()) {
      if (flags & QueueFlag.SENT && !(flags & (QueueFlag.ACKED | QueueFlag.ACK_UNKNOWN | QueueFlag.SEEN_AT_END))) out.push(name);
    }
    return out;
  }

  // ---- topic ----

  recordPublish(id: string, partition: number, offset: number): void {
    this.#topic.set(id, TopicFlag.PUBLISHED);
    this.#topic.setValue(id, position(partition, offset));
  }

  /** A message read back from the log at the end; returns a violation if its publish was answered with another place. */
  recordLogged(id: string, partition: number, offset: number): string | null {
    const flags = this.#topic.set(id, TopicFlag.LOGGED);
    const answered = this.#topic.value(id);
    if (flags & TopicFlag.PUBLISHED && answered !== position(partition, offset)) {
      return `${id}: answered ${showPosition(answered)}, log has ${partition}:${offset}`;
    }
    return null;
  }

  /** Publishes answered 201 whose message the log does not hold. */
  publishedNotLogged(): string[] {
    const out: string[] = [];
    for (const { name, flags, value } of this.#topic.entries()) {
      if (flags & TopicFlag.PUBLISHED && !(flags & TopicFlag.LOGGED)) out.push(`${name}: answered ${showPosition(value)}, log has nothing`);
    }
    return out;
  }

  recordGroupDelivery(id: string): void {
    if (this.#topic.set(id, TopicFlag.GROUP_DELIVERED) & TopicFlag.GROUP_ACKED) this.groupRedelivered.push(id);
  }

  recordGroupAck(id: string): void {
    this.#topic.set(id, TopicFlag.GROUP_ACKED);
  }

  /** A delivery from the forwarded queue: counts a redelivery if the id's ack had already succeeded. */
  recordForward(id: string): void {
    if (this.#topic.set(id, TopicFlag.FORWARDED) & TopicFlag.FORWARD_ACKED) this.forwardRedelivered.push(id);
  }

  recordForwardAck(id: string): void {
    this.#topic.set(id, TopicFlag.FORWARD_ACKED);
  }

  /** Messages in the log never delivered to the group, or never forwarded; and forwarded ones the log does not hold. */
  topicDeliveryGaps(): { group: string[]; forwarding: string[] } {
    const group: string[] = [];
    const forwarding: string[] = [];
    for (const { name, flags } of this.#topic.entries()) {
      const logged = (flags & TopicFlag.LOGGED) !== 0;
      if (logged && !(flags & TopicFlag.GROUP_DELIVERED)) group.push(`${name}: never delivered to the group`);
      if (logged && !(flags & TopicFlag.FORWARDED)) forwarding.push(`${name}: never forwarded`);
      if (!logged && flags & TopicFlag.FORWARDED) forwarding.push(`${name}: forwarded but not in the topic`);
    }
    return { group, forwarding };
  }

  /** How many topic messages reached the group and the forwarded queue (for the report). */
  topicDeliveryCounts(): { groupDelivered: number; forwarded: number } {
    return { groupDelivered: this.#topic.count(TopicFlag.GROUP_DELIVERED), forwarded: this.#topic.count(TopicFlag.FORWARDED) };
  }

  #seconds(): number {
    return Math.round((Date.now() - this.#start) / 1000);
  }

  #summarise(): LatencySummary[] {
    return [...this.#samples].map(([op, values]) => ({
      minute: this.#minute, op, count: values.length, p50: tenths(percentile(values, 50)), p99: tenths(percentile(values, 99)),
    }));
  }

  /** p50/p99 per minute and operation. */
  latencyPerMinute(): LatencySummary[] {
    return [...this.#summaries, ...this.#summarise()].sort((a, b) => a.minute - b.minute || a.op.localeCompare(b.op));
  }
}

export interface LatencySummary { minute: number; op: string; count: number; p50: number | null; p99: number | null }

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
