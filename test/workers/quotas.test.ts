// Quotas and bounded growth (API.md, Conventions → Quotas): SPOOL_MAX_QUEUES, SPOOL_MAX_TOPICS,
// SPOOL_MAX_GROUPS_PER_TOPIC and SPOOL_MAX_SUBSCRIPTIONS_PER_TOPIC; creating past one is
// 409 QUOTA_EXCEEDED and creates nothing, by PUT and by implicit creation alike. Dedup records
// are bounded too: past the bound, writes with new ids are 429 until records expire.
// Each test sets the var it needs for its own duration (the Worker and the objects read them
// per call), relative to what this file's storage already holds.
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { catalogStub, type Env } from "../../durable-objects/env";
import { advanceClock } from "../../durable-objects/shared/clock";
import type { TopicPartition } from "../../durable-objects/topic/object";
import { MAX_PARTITION_DEDUP_RECORDS } from "../../protocol/limits";
import { callJson, errorCode, uniqueName } from "./helpers";
import { advance, statsOf } from "./queue-helpers";
import { fireAlarm, stub as partitionStub } from "./topic-log-helpers";

type QuotaVar = "SPOOL_MAX_QUEUES" | "SPOOL_MAX_TOPICS" | "SPOOL_MAX_GROUPS_PER_TOPIC" | "SPOOL_MAX_SUBSCRIPTIONS_PER_TOPIC";
const vars = env as Env;

function setQuota(name: QuotaVar, value: number): void {
  vars[name] = String(value);
}

afterEach(() => {
  for (const name of ["SPOOL_MAX_QUEUES", "SPOOL_MAX_TOPICS", "SPOOL_MAX_GROUPS_PER_TOPIC", "SPOOL_MAX_SUBSCRIPTIONS_PER_TOPIC"] as const) delete vars[name];
});

const listed = (kind: "queues" | "topics"): Promise<number> => catalogStub(env).count(kind);

async function expectQuotaExceeded(r: { status: number; body: unknown }, quota: QuotaVar): Promise<void> {
  expect(r.status, JSON.stringify(r.body)).toBe(409);
  expect(errorCode(r.body)).toBe("QUOTA_EXCEEDED");
  expect((r.body as { error: { details: Record<string, unknown> } }).error.details).toMatchObject({ quota });
}

