// What Spool's operations cost on Cloudflare's bill, counted and bounded so a change that
// doubles storage cost fails here. Durable Objects bill requests (RPC calls, fetches,
// alarms; incoming WebSocket messages at 20:1) and SQLite rows read and written; rows
// written cost 1,000x rows read, so the bounds are on rows written (each index entry a
// write counts as one, and so does a setAlarm) and on object requests. The meter
// (bench/worker/meter.ts, shared with `npm run bench`) wraps the objects' methods and
// their `sql.exec`, and sums every cursor's rowsRead / rowsWritten. No timings.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CostMeter, type CostCounts } from "../../bench/worker/meter";
import { Catalog } from "../../durable-objects/catalog/catalog";
import { QueueObject } from "../../durable-objects/queue/object";
import { TopicPartition } from "../../durable-objects/topic/object";
import { callJson, uniqueName } from "./helpers";
import { createTopic, drain, putSubscription, setHooks, subscriptionStatus } from "./subscription-helpers";
import { subscribe } from "./topic-live-helpers";

const meter = new CostMeter();
beforeAll(() => meter.install({ QueueObject, TopicPartition, Catalog }));
afterAll(() => meter.uninstall());

/** What `fn` cost, in every object it reached. */
async function measure(fn: () => Promise<unknown>): Promise<CostCounts> {
  meter.start();
  try {
    await fn();
  } catch (err) {
    meter.stop(); // a failing call must not leave the meter counting for the next test
    throw err;
  }
  return meter.stop();
}

/** `n` messages of about 100 bytes, like the bench's, without ids (the server assigns them). */
const batch = (n: number) => Array.from({ length: n }, (_, i) => ({ body: { seq: i, user: `user-${i % 1000}`, action: "page.view", path: "/products/1234" } }));

async function ok<T = any>(method: string, path: string, body: unknown): Promise<T> {
  const r = await callJson<T>(method, path, { body });
  expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  return r.body;
}

