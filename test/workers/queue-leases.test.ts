// Leases: competing consumers, expiry by alarm, receipts per delivery, nack, extend,
// eviction in the middle of leases, and long polls.
import { describe, expect, it } from "vitest";
import { evictDurableObject } from "cloudflare:test";
import { advanceClock } from "../../durable-objects/shared/clock";
import type { ReceiveOptions, ReceivedMessage } from "../../protocol/queues";
import { callJson, uniqueName } from "./helpers";
import { advance, statsOf, stub, value } from "./queue-helpers";

type Msg = { id: string; body: unknown; receipt: string; attempts: number };

async function send(q: string, bodies: unknown[]): Promise<void> {
  const r = await callJson("POST", `/v1/queues/${q}/messages`, { body: { messages: bodies.map((body) => ({ body })) } });
  expect(r.status).toBe(201);
}

async function receive(q: string, body: Record<string, unknown> = {}): Promise<Msg[]> {
  const r = await callJson("POST", `/v1/queues/${q}/receive`, { body });
  expect(r.status).toBe(200);
  return r.body.messages as Msg[];
}

async function ack(q: string, receipts: string[]) {
  return (await callJson("POST", `/v1/queues/${q}/ack`, { body: { receipts } })).body as { acked: number; failed: { receipt: string; code: string }[] };
}

describe("queue leases", () => {
  it("queue - competing consumers never get the same message while its lease holds", async () => {
    const q = uniqueName("lease");
    await send(q, Array.from({ length: 30 }, (_, i) => i));
    const batches = await Promise.all(Array.from({ length: 6 }, () => receive(q, { max: 7 })));
    const ids = batches.flat().map((m) => m.id);
    expect(ids).toHaveLength(30);
    expect(new Set(ids).size).toBe(30);
    expect(await receive(q, { max: 10 })).toEqual([]);
  });

  it("queue - an expired lease makes the message visible again by alarm, with a new receipt and attempts+1", async () => {
    const q = uniqueName("lease");
    await send(q, ["job"]);
    const [first] = await receive(q, { visibilityTimeout: 30 });
    expect(first!.attempts).toBe(1);
    expect(await receive(q)).toEqual([]);
    expect(await advance(q, 31_000)).toBe(true);
    expect(await statsOf(q)).toMatchObject({ visible: 1, inFlight: 0 });
    const [second] = await receive(q);
    expect(second).toMatchObject({ id: first!.id, attempts: 2 });
    expect(second!.receipt).not.toBe(first!.receipt);
    // The first delivery's receipt is stale; the second's works.
    expect(await ack(q, [first!.receipt])).toEqual({ acked: 0, failed: [{ receipt: first!.receipt, code: "RECEIPT_INVALID" }] });
    expect(await ack(q, [second!.receipt])).toEqual({ acked: 1, failed: [] });
  });

  it("queue - ack after the lease ended fails even before the alarm ran, and the message is not lost", async () => {
    const q = uniqueName("lease");
    await send(q, ["late"]);
    const [m] = await receive(q, { visibilityTimeout: 5 });
    advanceClock(6_000); // the lease is over; its alarm has not run
    expect((await ack(q, [m!.receipt])).failed).toEqual([{ receipt: m!.receipt, code: "RECEIPT_INVALID" }]);
    const [again] = await receive(q);
    expect(again).toMatchObject({ id: m!.id, attempts: 2 });
  });

  it("queue - an ack is definitive: a second ack fails and the message never comes back", async () => {
    const q = uniqueName("lease");
    await send(q, ["once"]);
    const [m] = await receive(q);
    expect((await ack(q, [m!.receipt])).acked).toBe(1);
    expect((await ack(q, [m!.receipt])).failed[0]!.code).toBe("RECEIPT_INVALID");
    await advance(q, 3_600_000);
    expect(await receive(q)).toEqual([]);
    expect(await statsOf(q)).toMatchObject({ messages: 0, acked: 1 });
  });

  it("queue - garbage receipts fail individually with RECEIPT_INVALID", async () => {
    const q = uniqueName("lease");
    await send(q, ["a"]);
    const [m] = await receive(q);
    const r = await ack(q, ["nonsense", "99.0123456789abcdef", m!.receipt]);
    expect(r.acked).toBe(1);
    expect(r.failed.map((f) => f.receipt)).toEqual(["nonsense", "99.0123456789abcdef"]);
  });

  it("queue - nack redelivers after delay", async () => {
    const q = uniqueName("nack");
    await send(q, ["retry-me"]);
    const [m] = await receive(q);
    const n = await callJson("POST", `/v1/queues/${q}/nack`, { body: { receipts: [m!.receipt], delay: 10 } });
    expect(n.body).toEqual({ nacked: 1, failed: [] });
    expect(await receive(q)).toEqual([]);
    expect((await callJson("GET", `/v1/queues/${q}/messages`)).body.messages[0].state).toBe("delayed");
    await advance(q, 11_000);
    const [again] = await receive(q);
    expect(again).toMatchObject({ id: m!.id, attempts: 2 });
  });

  it("queue - nack without delay makes the message visible at once; its receipt is then stale", async () => {
    const q = uniqueName("nack");
    await send(q, ["x"]);
    const [m] = await receive(q);
    await callJson("POST", `/v1/queues/${q}/nack`, { body: { receipts: [m!.receipt] } });
    const [again] = await receive(q);
    expect(again!.id).toBe(m!.id);
    const stale = await callJson("POST", `/v1/queues/${q}/nack`, { body: { receipts: [m!.receipt] } });
    expect(stale.body).toEqual({ nacked: 0, failed: [{ receipt: m!.receipt, code: "RECEIPT_INVALID" }] });
  });

  it("queue - extend sets the lease to end visibilityTimeout seconds from now", async () => {
    const q = uniqueName("ext");
    await send(q, ["slow"]);
    const [m] = await receive(q, { visibilityTimeout: 10 });
    const e = await callJson("POST", `/v1/queues/${q}/extend`, { body: { receipts: [m!.receipt], visibilityTimeout: 100 } });
    expect(e.body).toEqual({ extended: 1, failed: [] });
    await advance(q, 50_000); // past the original lease, within the extended one
    expect(await receive(q)).toEqual([]);
    expect((await ack(q, [m!.receipt])).acked).toBe(1);
  });

  it("queue - evicting the object in the middle of leases loses nothing", async () => {
    const q = uniqueName("evict");
    await send(q, ["a", "b", "c"]);
    const leased = await receive(q, { max: 2, visibilityTimeout: 30 });
    await evictDurableObject(stub(q));
    expect((await ack(q, [leased[0]!.receipt])).acked).toBe(1);
    await evictDurableObject(stub(q));
    await advance(q, 31_000);
    const rest = await receive(q, { max: 10 });
    expect(rest.map((m) => m.body).sort()).toEqual(["b", "c"]);
    expect(rest.find((m) => m.body === "b")!.attempts).toBe(2);
    expect(await statsOf(q)).toMatchObject({ messages: 2, inFlight: 2, acked: 1 });
  });
});