describe("quotas - queues and topics", () => {
  it("quotas - creating a queue past SPOOL_MAX_QUEUES is 409 QUOTA_EXCEEDED and creates nothing, by PUT or by a first send", async () => {
    const existing = uniqueName("have");
    await callJson("PUT", `/v1/queues/${existing}`, { body: {} });
    setQuota("SPOOL_MAX_QUEUES", await listed("queues"));
    const fresh = uniqueName("new");
    await expectQuotaExceeded(await callJson("PUT", `/v1/queues/${fresh}`, { body: {} }), "SPOOL_MAX_QUEUES");
    await expectQuotaExceeded(await callJson("POST", `/v1/queues/${fresh}/messages`, { body: { body: 1 } }), "SPOOL_MAX_QUEUES");
    expect((await callJson("GET", `/v1/queues/${fresh}`)).status).toBe(404);
    // What exists is untouched by the quota.
    expect((await callJson("PUT", `/v1/queues/${existing}`, { body: { visibilityTimeout: 9 } })).status).toBe(200);
    expect((await callJson("POST", `/v1/queues/${existing}/messages`, { body: { body: 1 } })).status).toBe(201);
    setQuota("SPOOL_MAX_QUEUES", (await listed("queues")) + 1);
    expect((await callJson("POST", `/v1/queues/${fresh}/messages`, { body: { body: 1 } })).status).toBe(201);
  });

  it("quotas - a refused first send gives its place in the quota back", async () => {
    const before = await listed("queues");
    const fresh = uniqueName("big");
    const r = await callJson("POST", `/v1/queues/${fresh}/messages`, { body: { body: "x".repeat(300_000) } });
    expect(r.status).toBe(413);
    expect(await listed("queues")).toBe(before);
  });

  it("quotas - concurrent creations never take more places than the quota has", async () => {
    setQuota("SPOOL_MAX_QUEUES", (await listed("queues")) + 3);
    const names = Array.from({ length: 8 }, () => uniqueName("race"));
    const answers = await Promise.all(names.map((q) => callJson("PUT", `/v1/queues/${q}`, { body: {} })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 409, 409, 409, 409, 409]);
    const made = await Promise.all(names.map(async (q) => (await callJson("GET", `/v1/queues/${q}`)).status));
    expect(made.filter((s) => s === 200)).toHaveLength(3);
  });

  it("quotas - a dead-letter queue created by a move is never refused by the queue quota", async () => {
    const q = uniqueName("src");
    await callJson("PUT", `/v1/queues/${q}`, { body: { maxReceives: 1 } });
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { body: "letter" } });
    setQuota("SPOOL_MAX_QUEUES", await listed("queues"));
    expect((await callJson("POST", `/v1/queues/${q}/receive`, { body: {} })).body.messages).toHaveLength(1);
    await advance(q, 31_000);
    expect(await statsOf(`${q}.dlq`)).toMatchObject({ messages: 1 });
    const names = (await callJson("GET", `/v1/queues?cursor=${q}&limit=2`)).body.queues.map((e: { name: string }) => e.name);
    expect(names).toContain(`${q}.dlq`);
  });

  it("quotas - creating a topic past SPOOL_MAX_TOPICS is 409 QUOTA_EXCEEDED and creates nothing, by PUT or by a first publish", async () => {
    const existing = uniqueName("have");
    await callJson("PUT", `/v1/topics/${existing}`, { body: {} });
    setQuota("SPOOL_MAX_TOPICS", await listed("topics"));
    const fresh = uniqueName("new");
    await expectQuotaExceeded(await callJson("PUT", `/v1/topics/${fresh}`, { body: { partitions: 2 } }), "SPOOL_MAX_TOPICS");
    await expectQuotaExceeded(await callJson("POST", `/v1/topics/${fresh}/messages`, { body: { body: 1 } }), "SPOOL_MAX_TOPICS");
    expect((await callJson("GET", `/v1/topics/${fresh}`)).status).toBe(404);
    expect((await callJson("PUT", `/v1/topics/${existing}`, { body: { partitions: 2 } })).status).toBe(200);
    expect((await callJson("POST", `/v1/topics/${existing}/messages`, { body: { body: 1 } })).status).toBe(201);
    setQuota("SPOOL_MAX_TOPICS", (await listed("topics")) + 1);
    expect((await callJson("POST", `/v1/topics/${fresh}/messages`, { body: { body: 1 } })).status).toBe(201);
  });
});

describe("quotas - groups and subscriptions per topic", () => {
  it("quotas - a group past SPOOL_MAX_GROUPS_PER_TOPIC is 409 QUOTA_EXCEEDED, by PUT or by a first poll, and is not created", async () => {
    const t = uniqueName("t");
    await callJson("PUT", `/v1/topics/${t}`, { body: { partitions: 2 } });
    setQuota("SPOOL_MAX_GROUPS_PER_TOPIC", 2);
    expect((await callJson("PUT", `/v1/topics/${t}/groups/a`, { body: {} })).status).toBe(200);
    expect((await callJson("POST", `/v1/topics/${t}/groups/b/poll`, { body: {} })).status).toBe(200);
    await expectQuotaExceeded(await callJson("PUT", `/v1/topics/${t}/groups/c`, { body: {} }), "SPOOL_MAX_GROUPS_PER_TOPIC");
    await expectQuotaExceeded(await callJson("POST", `/v1/topics/${t}/groups/d/poll`, { body: {} }), "SPOOL_MAX_GROUPS_PER_TOPIC");
    await expectQuotaExceeded(await callJson("POST", `/v1/topics/${t}/groups/d/poll`, { body: { partition: 1 } }), "SPOOL_MAX_GROUPS_PER_TOPIC");
    for (const g of ["c", "d"]) expect((await callJson("GET", `/v1/topics/${t}/groups/${g}`)).status).toBe(404);
    expect((await callJson("GET", `/v1/topics/${t}`)).body.groups.map((g: { name: string }) => g.name)).toEqual(["a", "b"]);
    // Changing a group that exists is no creation.
    expect((await callJson("PUT", `/v1/topics/${t}/groups/a`, { body: { visibilityTimeout: 5 } })).status).toBe(200);
  });

  it("quotas - a subscription past SPOOL_MAX_SUBSCRIPTIONS_PER_TOPIC is 409 QUOTA_EXCEEDED in no partition", async () => {
    const t = uniqueName("t");
    await callJson("PUT", `/v1/topics/${t}`, { body: { partitions: 3 } });
    setQuota("SPOOL_MAX_SUBSCRIPTIONS_PER_TOPIC", 2);
    const hook = { url: "http://127.0.0.1:9/hook", deadLetterQueue: null };
    for (const s of ["one", "two"]) expect((await callJson("PUT", `/v1/topics/${t}/subscriptions/${s}`, { body: hook })).status).toBe(200);
    await expectQuotaExceeded(await callJson("PUT", `/v1/topics/${t}/subscriptions/three`, { body: hook }), "SPOOL_MAX_SUBSCRIPTIONS_PER_TOPIC");
    expect((await callJson("GET", `/v1/topics/${t}/subscriptions/three`)).status).toBe(404);
    for (const p of [0, 1, 2]) {
      const names = await runInDurableObject(partitionStub(t, p), (o: TopicPartition) => o.subscriptionConfigs().map((c) => c.name));
      expect(names.sort()).toEqual(["one", "two"]);
    }
    expect((await callJson("PUT", `/v1/topics/${t}/subscriptions/two`, { body: { ...hook, filter: { a: "b" } } })).status).toBe(200);
  });
});

