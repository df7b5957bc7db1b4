// Queue endpoints end to end through the Worker: config, send/receive/ack, peek, purge,
// delete, the Catalog listing and stats.
import { describe, expect, it } from "vitest";
import { callJson, errorCode, uniqueName } from "./helpers";
import { statsOf } from "./queue-helpers";

const STAT_NAMES = ["visible", "inFlight", "delayed", "messages", "bytes", "oldestAgeMs", "consumers", "sent", "received", "acked", "deadLettered", "duplicates"];

describe("queue config", () => {
  it("queue - PUT with no body creates the queue with the documented defaults", async () => {
    const q = uniqueName("cfg");
    const { status, body } = await callJson("PUT", `/v1/queues/${q}`);
    expect(status).toBe(200);
    expect(body.name).toBe(q);
    expect(typeof body.createdAt).toBe("number");
    expect(body.config).toEqual({
      visibilityTimeout: 30, maxReceives: 5, deadLetterQueue: `${q}.dlq`, fifo: false, deduplicationWindow: 300,
      delay: 0, retention: 345600, maxMessages: 100000, maxBytes: 268435456, maxMessageBytes: 262144, delivery: "at-least-once",
    });
  });

  it("queue - PUT changes only the fields given and keeps createdAt", async () => {
    const q = uniqueName("cfg");
    const first = await callJson("PUT", `/v1/queues/${q}`, { body: { visibilityTimeout: 10, locationHint: "weur" } });
    const second = await callJson("PUT", `/v1/queues/${q}`, { body: { maxReceives: 2, deadLetterQueue: null } });
    expect(second.status).toBe(200);
    expect(second.body.createdAt).toBe(first.body.createdAt);
    expect(second.body.config).toMatchObject({ visibilityTimeout: 10, maxReceives: 2, deadLetterQueue: null, locationHint: "weur" });
    const got = await callJson("GET", `/v1/queues/${q}`);
    expect(got.body.config).toEqual(second.body.config);
  });

  it("queue - changing fifo later is 409 CONFLICT and changes nothing", async () => {
    const q = uniqueName("cfg");
    await callJson("PUT", `/v1/queues/${q}`, { body: { fifo: true } });
    const { status, body } = await callJson("PUT", `/v1/queues/${q}`, { body: { fifo: false, visibilityTimeout: 99 } });
    expect(status).toBe(409);
    expect(errorCode(body)).toBe("CONFLICT");
    const got = await callJson("GET", `/v1/queues/${q}`);
    expect(got.body.config).toMatchObject({ fifo: true, visibilityTimeout: 30 });
    // Repeating the same fifo value is not a change.
    expect((await callJson("PUT", `/v1/queues/${q}`, { body: { fifo: true } })).status).toBe(200);
  });

  it("queue - a name whose {q}.dlq would pass 128 characters must name its dead-letter queue", async () => {
    const q = `l${"x".repeat(125)}`; // 126 characters: valid, but "{q}.dlq" is 130
    const implicit = await callJson("POST", `/v1/queues/${q}/messages`, { body: { body: 1 } });
    expect(implicit.status).toBe(400);
    expect(implicit.body.error.details.field).toBe("deadLetterQueue");
    const bare = await callJson("PUT", `/v1/queues/${q}`);
    expect(bare.status).toBe(400);
    expect((await callJson("GET", `/v1/queues/${q}`)).status).toBe(404);
    const named = await callJson("PUT", `/v1/queues/${q}`, { body: { deadLetterQueue: "long-dlq" } });
    expect(named.status).toBe(200);
    expect((await callJson("POST", `/v1/queues/${q}/messages`, { body: { body: 1 } })).status).toBe(201);
  });

  it("queue - GET shows stats with exactly the documented names", async () => {
    const q = uniqueName("cfg");
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { messages: [{ body: "a" }, { body: "b", delay: 60 }] } });
    await callJson("POST", `/v1/queues/${q}/receive`, { body: {} });
    const stats = await statsOf(q);
    expect(Object.keys(stats).sort()).toEqual([...STAT_NAMES].sort());
    expect(stats).toMatchObject({ visible: 0, inFlight: 1, delayed: 1, messages: 2, sent: 2, received: 1, acked: 0, consumers: 0 });
    expect(stats.bytes).toBe(6); // '"a"' + '"b"'
  });
});

