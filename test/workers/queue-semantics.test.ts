// Queue semantics: dedup and its expiry, FIFO groups, delay, at-most-once delivery,
// backpressure, message size and retention.
import { describe, expect, it } from "vitest";
import { callJson, errorCode, uniqueName } from "./helpers";
import { advance, statsOf } from "./queue-helpers";

type Msg = { id: string; body: unknown; group?: string; receipt?: string; attempts: number };

async function send(q: string, messages: Record<string, unknown>[]) {
  return callJson("POST", `/v1/queues/${q}/messages`, { body: { messages } });
}

async function receive(q: string, body: Record<string, unknown> = {}): Promise<Msg[]> {
  const r = await callJson("POST", `/v1/queues/${q}/receive`, { body });
  expect(r.status).toBe(200);
  return r.body.messages as Msg[];
}

async function ackAll(q: string, ms: Msg[]): Promise<void> {
  const r = await callJson("POST", `/v1/queues/${q}/ack`, { body: { receipts: ms.map((m) => m.receipt) } });
  expect(r.body.acked).toBe(ms.length);
}

describe("queue dedup", () => {
  it("queue - an id accepted within the window is a duplicate with the original seq, also after it was acked", async () => {
    const q = uniqueName("dedup");
    const first = await send(q, [{ id: "order-1", body: "a" }]);
    const [m] = await receive(q);
    await ackAll(q, [m!]);
    const again = await send(q, [{ id: "order-1", body: "a-again" }]);
    expect(again.status).toBe(201);
    expect(again.body.messages[0]).toEqual({ id: "order-1", seq: first.body.messages[0].seq, duplicate: true });
    expect(await statsOf(q)).toMatchObject({ messages: 0, sent: 1, duplicates: 1 });
  });

  it("queue - dedup records expire by alarm, after which the id is accepted again", async () => {
    const q = uniqueName("dedup");
    await callJson("PUT", `/v1/queues/${q}`, { body: { deduplicationWindow: 60 } });
    await send(q, [{ id: "x", body: 1 }]);
    expect((await send(q, [{ id: "x", body: 1 }])).body.messages[0].duplicate).toBe(true);
    await advance(q, 61_000);
    const after = await send(q, [{ id: "x", body: 2 }]);
    expect(after.body.messages[0]).toMatchObject({ duplicate: false, seq: 2 });
    expect(await statsOf(q)).toMatchObject({ messages: 2 });
  });

  it("queue - deduplicationWindow 0 accepts every copy", async () => {
    const q = uniqueName("dedup");
    await callJson("PUT", `/v1/queues/${q}`, { body: { deduplicationWindow: 0 } });
    const r = await send(q, [{ id: "same", body: 1 }, { id: "same", body: 2 }]);
    expect(r.body.messages.map((m: { duplicate: boolean }) => m.duplicate)).toEqual([false, false]);
  });
});

describe("queue fifo", () => {
  it("queue - FIFO delivers a group in order, one in flight at a time, without blocking other groups", async () => {
    const q = uniqueName("fifo");
    await callJson("PUT", `/v1/queues/${q}`, { body: { fifo: true } });
    await send(q, [
      { body: "a1", group: "a" }, { body: "a2", group: "a" }, { body: "b1", group: "b" }, { body: "a3", group: "a" }, { body: "b2", group: "b" },
    ]);
    const first = await receive(q, { max: 10 });
    expect(first.map((m) => m.body)).toEqual(["a1", "b1"]);
    expect(await receive(q, { max: 10 })).toEqual([]); // both groups have one in flight
    await ackAll(q, [first[1]!]); // b1 done: b flows, a stays blocked behind a1
    expect((await receive(q, { max: 10 })).map((m) => m.body)).toEqual(["b2"]);
    await ackAll(q, [first[0]!]);
    expect((await receive(q, { max: 10 })).map((m) => m.body)).toEqual(["a2"]);
  });

  it("queue - FIFO keeps order across a redelivery: a nacked head comes back before the rest of its group", async () => {
    const q = uniqueName("fifo");
    await callJson("PUT", `/v1/queues/${q}`, { body: { fifo: true } });
    await send(q, [{ body: 1, group: "g" }, { body: 2, group: "g" }]);
    const [head] = await receive(q);
    await callJson("POST", `/v1/queues/${q}/nack`, { body: { receipts: [head!.receipt], delay: 5 } });
    expect(await receive(q)).toEqual([]); // the delayed head still blocks its group
    await advance(q, 6_000);
    const [again] = await receive(q, { max: 10 });
    expect(again).toMatchObject({ body: 1, attempts: 2 });
  });

  it("queue - FIFO without a group treats the whole queue as one group", async () => {
    const q = uniqueName("fifo");
    await callJson("PUT", `/v1/queues/${q}`, { body: { fifo: true } });
    await send(q, [{ body: 1 }, { body: 2 }, { body: 3 }]);
    const out: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const got = await receive(q, { max: 10 });
      expect(got).toHaveLength(1);
      out.push(got[0]!.body);
      await ackAll(q, got);
    }
    expect(out).toEqual([1, 2, 3]);
  });
});

