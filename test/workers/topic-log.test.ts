// The topic log: offsets under concurrency, read/replay, retention, compaction, dedup expiry,
// backpressure and partition growth. Alarms are fired directly; time moves with the objects'
// clock (advanceClock), forward only, for this whole file.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TopicPartition } from "../../durable-objects/topic/object";
import { GroupCommit } from "../../durable-objects/topic/log/commit";
import { advanceClock, toRealTime } from "../../durable-objects/shared/clock";
import { fnv1a32 } from "../../protocol/key-hash";
import { callJson, errorCode, uniqueName } from "./helpers";
import { fireAlarm, publish, publishOk, putTopic, read, readAll, seedStoredBytes, stub, topicStatus } from "./topic-log-helpers";

/** Publishes each message on its own, one second apart on the clock: distinct timestamps. */
async function publishSecondApart(topic: string, messages: unknown[]): Promise<number[]> {
  for (const [i, m] of messages.entries()) {
    if (i > 0) advanceClock(1000);
    await publishOk(topic, [m]);
  }
  return (await readAll(topic)).map((m) => m.timestamp);
}

describe("topic log offsets", () => {
  it("log - offsets are dense and ordered under 200 parallel publishers to one partition", async () => {
    const t = uniqueName("topic");
    await putTopic(t);
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => publish(t, { body: i, id: `m-${i}` })),
    );
    for (const a of answers) expect(a.status).toBe(201);
    const offsets = answers.map((a) => a.body.messages[0]!.offset).sort((x, y) => x - y);
    expect(offsets).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const stored = await readAll(t);
    expect(stored.map((m) => m.offset)).toEqual(offsets);
    // Each offset holds the message its publisher was told it holds.
    for (const a of answers) {
      const m = a.body.messages[0]!;
      expect(stored[m.offset]!.id).toBe(m.id);
    }
  });

  it("log - parallel batches keep each batch's messages contiguous and in order", async () => {
    const t = uniqueName("topic");
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, b) => publishOk(t, Array.from({ length: 50 }, (_, i) => ({ body: { b, i } })))),
    );
    for (const batch of answers) {
      const offs = batch.map((m) => m.offset);
      expect(offs).toEqual(Array.from({ length: 50 }, (_, i) => offs[0]! + i));
    }
    const stored = await readAll(t);
    expect(stored.map((m) => m.offset)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it("log - appends arriving together share one commit, and each caller gets its own answer", async () => {
    const commits: number[][] = [];
    const gc = new GroupCommit<number, string>(async (reqs) => {
      commits.push(reqs);
      return reqs.map((r) => `done-${r}`);
    }, () => 1, 100);
    const answers = await Promise.all([1, 2, 3].map((n) => gc.submit(n)));
    expect(answers).toEqual(["done-1", "done-2", "done-3"]);
    expect(commits).toEqual([[1, 2, 3]]);
    // A full queue is written at once rather than waiting.
    const big = new GroupCommit<number, number>(async (reqs) => {
      commits.push(reqs);
      return reqs;
    }, (r) => r, 10);
    await Promise.all([big.submit(4), big.submit(6), big.submit(1)]);
    expect(commits.slice(1)).toEqual([[4, 6], [1]]);
  });

  it("log - the log and its counters survive eviction", async () => {
    const t = uniqueName("topic");
    await publishOk(t, [{ body: 1, id: "a" }, { body: 2 }]);
    await evictDurableObject(stub(t));
    const more = await publishOk(t, [{ body: 3 }, { body: 4, id: "a" }]);
    expect(more.map((m) => [m.offset, m.duplicate])).toEqual([[2, false], [0, true]]);
    expect((await readAll(t)).map((m) => m.body)).toEqual([1, 2, 3]);
  });

  it("log - LogReader gives first, next, read, offsetAtTime and exists to the other modules", async () => {
    const t = uniqueName("topic");
    const before = await runInDurableObject(stub(t), (o: TopicPartition) => o.log.exists());
    expect(before).toBe(false);
    const ts = await publishSecondApart(t, [{ body: "a", key: "k" }, { body: "b" }, { body: "c" }]);
    expect(ts[1]! - ts[0]!).toBeGreaterThanOrEqual(1000);
    await runInDurableObject(stub(t), (o: TopicPartition) => {
      expect(o.log.exists()).toBe(true);
      expect(o.log.first()).toBe(0);
      expect(o.log.next()).toBe(3);
      expect(o.log.read(1, 10).map((e) => [e.offset, e.body, e.partition])).toEqual([[1, "b", 0], [2, "c", 0]]);
      expect(o.log.read(0, 1)[0]).toMatchObject({ key: "k", headers: {}, timestamp: ts[0] });
      expect(o.log.offsetAtTime(ts[0]! + 500)).toBe(1);
      expect(o.log.offsetAtTime(0)).toBe(0);
      expect(o.log.offsetAtTime(ts[2]! + 1)).toBe(3);
    });
  });
});