describe("bounded dedup records", () => {
  it("quotas - a queue keeps at most 10 × maxMessages dedup records: past that new ids are 429 QUEUE_FULL until records expire", async () => {
    const q = uniqueName("dedup");
    await callJson("PUT", `/v1/queues/${q}`, { body: { maxMessages: 1, deduplicationWindow: 60, delivery: "at-most-once" } });
    for (let i = 0; i < 10; i++) {
      expect((await callJson("POST", `/v1/queues/${q}/messages`, { body: { id: `m${i}`, body: i } })).status).toBe(201);
      expect((await callJson("POST", `/v1/queues/${q}/receive`, { body: {} })).body.messages).toHaveLength(1);
    }
    expect(await statsOf(q)).toMatchObject({ messages: 0 });
    const full = await callJson("POST", `/v1/queues/${q}/messages`, { body: { id: "m10", body: 10 } });
    expect(full.status).toBe(429);
    expect(errorCode(full.body)).toBe("QUEUE_FULL");
    expect(full.body.error.details).toMatchObject({ dedupRecords: 10, maxDedupRecords: 10 });
    expect(Number(full.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // An id seen within the window is no new record: still answered as a duplicate.
    expect((await callJson("POST", `/v1/queues/${q}/messages`, { body: { id: "m3", body: 3 } })).body.messages[0]).toMatchObject({ duplicate: true });
    await advance(q, 61_000);
    expect((await callJson("POST", `/v1/queues/${q}/messages`, { body: { id: "m10", body: 10 } })).status).toBe(201);
  });

  it("quotas - a topic partition keeps at most 1,000,000 dedup records: past that new ids are 429 TOPIC_FULL until records expire", async () => {
    const t = uniqueName("dedup");
    await callJson("PUT", `/v1/topics/${t}`, { body: { deduplicationWindow: 60 } });
    expect((await callJson("POST", `/v1/topics/${t}/messages`, { body: { id: "first", body: 0 } })).status).toBe(201);
    // SEEDING, not time: a million records would take minutes to write here; the bound reads
    // the partition's counter, so make it say one short of the bound.
    await runInDurableObject(partitionStub(t, 0), (_o: TopicPartition, state: DurableObjectState) => {
      state.storage.sql.exec("UPDATE log_dedup_count SET n = ?", MAX_PARTITION_DEDUP_RECORDS - 1);
    });
    expect((await callJson("POST", `/v1/topics/${t}/messages`, { body: { id: "last-place", body: 1 } })).status).toBe(201);
    const full = await callJson("POST", `/v1/topics/${t}/messages`, { body: { id: "one-too-many", body: 2 } });
    expect(full.status).toBe(429);
    expect(errorCode(full.body)).toBe("TOPIC_FULL");
    expect(Number(full.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // Duplicates and server-assigned ids add no record.
    expect((await callJson("POST", `/v1/topics/${t}/messages`, { body: { id: "first", body: 0 } })).body.messages[0]).toMatchObject({ duplicate: true });
    expect((await callJson("POST", `/v1/topics/${t}/messages`, { body: { body: "no id" } })).status).toBe(201);
    advanceClock(61_000);
    await fireAlarm(t);
    expect((await callJson("POST", `/v1/topics/${t}/messages`, { body: { id: "one-too-many", body: 2 } })).status).toBe(201);
  });
});
