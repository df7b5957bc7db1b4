/**
 * The end of a soak: drain what is left (the queue, the consumer group, the forwarded queue),
 * let live subscribers catch up, then check every guarantee against the ledger. Each check
 * yields a list of violations; a run holds its guarantees when every list is empty.
 */
import { groupPaths, queuePaths, takeAndAck, type LiveView } from "./load.ts";
import { PREFILL_KIND } from "./prefill.ts";
import { call, sleep, type LeasedDelivery, type Ledger, type Target } from "./ledger.ts";

export interface Guarantees {
  /** Queue sends answered 201 that never came out (and whose ack did not succeed). */
  lostSends: string[];
  /** Queue deliveries after an ack had succeeded. */
  redeliveredAfterAck: string[];
  /** Topic offsets missing inside [0, next) of a partition, or publishes not at their offset. */
  topicHoles: string[];
  /** Live subscribers: gaps, duplicates, or not caught up by the end. */
  live: string[];
  /** Consumer group: published ids never delivered, or delivered after their ack. */
  group: string[];
  /** Topic→queue forwarding: published ids received other than exactly once. */
  forwarding: string[];
}

export interface Names { queue: string; topic: string; partitions: number; group: string; subscription: string; forwardQueue: string }

/** Receives and acks until `queue` is empty (or `ms` passed): `onMessage` sees each delivery, `acked` each successful ack. */
async function drainQueue(
  on: Target, ledger: Ledger, queue: string, ms: number,
  onMessage: (m: LeasedDelivery) => void, acked: (m: LeasedDelivery) => void, unknown?: (m: LeasedDelivery) => void,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (((await takeAndAck(on, ledger, queuePaths(queue), 100, onMessage, acked, unknown)) ?? 0) > 0) continue;
    const stats = (await call(on, ledger, "GET", `/v1/queues/${queue}`)).body?.stats as { messages: number } | undefined;
    if (stats?.messages === 0) return;
  }
}

/** Every message of a partition as [offset, id]. */
async function readPartition(on: Target, ledger: Ledger, topic: string, partition: number): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = [];
  for (let from = 0; ;) {
    const r = await call(on, ledger, "GET", `/v1/topics/${topic}/messages?partition=${partition}&from=${from}&limit=1000`);
    if (r.status !== 200) throw new Error(`reading ${topic}/${partition}: ${r.status}`);
    for (const m of r.body.messages as Array<{ id: string; offset: number }>) out.push([m.offset, m.id]);
    if (r.body.messages.length < 1000) return out;
    from = r.body.next as number;
  }
}

export async function verify(on: Target, ledger: Ledger, names: Names, views: LiveView[], drainMs: number): Promise<Guarantees> {
  // Queue: everything sent and not acked must still come out.
  await drainQueue(on, ledger, names.queue, drainMs, (m) => ledger.recordDelivery(m, "drain"), (m) => ledger.recordAck(m), (m) => ledger.recordAckUnknown(m.id));
  const lostSends = ledger.lostSends();

  // Topic: offsets 0..next-1 all present, each publish where its 201 said.
  const topicHoles: string[] = [];
  const nextOf: number[] = [];
  for (let p = 0; p < names.partitions; p++) {
    const rows = await readPartition(on, ledger, names.topic, p);
    rows.forEach(([offset, id], i) => {
      if (offset !== i) topicHoles.push(`${names.topic}/${p}: offset ${i} missing (found ${offset})`);
      if (id.startsWith(PREFILL_KIND)) return; // written before the load, for its size only
      const misplaced = ledger.recordLogged(id, p, offset);
      if (misplaced) topicHoles.push(misplaced);
    });
    nextOf.push(rows.length);
  }
  topicHoles.push(...ledger.publishedNotLogged());

  // Live subscribers were stopped where they were; each must have seen 0..next-1 in order
  // (violations were recorded as they happened). Catch-up is checked by a last read per view.
  const live = [...ledger.liveViolations];
  for (const view of views) if (view.next > (nextOf[view.partition] ?? 0)) live.push(`${view.name}: saw offset ${view.next - 1} beyond the log end ${nextOf[view.partition]}`);

  // Consumer group: poll the rest, then every published id must have been delivered.
  const group: string[] = [];
  const groupDeadline = Date.now() + drainMs;
  while (Date.now() < groupDeadline) {
    const taken = await takeAndAck<{ id: string; receipt: string }>(
      on, ledger, groupPaths(names.topic, names.group), 100, (m) => ledger.recordGroupDelivery(m.id), (m) => ledger.recordGroupAck(m.id),
    );
    if ((taken ?? 0) > 0) continue;
    const status = await call(on, ledger, "GET", `/v1/topics/${names.topic}/groups/${names.group}`);
    const lag = ((status.body?.partitions ?? []) as Array<{ lag: number; inFlight: number }>).reduce((s, p) => s + p.lag + p.inFlight, 0);
    if (lag === 0) break;
  }
  for (const id of ledger.groupRedelivered) group.push(`${id}: delivered to the group after its ack`);

  // Forwarding: wait for the subscription to catch up, drain its queue; each id exactly once.
  const fwdDeadline = Date.now() + drainMs;
  while (Date.now() < fwdDeadline) {
    const s = await call(on, ledger, "GET", `/v1/topics/${names.topic}/subscriptions/${names.subscription}`);
    if (s.status === 200 && Number(s.body?.lag ?? 0) === 0) break;
    await sleep(500);
  }
  await drainQueue(on, ledger, names.forwardQueue, drainMs, (m) => ledger.recordForward(m.id), (m) => ledger.recordForwardAck(m.id));
  // Exactly once into the queue: every published id arrived, and none arrived again after its
  // ack had succeeded (a second copy in the queue would). A delivery repeated because its ack
  // got no answer (a kill) or its lease ended is the consumer's at-least-once, not the forwarder's.
  const forwarding: string[] = [];
  for (const id of ledger.forwardRedelivered) forwarding.push(`${id}: in the forwarded queue again after its ack`);
  const gaps = ledger.topicDeliveryGaps();
  group.push(...gaps.group);
  forwarding.push(...gaps.forwarding);

  return { lostSends, redeliveredAfterAck: [...ledger.redelivered], topicHoles, live, group, forwarding };
}

/** How many violations in all. */
export function violations(g: Guarantees): number {
  return Object.values(g).reduce((n, list: string[]) => n + list.length, 0);
}