describe("topic log read", () => {
  it("read - from every kind of position: default, an offset, the end, a time, with limit and next", async () => {
    const t = uniqueName("topic");
    const ts = await publishSecondApart(t, Array.from({ length: 10 }, (_, i) => ({ body: i })));
    const all = await read(t);
    expect(all.body.messages.map((m) => m.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([all.body.first, all.body.next]).toEqual([0, 10]);
    const page = await read(t, "from=3&limit=4");
    expect(page.body.messages.map((m) => m.body)).toEqual([3, 4, 5, 6]);
    expect(page.body.next).toBe(7);
    const rest = await read(t, `from=${page.body.next}&limit=100`);
    expect(rest.body.messages.map((m) => m.offset)).toEqual([7, 8, 9]);
    expect(rest.body.next).toBe(10);
    const end = await read(t, "from=10");
    expect(end.body).toEqual({ messages: [], first: 0, next: 10 });
    const since = await read(t, `since=${ts[4]! - 500}&limit=2`);
    expect(since.body.messages.map((m) => m.offset)).toEqual([4, 5]);
    expect((await read(t, `since=${ts[9]! + 1}`)).body).toEqual({ messages: [], first: 0, next: 10 });
    const m = (await read(t, "from=2&limit=1")).body.messages[0]!;
    expect(m).toEqual({ partition: 0, offset: 2, id: expect.any(String), key: null, body: 2, headers: {}, timestamp: ts[2] });
  });

  it("read - a read below the first kept offset starts at first and carries it", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { retentionBytes: 10_000 });
    await publishOk(t, Array.from({ length: 10 }, (_, i) => ({ body: "x".repeat(1000), id: `id-${i}` })));
    await fireAlarm(t);
    const r = await read(t, "from=0&limit=3");
    expect(r.status).toBe(200);
    expect(r.body.first).toBeGreaterThan(0);
    expect(r.body.messages[0]!.offset).toBe(r.body.first);
    expect(r.body.messages.map((m) => m.offset)).toEqual([r.body.first, r.body.first + 1, r.body.first + 2]);
  });

  it("read - bad parameters are 400 VALIDATION_FAILED naming the field", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { partitions: 4 });
    await publishOk(t, [{ body: 1, key: "a" }]);
    const cases: Array<[string, string]> = [
      ["partition=4", "partition"], ["partition=-1", "partition"], ["partition=x", "partition"], ["partition=1.5", "partition"],
      ["from=-1", "from"], ["from=abc", "from"], ["from=1e3", "from"], ["from=99", "from"],
      ["since=-5", "since"], ["from=0&since=0", "since"],
      ["limit=0", "limit"], ["limit=1001", "limit"], ["limit=ten", "limit"],
    ];
    for (const [q, field] of cases) {
      const r = await read(t, q);
      expect(r.status, q).toBe(400);
      expect(errorCode(r.body)).toBe("VALIDATION_FAILED");
      expect((r.body as any).error.details.field, q).toBe(field);
    }
  });
});

