// Subscriptions into queues: where they start, what arrives, exactly once across a failure
// between the queue's write and the position update, order per partition, filters,
// backpressure from a full queue, status and delete.
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { partitionStub } from "../../durable-objects/env";
import { callJson, errorCode, uniqueName } from "./helpers";
import {
  createTopic, drain, makeRetriesDue, peekQueue, publish, putSubscription, retryUntilSettled, setHooks, subscriptionStatus,
} from "./subscription-helpers";

describe("subscriptions into queues", () => {
  it("subscription - forwards from where it was created with id, body, headers and key intact", async () => {
    const t = uniqueName("topic");
    const q = uniqueName("q");
    await createTopic(t);
    await publish(t, [{ id: "before", body: { n: 0 } }]);
    await drain(t);
    const created = await putSubscription(t, "s", { queue: q });
    expect(created.target).toEqual({ type: "queue", queue: q });
    expect(created.partitions[0].position).toBe(1);

    await publish(t, [
      { id: "m1", body: { n: 1 }, key: "user-7", headers: { type: "signup" } },
      { id: "m2", body: [1, "two"], headers: { a: "b" } },
      { id: "m3", body: "plain" },
    ]);
    await drain(t);

    const msgs = await peekQueue(q);
    expect(msgs.map((m) => m.id)).toEqual(["m1", "m2", "m3"]);
    expect(msgs[0]!.body).toEqual({ n: 1 });
    expect(msgs[0]!.headers).toEqual({ type: "signup", "spool-key": "user-7" });
    expect(msgs[1]!.body).toEqual([1, "two"]);
    expect(msgs[1]!.headers).toEqual({ a: "b" });
    expect(msgs[2]!.body).toBe("plain");
    const status = await subscriptionStatus(t, "s");
    expect(status).toMatchObject({ delivered: 3, lag: 0, failed: 0, skipped: 0, lastError: null });
    expect(status.partitions[0]).toMatchObject({ partition: 0, position: 4, next: 4, lag: 0 });
  });

  it("subscription - the target queue is created if it does not exist; the topic must exist", async () => {
    const t = uniqueName("topic");
    const q = uniqueName("q");
    expect((await callJson("GET", `/v1/queues/${q}`)).status).toBe(404);
    const missing = await callJson("PUT", `/v1/topics/${t}/subscriptions/s`, { body: { queue: q } });
    expect(missing.status).toBe(404);
    expect(errorCode(missing.body)).toBe("NOT_FOUND");
    expect((await callJson("GET", `/v1/queues/${q}`)).status).toBe(404);

    await createTopic(t);
    await putSubscription(t, "s", { queue: q });
    const queue = await callJson("GET", `/v1/queues/${q}`);
    expect(queue.status).toBe(200);
    expect(queue.body.stats.messages).toBe(0);
  });

  it("subscription - exactly once into a queue when the forwarder fails between the queue write and its position update", async () => {
    const t = uniqueName("topic");
    const q = uniqueName("q");
    await createTopic(t);
    await putSubscription(t, "s", { queue: q });
    // The queue accepts the batch, then the forwarder "crashes" before moving its position.
    await setHooks(t, 0, { afterTargetWrite: () => { throw new Error("crash after queue write"); } });
    const sent = await publish(t, Array.from({ length: 5 }, (_, i) => ({ id: `x${i}`, body: i })));
    await drain(t);

    expect((await peekQueue(q)).map((m) => m.id)).toEqual(sent.map((m) => m.id));
    const failed = await subscriptionStatus(t, "s");
    expect(failed.partitions[0]).toMatchObject({ position: 0, lag: 5, attempts: 1 });
    expect(failed.lastError).toMatchObject({ code: "INTERNAL", partition: 0, offset: 0 });
    expect(failed.partitions[0].retryAt).toBeGreaterThan(failed.lastError.at);

    // The object restarts (the fault is gone with the instance) and the retry comes due.
    await evictDurableObject(partitionStub(env, t, 0));
    expect(await makeRetriesDue(t)).toBe(1);
    await drain(t);

    const msgs = await peekQueue(q);
    expect(msgs.map((m) => m.id)).toEqual(["x0", "x1", "x2", "x3", "x4"]);
    const queue = await callJson("GET", `/v1/queues/${q}`);
    expect(queue.body.stats.messages).toBe(5);
    expect(queue.body.stats.duplicates).toBe(5);
    const done = await subscriptionStatus(t, "s");
    expect(done).toMatchObject({ delivered: 5, lag: 0 });
    expect(done.partitions[0]).toMatchObject({ position: 5, attempts: 0, retryAt: null });
  });

  it("subscription - forwards in offset order per partition", async () => {
    const t = uniqueName("topic");
    const q = uniqueName("q");
    await createTopic(t, 3);
    await putSubscription(t, "s", { queue: q });
    const where = new Map<string, { partition: number; offset: number }>();
    for (let batch = 0; batch < 4; batch++) {
      const msgs = Array.from({ length: 40 }, (_, i) => ({ key: `k${i % 7}`, body: { batch, i } }));
      for (const m of await publish(t, msgs)) where.set(m.id, m);
      // Forward part-way between batches so batches interleave with forwarding.
      if (batch % 2 === 0) await drain(t, 3);
    }
    await drain(t, 3);

    const arrived = await peekQueue(q);
    expect(arrived.length).toBe(160);
    const lastOffset = new Map<number, number>();
    for (const m of arrived) {
      const { partition, offset } = where.get(m.id)!;
      expect(offset).toBeGreaterThan(lastOffset.get(partition) ?? -1);
      lastOffset.set(partition, offset);
    }
    expect(lastOffset.size).toBeGreaterThan(1);
    const status = await subscriptionStatus(t, "s");
    expect(status.partitions.map((p: { partition: number }) => p.partition)).toEqual([0, 1, 2]);
    expect(status).toMatchObject({ delivered: 160, lag: 0 });
  });

  it("subscription - a filter forwards only messages whose headers all match and counts the rest as skipped", async () => {
    const t = uniqueName("topic");
    const q = uniqueName("q");
    await createTopic(t);
    const created = await putSubscription(t, "s", { queue: q, filter: { type: "signup", region: "eu" } });
    expect(created.filter).toEqual({ type: "signup", region: "eu" });
    await publish(t, [
      { id: "yes1", body: 1, headers: { type: "signup", region: "eu", extra: "x" } },
      { id: "no-region", body: 2, headers: { type: "signup" } },
      { id: "no-value", body: 3, headers: { type: "signup", region: "us" } },
      { id: "no-case", body: 4, headers: { type: "Signup", region: "eu" } },
      { id: "none", body: 5 },
      { id: "yes2", body: 6, headers: { region: "eu", type: "signup" } },
    ]);
    await drain(t);
    expect((await peekQueue(q)).map((m) => m.id)).toEqual(["yes1", "yes2"]);
    expect(await subscriptionStatus(t, "s")).toMatchObject({ delivered: 2, skipped: 4, lag: 0 });
  });

  it("subscription - a full target queue is retried later and nothing is skipped", async () => {
    const t = uniqueName("topic");
    const q = uniqueName("q");
    await createTopic(t);
    expect((await callJson("PUT", `/v1/queues/${q}`, { body: { maxMessages: 2 } })).status).toBe(200);
    await putSubscription(t, "s", { queue: q });
    await publish(t, Array.from({ length: 5 }, (_, i) => ({ id: `f${i}`, body: i })));
    await retryUntilSettled(t, 1, 6);

    expect((await peekQueue(q)).map((m) => m.id)).toEqual(["f0", "f1"]);
    const blocked = await subscriptionStatus(t, "s");
    expect(blocked).toMatchObject({ delivered: 2, lag: 3 });
    expect(blocked.lastError).toMatchObject({ code: "QUEUE_FULL", offset: 2 });

    // The consumer makes room; the forwarder catches up without losing or repeating anything.
    const got: string[] = [];
    for (let round = 0; round < 5 && got.length < 5; round++) {
      const r = await callJson("POST", `/v1/queues/${q}/receive`, { body: { max: 10 } });
      const receipts = r.body.messages.map((m: { receipt: string }) => m.receipt);
      got.push(...r.body.messages.map((m: { id: string }) => m.id));
      if (receipts.length) expect((await callJson("POST", `/v1/queues/${q}/ack`, { body: { receipts } })).body.acked).toBe(receipts.length);
      await retryUntilSettled(t, 1, 6);
    }
    expect(got).toEqual(["f0", "f1", "f2", "f3", "f4"]);
    expect(await subscriptionStatus(t, "s")).toMatchObject({ delivered: 5, lag: 0 });
  });

  it("subscription - PUT again changes the filter and keeps the position", async () => {
    const t = uniqueName("topic");
    const q = uniqueName("q");
    await createTopic(t);
    await putSubscription(t, "s", { queue: q, filter: { keep: "no" } });
    await publish(t, [{ id: "a", body: 1, headers: { keep: "yes" } }]);
    await drain(t);
    const updated = await putSubscription(t, "s", { queue: q, filter: { keep: "yes" } });
    expect(updated).toMatchObject({ skipped: 1, filter: { keep: "yes" } });
    expect(updated.partitions[0].position).toBe(1);
    await publish(t, [{ id: "b", body: 2, headers: { keep: "yes" } }]);
    await drain(t);
    expect((await peekQueue(q)).map((m) => m.id)).toEqual(["b"]);
  });

  it("subscription - partitions added when the topic grows forward too, from their first message", async () => {
    const t = uniqueName("topic");
    const q = uniqueName("q");
    await createTopic(t, 1);
    await putSubscription(t, "s", { queue: q });
    await publish(t, [{ id: "g0", body: 0 }]);
    await createTopic(t, 3);
    const sent = await publish(t, Array.from({ length: 30 }, (_, i) => ({ id: `g${i + 1}`, key: `key-${i}`, body: i })));
    expect(new Set(sent.map((m) => m.partition)).size).toBe(3);
    await drain(t, 3);
    const arrived = (await peekQueue(q)).map((m) => m.id).sort();
    expect(arrived).toEqual(["g0", ...sent.map((m) => m.id)].sort());
    const status = await subscriptionStatus(t, "s");
    expect(status.partitions.map((p: { partition: number }) => p.partition)).toEqual([0, 1, 2]);
    expect(status).toMatchObject({ delivered: 31, lag: 0 });
    // A repeated topic PUT leaves the subscriptions where they are.
    await createTopic(t, 3);
    expect(await subscriptionStatus(t, "s")).toMatchObject({ delivered: 31, lag: 0 });
  });

  it("subscription - offsets removed by retention before they were forwarded are reported, not waited for", async () => {
    const t = uniqueName("topic");
    const q = uniqueName("q");
    expect((await callJson("PUT", `/v1/topics/${t}`, { body: { retentionBytes: 1 } })).status).toBe(200);
    expect((await callJson("PUT", `/v1/queues/${q}`, { body: { maxMessages: 1 } })).status).toBe(200);
    expect((await callJson("POST", `/v1/queues/${q}/messages`, { body: { id: "filler", body: 0 } })).status).toBe(201);
    await putSubscription(t, "s", { queue: q });
    await publish(t, [{ id: "e1", body: 1 }, { id: "e2", body: 2 }, { id: "e3", body: 3 }]);
    // The queue is full, so nothing forwards; meanwhile the byte limit removes all three.
    await retryUntilSettled(t, 1, 3);
    expect((await peekQueue(q)).map((m) => m.id)).toEqual(["filler"]);
    const st = await subscriptionStatus(t, "s");
    expect(st.partitions[0]).toMatchObject({ position: 3, next: 3, lag: 0 });
    expect(st).toMatchObject({ delivered: 0, lastError: { code: "OFFSETS_EXPIRED", partition: 0 } });
    expect(st.lastError.message).toContain("0..2");
  });

  it("subscription - DELETE stops forwarding at once", async () => {
    const t = uniqueName("topic");
    const q = uniqueName("q");
    await createTopic(t, 2);
    await putSubscription(t, "s", { queue: q });
    await publish(t, [{ id: "d1", body: 1 }, { id: "d2", body: 2 }]);
    await drain(t, 2);
    expect((await callJson("DELETE", `/v1/topics/${t}/subscriptions/s`)).status).toBe(204);
    await publish(t, [{ id: "d3", body: 3 }, { id: "d4", body: 4 }]);
    await drain(t, 2);
    expect((await peekQueue(q)).map((m) => m.id).sort()).toEqual(["d1", "d2"]);
    const gone = await callJson("GET", `/v1/topics/${t}/subscriptions/s`);
    expect(gone.status).toBe(404);
    expect(errorCode(gone.body)).toBe("NOT_FOUND");
    expect((await callJson("DELETE", `/v1/topics/${t}/subscriptions/s`)).status).toBe(404);
  });
});