/**
 * Starts a long poll and resolves once the object is serving it: calls on one stub arrive in
 * order (E-order), so when a later call on the same stub has answered, the poll has run its
 * first transaction and, having found nothing, is waiting.
 */
async function waitingPoll(q: string, options: ReceiveOptions): Promise<{ poll: Promise<ReceivedMessage[]> }> {
  const s = stub(q);
  let answered = false;
  const poll = value<{ messages: ReceivedMessage[] }>(s.receive(options)).then((r) => {
    answered = true;
    return r.messages;
  });
  await value(s.info()); // other requests are served while the poll waits
  expect(answered).toBe(false);
  return { poll }; // wrapped: an async function returning a promise would wait for it
}

describe("queue long poll", () => {
  it("queue - a long poll wakes on send, and other requests are served while it waits", async () => {
    const q = uniqueName("poll");
    await callJson("PUT", `/v1/queues/${q}`);
    const { poll } = await waitingPoll(q, { wait: 20 });
    expect((await callJson("GET", `/v1/queues/${q}`)).status).toBe(200);
    await send(q, ["wake"]);
    expect((await poll).map((m) => m.body)).toEqual(["wake"]);
  });

  it("queue - a long poll wakes on nack", async () => {
    const q = uniqueName("poll");
    await send(q, ["ball"]);
    const [m] = await receive(q);
    const { poll } = await waitingPoll(q, { wait: 20 });
    await callJson("POST", `/v1/queues/${q}/nack`, { body: { receipts: [m!.receipt] } });
    expect((await poll).map((x) => x.attempts)).toEqual([2]);
  });

  it("queue - a long poll wakes when a lease expires", async () => {
    const q = uniqueName("poll");
    await send(q, ["ball"]);
    await receive(q, { visibilityTimeout: 5 });
    const { poll } = await waitingPoll(q, { wait: 20 });
    await advance(q, 6_000); // the lease ends well within the poll's wait
    expect((await poll).map((x) => x.body)).toEqual(["ball"]);
  });

  it("queue - a long poll with nothing to deliver answers empty after wait", async () => {
    const q = uniqueName("poll");
    await callJson("PUT", `/v1/queues/${q}`);
    expect(await receive(q, { wait: 1 })).toEqual([]);
  });
});