describe("topic log retention", () => {
  it("retention - messages older than the retention period are gone after the alarm", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { retention: 60 });
    await publishOk(t, [{ body: "old-1" }, { body: "old-2" }]);
    advanceClock(61_000);
    await publishOk(t, [{ body: "new" }]);
    expect(await fireAlarm(t)).toBe(true);
    const r = await read(t, "from=0");
    expect(r.body.messages.map((m) => m.body)).toEqual(["new"]);
    expect(r.body.first).toBe(2);
    const status = await topicStatus(t);
    expect(status.body.partitions[0]).toMatchObject({ first: 2, next: 3 });
    // What is left is exactly the one new message: body "\"new\"" (5 bytes) and its 26-character id.
    expect(status.body.partitions[0].bytes).toBe(5 + 26);
  });

  it("retention - the alarm is set for the moment the oldest message expires", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { retention: 60, deduplicationWindow: 300 });
    await publishOk(t, [{ body: 1, id: "a" }]);
    const [m] = await readAll(t);
    const alarm = await runInDurableObject(stub(t), (_o: TopicPartition, s: DurableObjectState) => s.storage.getAlarm());
    // The stored alarm is in real time; the clock may be ahead of it in this file.
    expect(alarm).toBe(toRealTime(m!.timestamp + 60_000));
  });

  it("retention - a superseding write on a compacted topic sets the alarm within 10 s", async () => {
    const t = uniqueName("topic");
    // Compaction is the only deadline here, so the alarm is either still set for it or has
    // already run (and then the superseded message is gone).
    await putTopic(t, { compaction: true, retention: 0, deduplicationWindow: 0 });
    const [first] = await publishOk(t, [{ body: 1, key: "k" }, { body: 2, key: "k" }]);
    const ts = (await read(t, "from=1")).body.messages[0]!.timestamp;
    const alarm = await runInDurableObject(stub(t), (_o: TopicPartition, s: DurableObjectState) => s.storage.getAlarm());
    if (alarm === null) expect((await readAll(t)).map((m) => m.offset)).not.toContain(first!.offset);
    else expect(alarm).toBeLessThanOrEqual(toRealTime(ts + 10_000));
  });

  it("retention - with retention 0 messages are kept however old", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { retention: 0 });
    await publishOk(t, [{ body: 1 }]);
    advanceClock(365 * 86400_000);
    await fireAlarm(t);
    expect((await readAll(t)).map((m) => m.body)).toEqual([1]);
  });

  it("retention - retentionBytes removes the oldest messages until the partition fits", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { retentionBytes: 2000 });
    const sent = await publishOk(t, Array.from({ length: 10 }, (_, i) => ({ body: "x".repeat(480), id: `m${i}` })));
    const size = 482 + 2; // JSON string quotes + id
    await fireAlarm(t);
    const status = await topicStatus(t);
    const p = status.body.partitions[0];
    expect(p.bytes).toBeLessThanOrEqual(2000);
    expect(p.bytes).toBe(size * (10 - p.first));
    expect(p.next).toBe(10);
    const kept = await readAll(t);
    expect(kept.map((m) => m.id)).toEqual(sent.slice(p.first).map((m) => m.id));
    expect(kept.length).toBe(Math.floor(2000 / size));
  });

  it("retention - dedup records expire by alarm, after which the id is accepted again", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { deduplicationWindow: 10 });
    await publishOk(t, [{ id: "once", body: 1 }]);
    expect((await publishOk(t, [{ id: "once", body: 2 }]))[0]).toMatchObject({ offset: 0, duplicate: true });
    expect(await runInDurableObject(stub(t), (o: TopicPartition) => o.log.store.dedupRecords())).toBe(1);
    advanceClock(11_000);
    await fireAlarm(t);
    expect(await runInDurableObject(stub(t), (o: TopicPartition) => o.log.store.dedupRecords())).toBe(0);
    expect((await publishOk(t, [{ id: "once", body: 3 }]))[0]).toMatchObject({ offset: 1, duplicate: false });
  });

  it("retention - a publish sets the alarm; the alarm re-arms for what is still pending", async () => {
    const t = uniqueName("topic");
    await publishOk(t, [{ body: 1, id: "a" }]);
    const alarm = await runInDurableObject(stub(t), (_o: TopicPartition, s: DurableObjectState) => s.storage.getAlarm());
    expect(alarm).not.toBeNull();
    await fireAlarm(t);
    const again = await runInDurableObject(stub(t), (_o: TopicPartition, s: DurableObjectState) => s.storage.getAlarm());
    expect(again).not.toBeNull();
  });
});