describe("queue send, receive, ack", () => {
  it("queue - first send creates the queue; a single message object works like a batch of one", async () => {
    const q = uniqueName("snd");
    expect((await callJson("GET", `/v1/queues/${q}`)).status).toBe(404);
    const one = await callJson("POST", `/v1/queues/${q}/messages`, { body: { body: { task: 1 }, headers: { k: "v" } } });
    expect(one.status).toBe(201);
    expect(one.body.messages).toHaveLength(1);
    expect(one.body.messages[0]).toMatchObject({ seq: 1, duplicate: false });
    const batch = await callJson("POST", `/v1/queues/${q}/messages`, { body: { messages: [{ body: 2, id: "two" }, { body: 3 }] } });
    expect(batch.body.messages.map((m: { seq: number }) => m.seq)).toEqual([2, 3]);
    expect(batch.body.messages[0].id).toBe("two");
  });

  it("queue - receive leases messages in send order with receipt and attempts; ack deletes them", async () => {
    const q = uniqueName("snd");
    const sent = await callJson("POST", `/v1/queues/${q}/messages`, { body: { messages: [{ body: "a", headers: { x: "1" } }, { body: "b" }, { body: "c" }] } });
    const r = await callJson("POST", `/v1/queues/${q}/receive`, { body: { max: 2 } });
    expect(r.status).toBe(200);
    expect(r.body.messages.map((m: { body: string }) => m.body)).toEqual(["a", "b"]);
    const [a] = r.body.messages;
    expect(a).toMatchObject({ id: sent.body.messages[0].id, seq: 1, headers: { x: "1" }, attempts: 1 });
    expect(typeof a.receipt).toBe("string");
    expect(typeof a.sentAt).toBe("number");
    const acked = await callJson("POST", `/v1/queues/${q}/ack`, { body: { receipts: r.body.messages.map((m: { receipt: string }) => m.receipt) } });
    expect(acked.body).toEqual({ acked: 2, failed: [] });
    expect(await statsOf(q)).toMatchObject({ messages: 1, visible: 1, inFlight: 0, acked: 2 });
  });

  it("queue - receive on an empty queue without wait answers at once with no messages", async () => {
    const q = uniqueName("snd");
    await callJson("PUT", `/v1/queues/${q}`);
    const r = await callJson("POST", `/v1/queues/${q}/receive`, { body: { max: 10 } });
    expect(r).toMatchObject({ status: 200, body: { messages: [] } });
  });

  it("queue - peek shows every state in seq order and takes no lease", async () => {
    const q = uniqueName("peek");
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { messages: [{ body: 1, group: "g" }, { body: 2, delay: 30 }, { body: 3 }] } });
    await callJson("POST", `/v1/queues/${q}/receive`, { body: {} });
    const { status, body } = await callJson("GET", `/v1/queues/${q}/messages?limit=10`);
    expect(status).toBe(200);
    expect(body.messages.map((m: { body: number; state: string }) => [m.body, m.state])).toEqual([[1, "inFlight"], [2, "delayed"], [3, "visible"]]);
    expect(body.messages[0]).toMatchObject({ group: "g", attempts: 1 });
    expect(body.messages[0].receipt).toBeUndefined();
    expect((await callJson("GET", `/v1/queues/${q}/messages`)).body.messages).toHaveLength(1); // limit defaults to 1
    expect(await statsOf(q)).toMatchObject({ inFlight: 1, received: 1 });
  });

  it("queue - purge deletes every message and reports how many", async () => {
    const q = uniqueName("purge");
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { messages: [{ body: 1 }, { body: 2 }, { body: 3, delay: 10 }] } });
    const leased = await callJson("POST", `/v1/queues/${q}/receive`, { body: {} });
    expect((await callJson("POST", `/v1/queues/${q}/purge`)).body).toEqual({ purged: 3 });
    expect(await statsOf(q)).toMatchObject({ messages: 0, bytes: 0, visible: 0, inFlight: 0, delayed: 0 });
    const late = await callJson("POST", `/v1/queues/${q}/ack`, { body: { receipts: [leased.body.messages[0].receipt] } });
    expect(late.body.failed).toEqual([{ receipt: leased.body.messages[0].receipt, code: "RECEIPT_INVALID" }]);
  });
});

describe("queue catalog and delete", () => {
  it("queue - GET /v1/queues lists created queues with stats; DELETE removes queue, messages and listing", async () => {
    const q = uniqueName("cat");
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { body: "x" } });
    const list = await callJson("GET", "/v1/queues");
    expect(list.status).toBe(200);
    const entry = list.body.queues.find((e: { name: string }) => e.name === q);
    expect(entry.stats).toMatchObject({ messages: 1, visible: 1 });
    expect((await callJson("DELETE", `/v1/queues/${q}`)).status).toBe(204);
    expect((await callJson("GET", "/v1/queues")).body.queues.some((e: { name: string }) => e.name === q)).toBe(false);
    for (const [method, path] of [["GET", ""], ["POST", "/receive"], ["GET", "/messages"], ["DELETE", ""]] as const) {
      const r = await callJson(method, `/v1/queues/${q}${path}`, method === "POST" ? { body: {} } : {});
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(errorCode(r.body)).toBe("NOT_FOUND");
    }
    // A send after delete creates a fresh, empty queue.
    const again = await callJson("POST", `/v1/queues/${q}/messages`, { body: { body: "y" } });
    expect(again.body.messages[0].seq).toBe(1);
    expect(await statsOf(q)).toMatchObject({ messages: 1, sent: 1 });
  });
});