describe("cost per message", () => {
  it("cost - a publish writes 2 rows per message (entry and time index) and 1 for the partition, in 1 request", async () => {
    const t = uniqueName("cost-pub");
    await createTopic(t);
    await ok("POST", `/v1/topics/${t}/messages`, { messages: batch(1) }); // the partition's first write is not steady state
    for (const [n, requests] of [[1, 10], [100, 3], [1000, 2]] as const) {
      const c = await measure(async () => {
        for (let i = 0; i < requests; i++) await ok("POST", `/v1/topics/${t}/messages`, { messages: batch(n) });
      });
      expect(c.requests, `publish of ${n}: ${JSON.stringify(c.calls)}`).toBe(requests);
      expect(c.rowsWritten, `publish of ${n}`).toBeLessThanOrEqual(requests * (2 * n + 1));
    }
  });

  it("cost - send, receive and ack of a batch of 100 write at most 8.1 rows per message in 3 requests", async () => {
    const q = uniqueName("cost-q");
    await ok("PUT", `/v1/queues/${q}`, {});
    const n = 100;
    const send = await measure(() => ok("POST", `/v1/queues/${q}/messages`, { messages: batch(n) }));
    let receipts: string[] = [];
    const receive = await measure(async () => {
      receipts = (await ok<{ messages: { receipt: string }[] }>("POST", `/v1/queues/${q}/receive`, { max: n })).messages.map((m) => m.receipt);
    });
    expect(receipts).toHaveLength(n);
    const ack = await measure(() => ok("POST", `/v1/queues/${q}/ack`, { receipts }));
    // send: the message and its 2 index entries, its dedup record and expiry entry; the
    // counters (next seq, messages, bytes, dedup records, sent) once per batch.
    expect(send.rowsWritten).toBeLessThanOrEqual(5 * n + 6);
    // receive: the message and its state index entry; the received counter once.
    expect(receive.rowsWritten).toBeLessThanOrEqual(2 * n + 2);
    // ack: the deleted message; the counters (messages, bytes, acked) once.
    expect(ack.rowsWritten).toBeLessThanOrEqual(n + 4);
    expect((send.rowsWritten + receive.rowsWritten + ack.rowsWritten) / n).toBeLessThanOrEqual(8.12);
    expect([send.requests, receive.requests, ack.requests]).toEqual([1, 1, 1]);
  });

  it("cost - a nack of 100 writes at most 2 rows per message", async () => {
    const q = uniqueName("cost-nack");
    await ok("POST", `/v1/queues/${q}/messages`, { messages: batch(100) });
    const got = await ok<{ messages: { receipt: string }[] }>("POST", `/v1/queues/${q}/receive`, { max: 100 });
    const nack = await measure(() => ok("POST", `/v1/queues/${q}/nack`, { receipts: got.messages.map((m) => m.receipt) }));
    expect(nack.rowsWritten).toBeLessThanOrEqual(2 * 100 + 2);
    expect(nack.requests).toBe(1);
  });

  it("cost - a consumer group's poll and ack of 100 write at most 2 rows per message each", async () => {
    const t = uniqueName("cost-grp");
    await createTopic(t);
    await ok("POST", `/v1/topics/${t}/messages`, { messages: batch(201) });
    const first = await ok<{ messages: { receipt: string }[] }>("POST", `/v1/topics/${t}/groups/g/poll`, { max: 1 });
    await ok("POST", `/v1/topics/${t}/groups/g/ack`, { receipts: first.messages.map((m) => m.receipt) });
    let receipts: string[] = [];
    const poll = await measure(async () => {
      receipts = (await ok<{ messages: { receipt: string }[] }>("POST", `/v1/topics/${t}/groups/g/poll`, { max: 100 })).messages.map((m) => m.receipt);
    });
    expect(receipts).toHaveLength(100);
    const ack = await measure(() => ok("POST", `/v1/topics/${t}/groups/g/ack`, { receipts }));
    expect(poll.rowsWritten).toBeLessThanOrEqual(2 * 100 + 4);
    expect(ack.rowsWritten).toBeLessThanOrEqual(2 * 100 + 4);
    expect([poll.requests, ack.requests]).toEqual([1, 1]);
  });

  it("cost - forwarding 100 messages into a queue costs the queue's send plus a few rows, in 2 requests", async () => {
    const t = uniqueName("cost-fwd");
    const q = uniqueName("cost-fwd-q");
    await createTopic(t);
    await putSubscription(t, "s", { queue: q });
    await ok("POST", `/v1/topics/${t}/messages`, { messages: batch(1) });
    await drain(t);
    await ok("POST", `/v1/topics/${t}/messages`, { messages: batch(100) });
    const c = await measure(() => drain(t));
    expect((await subscriptionStatus(t, "s")).lag).toBe(0);
    // The queue's send of 100 (5 rows a message + counters), the subscription's position.
    expect(c.rowsWritten).toBeLessThanOrEqual(5 * 100 + 10);
    // One alarm of the partition, one send to the queue.
    expect(c.requests, JSON.stringify(c.calls)).toBeLessThanOrEqual(2);
  });

  it("cost - delivering 100 messages to a webhook writes about 1 row per message", async () => {
    const t = uniqueName("cost-hook");
    await createTopic(t);
    await putSubscription(t, "w", { url: "http://127.0.0.1:9/hook" });
    let delivered = 0;
    await setHooks(t, 0, { fetch: async () => (delivered++, new Response("ok")) });
    await ok("POST", `/v1/topics/${t}/messages`, { messages: batch(1) });
    await drain(t);
    await ok("POST", `/v1/topics/${t}/messages`, { messages: batch(100) });
    const c = await measure(() => drain(t));
    expect(delivered).toBe(101);
    expect(c.rowsWritten).toBeLessThanOrEqual(100 + 4);
    expect(c.requests, JSON.stringify(c.calls)).toBeLessThanOrEqual(2);
  });

  it("cost - live delivery writes no row: a publish costs the same with a subscriber as without", async () => {
    const t = uniqueName("cost-live");
    await createTopic(t);
    await ok("POST", `/v1/topics/${t}/messages`, { messages: batch(1) });
    const publishes = async () => {
      for (let i = 0; i < 20; i++) await ok("POST", `/v1/topics/${t}/messages`, { messages: batch(1) });
    };
    const alone = await measure(publishes);
    const sub = await subscribe(t, "from=latest", { autoAck: 10 });
    try {
      const live = await measure(async () => {
        await publishes();
        await sub.untilOffsets(20);
      });
      expect(live.rowsWritten).toBe(alone.rowsWritten);
      expect(live.rowsRead).toBeLessThanOrEqual(alone.rowsRead);
      // The publishes, plus the subscriber's acks (one per 10 messages here), which bill at 20:1.
      expect(live.requests).toBe(alone.requests);
      expect(live.wsMessages).toBeLessThanOrEqual(2);
    } finally {
      sub.close();
    }
  });
});