describe("topic log compaction", () => {
  it("compaction - keeps only the newest message per key, offsets unchanged, reads work across holes", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { compaction: true });
    const sent = [
      { key: "a", body: "a1" }, { key: "b", body: "b1" }, { key: "a", body: "a2" }, { body: "no key" },
      { key: "c", body: "c1" }, { key: "b", body: "b2" }, { key: "a", body: "a3" },
    ];
    await publishOk(t, sent);
    await fireAlarm(t);
    const kept = await readAll(t);
    expect(kept.map((m) => [m.offset, m.body])).toEqual([[3, "no key"], [4, "c1"], [5, "b2"], [6, "a3"]]);
    const r = await read(t, "from=0&limit=2");
    expect(r.body.first).toBe(3);
    expect(r.body.messages.map((m) => m.offset)).toEqual([3, 4]);
    expect(r.body.next).toBe(5);
    const mid = await read(t, "from=1&limit=10");
    expect(mid.body.messages.map((m) => m.offset)).toEqual([3, 4, 5, 6]);
    // The next write keeps offsets going where they were.
    const more = await publishOk(t, [{ key: "c", body: "c2" }]);
    expect(more[0]!.offset).toBe(7);
    await fireAlarm(t);
    expect((await readAll(t)).map((m) => m.offset)).toEqual([3, 5, 6, 7]);
    const status = await topicStatus(t);
    const bytes = (await readAll(t)).reduce((n, m) => n + JSON.stringify(m.body).length + m.id.length + (m.key?.length ?? 0), 0);
    expect(status.body.partitions[0].bytes).toBe(bytes);
  });

  it("compaction - holes inside a page are skipped and next points past the page", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { compaction: true });
    await publishOk(t, [{ key: "x", body: 0 }, { key: "k", body: 1 }, { key: "x", body: 2 }, { key: "k", body: 3 }, { key: "y", body: 4 }]);
    await fireAlarm(t);
    const r = await read(t, "from=0&limit=1");
    expect(r.body.messages.map((m) => m.offset)).toEqual([2]);
    expect(r.body.next).toBe(3);
    const r2 = await read(t, `from=${r.body.next}&limit=5`);
    expect(r2.body.messages.map((m) => m.offset)).toEqual([3, 4]);
    expect(r2.body.next).toBe(5);
  });

  it("compaction - turning it on compacts the messages already stored", async () => {
    const t = uniqueName("topic");
    await publishOk(t, [{ key: "a", body: 1 }, { key: "a", body: 2 }, { key: "b", body: 3 }]);
    await fireAlarm(t);
    expect((await readAll(t)).length).toBe(3);
    await putTopic(t, { compaction: true });
    await fireAlarm(t);
    expect((await readAll(t)).map((m) => m.body)).toEqual([2, 3]);
  });

  it("compaction - without it, messages with the same key are all kept", async () => {
    const t = uniqueName("topic");
    await publishOk(t, [{ key: "a", body: 1 }, { key: "a", body: 2 }]);
    await fireAlarm(t);
    expect((await readAll(t)).map((m) => m.body)).toEqual([1, 2]);
  });
});