describe("queue delay and delivery mode", () => {
  it("queue - a delayed message is invisible until its delay passes (per message and queue default)", async () => {
    const q = uniqueName("delay");
    await callJson("PUT", `/v1/queues/${q}`, { body: { delay: 20 } });
    await send(q, [{ body: "default" }, { body: "short", delay: 5 }, { body: "now", delay: 0 }]);
    expect((await receive(q, { max: 10 })).map((m) => m.body)).toEqual(["now"]);
    expect(await statsOf(q)).toMatchObject({ delayed: 2 });
    await advance(q, 6_000);
    expect((await receive(q, { max: 10 })).map((m) => m.body)).toEqual(["short"]);
    await advance(q, 15_000);
    expect((await receive(q, { max: 10 })).map((m) => m.body)).toEqual(["default"]);
  });

  it("queue - at-most-once deletes a message as it is delivered and gives no receipt", async () => {
    const q = uniqueName("amo");
    await callJson("PUT", `/v1/queues/${q}`, { body: { delivery: "at-most-once" } });
    await send(q, [{ body: 1 }, { body: 2 }]);
    const got = await receive(q, { max: 10 });
    expect(got.map((m) => [m.body, m.attempts, m.receipt])).toEqual([[1, 1, undefined], [2, 1, undefined]]);
    expect(await statsOf(q)).toMatchObject({ messages: 0, inFlight: 0, received: 2 });
    await advance(q, 3_600_000);
    expect(await receive(q)).toEqual([]);
  });
});

describe("queue limits", () => {
  it("queue - past maxMessages a send is 429 QUEUE_FULL with Retry-After and writes nothing of the batch", async () => {
    const q = uniqueName("full");
    await callJson("PUT", `/v1/queues/${q}`, { body: { maxMessages: 3 } });
    await send(q, [{ body: 1 }, { body: 2 }]);
    const r = await send(q, [{ body: 3 }, { body: 4 }]);
    expect(r.status).toBe(429);
    expect(errorCode(r.body)).toBe("QUEUE_FULL");
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await statsOf(q)).toMatchObject({ messages: 2, sent: 2 });
    expect((await send(q, [{ body: 3 }])).status).toBe(201);
  });

  it("queue - past maxBytes a send is 429 QUEUE_FULL and writes nothing", async () => {
    const q = uniqueName("full");
    await callJson("PUT", `/v1/queues/${q}`, { body: { maxBytes: 10 } });
    await send(q, [{ body: "12345" }]); // 7 bytes as JSON
    const r = await send(q, [{ body: "1" }, { body: "123" }]);
    expect(r.status).toBe(429);
    expect(await statsOf(q)).toMatchObject({ messages: 1, bytes: 7 });
  });

  it("queue - a message over maxMessageBytes is 413 and nothing of the batch is written, nor the queue created", async () => {
    const q = uniqueName("big");
    const r = await send(q, [{ body: "ok" }, { body: "x".repeat(262_144) }]);
    expect(r.status).toBe(413);
    expect(errorCode(r.body)).toBe("PAYLOAD_TOO_LARGE");
    expect(r.body.error.details).toMatchObject({ index: 1, limit: 262_144 });
    expect((await callJson("GET", `/v1/queues/${q}`)).status).toBe(404);
    await callJson("PUT", `/v1/queues/${q}`, { body: { maxMessageBytes: 16 } });
    expect((await send(q, [{ body: "x".repeat(20) }])).status).toBe(413);
    expect(await statsOf(q)).toMatchObject({ messages: 0 });
  });

  it("queue - retention deletes messages older than retention by alarm", async () => {
    const q = uniqueName("ret");
    await callJson("PUT", `/v1/queues/${q}`, { body: { retention: 60 } });
    await send(q, [{ body: "old" }]);
    await advance(q, 30_000);
    await send(q, [{ body: "new" }]);
    await advance(q, 31_000); // "old" is now 61 s old, "new" 31 s
    expect((await receive(q, { max: 10 })).map((m) => m.body)).toEqual(["new"]);
    expect(await statsOf(q)).toMatchObject({ messages: 1 });
  });
});