describe("topic backpressure", () => {
  it("backpressure - a partition past its limit that retention has not trimmed answers 429 TOPIC_FULL and writes nothing", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { retentionBytes: 1000 });
    await publishOk(t, [{ body: "x" }]);
    // As if writes had outrun the trimming alarm: the partition holds 3x its limit. (The
    // alarm the publish set is minutes away: nothing trims before the next publish.)
    await seedStoredBytes(t, 0, 3000, 3000);
    const r = await publish(t, { body: "y" });
    expect(r.status).toBe(429);
    expect(errorCode(r.body)).toBe("TOPIC_FULL");
    expect(r.headers.get("retry-after")).toBe("1");
    expect((await topicStatus(t)).body.partitions[0].next).toBe(1);
    await fireAlarm(t);
    const ok = await publish(t, { body: "y" });
    expect(ok.status).toBe(201);
    expect(ok.body.messages[0]!.offset).toBe(1);
  });

  it("backpressure - a batch spanning partitions writes the parts that fit and says which, so a retry with producer ids dedups", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { partitions: 2, retentionBytes: 1000 });
    const keyFor = (p: number) => Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => fnv1a32(k) % 2 === p)!;
    await publishOk(t, [{ body: 0, key: keyFor(1) }]);
    await seedStoredBytes(t, 1, 5000);
    const batch = [{ body: "to-0", key: keyFor(0), id: "first" }, { body: "to-1", key: keyFor(1), id: "second" }];
    const r = await publish(t, { messages: batch });
    expect(r.status).toBe(429);
    const details = (r.body as any).error.details;
    expect(details.messages).toEqual([
      { id: "first", written: true, partition: 0, offset: 0, duplicate: false },
      { id: "second", written: false },
    ]);
    await seedStoredBytes(t, 1, 10);
    const retry = await publishOk(t, batch);
    expect(retry.map((m) => [m.partition, m.offset, m.duplicate])).toEqual([[0, 0, true], [1, 1, false]]);
  });
});

describe("topic partition growth", () => {
  it("partitions - growing adds empty partitions, keeps stored messages, and places keys by the new count", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { partitions: 2 });
    const keys = Array.from({ length: 16 }, (_, i) => `key-${i}`);
    const before = await publishOk(t, keys.map((k) => ({ key: k, body: `before-${k}` })));
    before.forEach((a, i) => expect(a.partition).toBe(fnv1a32(keys[i]!) % 2));
    const grown = await putTopic(t, { partitions: 4 });
    expect(grown.status).toBe(200);
    expect(grown.body.config.partitions).toBe(4);
    const status = await topicStatus(t);
    expect(status.body.partitions.map((p: { partition: number; next: number }) => [p.partition, p.next])).toEqual([
      [0, before.filter((a) => a.partition === 0).length], [1, before.filter((a) => a.partition === 1).length], [2, 0], [3, 0],
    ]);
    const after = await publishOk(t, keys.map((k) => ({ key: k, body: `after-${k}` })));
    after.forEach((a, i) => expect(a.partition).toBe(fnv1a32(keys[i]!) % 4));
    expect(after.some((a) => a.partition >= 2)).toBe(true);
    expect((await read(t, "partition=3")).status).toBe(200);
    const list = await callJson("GET", "/v1/topics");
    expect(list.body.topics).toContainEqual({ name: t, partitions: 4 });
    // Stored messages stay where they were written.
    const p0 = await readAll(t, 0);
    expect(p0.filter((m) => String(m.body).startsWith("before-")).length).toBe(before.filter((a) => a.partition === 0).length);
  });

  it("partitions - a publish routed by a stale partition count is told stale and changes nothing there", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { partitions: 2 });
    const old = (await runInDurableObject(stub(t, 0), (o: TopicPartition) => o.log.info()))!;
    await putTopic(t, { partitions: 3 });
    const msg = { id: "m1", key: null, body: "1", headers: null, size: 3 };
    for (const p of [0, 1]) {
      const r = await stub(t, p).publish({ topic: t, partition: p, info: old, messages: [msg] });
      expect(r).toEqual({ ok: false, error: expect.objectContaining({ code: "CONFLICT", details: { stale: true } }) });
    }
    expect((await topicStatus(t)).body.partitions.map((p: { next: number }) => p.next)).toEqual([0, 0, 0]);
  });

  it("partitions - a partition that missed the config on growth learns it from its home on first contact", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { partitions: 2, retention: 77 });
    // As if the growth had crashed before reaching partition 1: it holds nothing.
    await stub(t, 1).destroyPartition();
    expect(await runInDurableObject(stub(t, 1), (o: TopicPartition) => o.log.exists())).toBe(false);
    const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => fnv1a32(k) % 2 === 1)!;
    const [m] = await publishOk(t, [{ key, body: "hello" }]);
    expect(m).toMatchObject({ partition: 1, offset: 0, duplicate: false });
    const cfg = await runInDurableObject(stub(t, 1), (o: TopicPartition) => o.log.config());
    expect(cfg).toMatchObject({ partitions: 2, retention: 77 });
  });
});
