// Topics over HTTP: config, the catalog, publish, key placement, dedup and bad input.
import { describe, expect, it } from "vitest";
import { fnv1a32 } from "../../protocol/key-hash";
import { callJson, errorCode, uniqueName } from "./helpers";
import { subscribe } from "./topic-live-helpers";
import { publish, publishOk, putTopic, read, readAll, topicStatus } from "./topic-log-helpers";

const DEFAULTS = {
  partitions: 1, retention: 604800, retentionBytes: 1073741824, maxMessageBytes: 262144,
  deduplicationWindow: 300, compaction: false, locationHint: null,
};

describe("topic config", () => {
  it("topics - PUT creates a topic with the default config and GET shows every partition", async () => {
    const t = uniqueName("topic");
    const put = await putTopic(t, { partitions: 3 });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ name: t, config: { ...DEFAULTS, partitions: 3 }, createdAt: expect.any(Number) });
    const get = await topicStatus(t);
    expect(get.status).toBe(200);
    expect(get.body).toEqual({
      name: t,
      config: { ...DEFAULTS, partitions: 3 },
      partitions: [0, 1, 2].map((p) => ({ partition: p, first: 0, next: 0, bytes: 0, subscribers: 0 })),
      groups: [],
    });
  });

  it("topics - GET sums each consumer group's lag over partitions and counts live subscribers per partition", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { partitions: 2 });
    const keyFor = (p: number) => Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => fnv1a32(k) % 2 === p)!;
    await publishOk(t, [0, 0, 0, 1, 1].map((p) => ({ key: keyFor(p), body: p })));
    expect((await callJson("PUT", `/v1/topics/${t}/groups/early`, { body: { start: "earliest" } })).status).toBe(200);
    expect((await callJson("PUT", `/v1/topics/${t}/groups/late`, { body: { start: "latest" } })).status).toBe(200);
    const sub = await subscribe(t, "partition=1&from=earliest");
    await sub.untilOffsets(2);
    const status = await topicStatus(t);
    expect(status.body.groups).toEqual([{ name: "early", lag: 5 }, { name: "late", lag: 0 }]);
    expect(status.body.partitions.map((p: { subscribers: number }) => p.subscribers)).toEqual([0, 1]);
    sub.close();
  });

  it("topics - PUT with an empty body creates the topic with defaults", async () => {
    const t = uniqueName("topic");
    const put = await callJson("PUT", `/v1/topics/${t}`);
    expect(put.status).toBe(200);
    expect(put.body.config).toEqual(DEFAULTS);
  });

  it("topics - PUT merges the named fields into the current config and keeps createdAt", async () => {
    const t = uniqueName("topic");
    const first = await putTopic(t, { partitions: 2, retention: 60 });
    const second = await putTopic(t, { compaction: true, locationHint: "weur" });
    expect(second.status).toBe(200);
    expect(second.body.config).toEqual({ ...DEFAULTS, partitions: 2, retention: 60, compaction: true, locationHint: "weur" });
    expect(second.body.createdAt).toBe(first.body.createdAt);
    expect((await topicStatus(t)).body.config).toEqual(second.body.config);
  });

  it("topics - lowering partitions is 409 CONFLICT and changes nothing", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { partitions: 4 });
    const r = await putTopic(t, { partitions: 2, retention: 10 });
    expect(r.status).toBe(409);
    expect(errorCode(r.body)).toBe("CONFLICT");
    const get = await topicStatus(t);
    expect(get.body.config.partitions).toBe(4);
    expect(get.body.config.retention).toBe(DEFAULTS.retention);
  });

  it("topics - a bad config is 400 VALIDATION_FAILED naming the field and creates nothing", async () => {
    const t = uniqueName("topic");
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ partitions: 0 }, "partitions"], [{ partitions: 65 }, "partitions"], [{ partitions: 1.5 }, "partitions"],
      [{ retention: -1 }, "retention"], [{ retentionBytes: 0 }, "retentionBytes"],
      [{ maxMessageBytes: 0 }, "maxMessageBytes"], [{ maxMessageBytes: 4 * 1024 * 1024 }, "maxMessageBytes"],
      [{ deduplicationWindow: 86401 }, "deduplicationWindow"], [{ compaction: "yes" }, "compaction"],
      [{ locationHint: "mars" }, "locationHint"], [{ partition: 3 }, ""],
    ];
    for (const [config, field] of bad) {
      const r = await putTopic(t, config);
      expect(r.status, JSON.stringify(config)).toBe(400);
      expect(errorCode(r.body)).toBe("VALIDATION_FAILED");
      if (field) expect(r.body.error.details.field).toBe(field);
    }
    expect((await topicStatus(t)).status).toBe(404);
    const list = await callJson("GET", "/v1/topics");
    expect(list.body.topics.map((x: { name: string }) => x.name)).not.toContain(t);
  });

  it("topics - a bad config on an existing topic is 400 and leaves its config as it was", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { partitions: 2, retention: 100 });
    const r = await putTopic(t, { retention: 200, partitions: 100 });
    expect(r.status).toBe(400);
    expect((await topicStatus(t)).body.config).toEqual({ ...DEFAULTS, partitions: 2, retention: 100 });
  });

  it("topics - an invalid topic name is 400 INVALID_NAME on every endpoint", async () => {
    const name = "-bad";
    for (const [method, path] of [
      ["PUT", `/v1/topics/${name}`], ["GET", `/v1/topics/${name}`], ["DELETE", `/v1/topics/${name}`],
      ["POST", `/v1/topics/${name}/messages`], ["GET", `/v1/topics/${name}/messages`],
    ] as const) {
      const r = await callJson(method, path, method === "POST" ? { body: { body: 1 } } : {});
      expect(r.status, `${method} ${path}`).toBe(400);
      expect(errorCode(r.body)).toBe("INVALID_NAME");
    }
  });

  it("topics - the list shows each topic with its partition count; DELETE removes it", async () => {
    const a = uniqueName("topic");
    const b = uniqueName("topic");
    await putTopic(a, { partitions: 3 });
    await publishOk(b, [{ body: "x" }]);
    const list = await callJson("GET", "/v1/topics");
    expect(list.status).toBe(200);
    expect(list.body.topics).toContainEqual({ name: a, partitions: 3 });
    expect(list.body.topics).toContainEqual({ name: b, partitions: 1 });
    expect((await callJson("DELETE", `/v1/topics/${a}`)).status).toBe(204);
    const after = await callJson("GET", "/v1/topics");
    expect(after.body.topics.map((x: { name: string }) => x.name)).not.toContain(a);
    expect(after.body.topics).toContainEqual({ name: b, partitions: 1 });
  });

  it("topics - DELETE removes every partition's messages; a new publish starts again at offset 0", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { partitions: 2 });
    await publishOk(t, Array.from({ length: 10 }, (_, i) => ({ body: i, key: `k${i}` })));
    expect((await callJson("DELETE", `/v1/topics/${t}`)).status).toBe(204);
    expect((await topicStatus(t)).status).toBe(404);
    expect((await read(t, "partition=0")).status).toBe(404);
    const again = await publishOk(t, [{ body: "new", key: "k1" }]);
    expect(again[0]!.offset).toBe(0);
    const status = await topicStatus(t);
    expect(status.body.config.partitions).toBe(1);
    expect(status.body.partitions).toEqual([{ partition: 0, first: 0, next: 1, bytes: expect.any(Number), subscribers: 0 }]);
  });

  it("topics - GET, DELETE and read of a topic never created are 404 and create nothing", async () => {
    const t = uniqueName("topic");
    for (const [method, path] of [["GET", `/v1/topics/${t}`], ["DELETE", `/v1/topics/${t}`], ["GET", `/v1/topics/${t}/messages`]] as const) {
      const r = await callJson(method, path);
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(errorCode(r.body)).toBe("NOT_FOUND");
    }
    expect((await topicStatus(t)).status).toBe(404);
  });
});

describe("topic publish", () => {
  it("publish - a single message object or a batch answers id, partition and offset in request order", async () => {
    const t = uniqueName("topic");
    const one = await publish(t, { body: { hello: "world" }, headers: { a: "b" } });
    expect(one.status).toBe(201);
    expect(one.body.messages).toEqual([{ id: expect.any(String), partition: 0, offset: 0, duplicate: false }]);
    const batch = await publishOk(t, [{ body: 1 }, { body: 2, id: "mine" }, { body: null }]);
    expect(batch.map((m) => m.offset)).toEqual([1, 2, 3]);
    expect(batch[1]!.id).toBe("mine");
    const all = await readAll(t);
    expect(all.map((m) => m.body)).toEqual([{ hello: "world" }, 1, 2, null]);
    expect(all[0]!.headers).toEqual({ a: "b" });
    expect(all[1]!.headers).toEqual({});
    expect(all.map((m) => m.id)).toEqual([one.body.messages[0]!.id, ...batch.map((m) => m.id)]);
  });

  it("publish - the first publish creates the topic with the default config", async () => {
    const t = uniqueName("topic");
    await publishOk(t, [{ body: 1 }]);
    const status = await topicStatus(t);
    expect(status.status).toBe(200);
    expect(status.body.config).toEqual(DEFAULTS);
  });

  it("publish - server-assigned ids are unique and sort in publish order", async () => {
    const t = uniqueName("topic");
    const ids = (await publishOk(t, Array.from({ length: 50 }, (_, i) => ({ body: i })))).map((m) => m.id);
    expect(new Set(ids).size).toBe(50);
    expect([...ids].sort()).toEqual(ids);
  });

  it("publish - keyed messages go to fnv1a32(key) mod partitions and keep per-key order", async () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
    const t = uniqueName("topic");
    await putTopic(t, { partitions: 4 });
    const keys = Array.from({ length: 8 }, (_, i) => `user-${i}`);
    const sent = Array.from({ length: 40 }, (_, i) => ({ body: { key: keys[i % 8], n: i }, key: keys[i % 8]! }));
    const answers = await publishOk(t, sent);
    answers.forEach((a, i) => expect(a.partition).toBe(fnv1a32(sent[i]!.key) % 4));
    expect(new Set(answers.map((a) => a.partition)).size).toBeGreaterThan(1);
    for (const key of keys) {
      const mine = answers.filter((_, i) => sent[i]!.key === key);
      expect(new Set(mine.map((a) => a.partition)).size).toBe(1);
      const stored = (await readAll(t, mine[0]!.partition)).filter((m) => m.key === key);
      expect(stored.map((m) => (m.body as { n: number }).n)).toEqual(sent.filter((s) => s.key === key).map((s) => s.body.n));
    }
  });

  it("publish - keyless messages are placed by hash(id), so a resend meets its dedup record", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { partitions: 4 });
    const ids = Array.from({ length: 12 }, (_, i) => `order-${i}`);
    const first = await publishOk(t, ids.map((id) => ({ id, body: id })));
    first.forEach((a, i) => expect(a.partition).toBe(fnv1a32(ids[i]!) % 4));
    const again = await publishOk(t, ids.map((id) => ({ id, body: "resent" })));
    expect(again).toEqual(first.map((a) => ({ ...a, duplicate: true })));
  });

  it("publish - a repeated id within the window is duplicate:true with the original offset, also inside one batch", async () => {
    const t = uniqueName("topic");
    const a = await publishOk(t, [{ id: "x", body: 1 }, { id: "y", body: 2 }, { id: "x", body: 3 }]);
    expect(a).toEqual([
      { id: "x", partition: 0, offset: 0, duplicate: false },
      { id: "y", partition: 0, offset: 1, duplicate: false },
      { id: "x", partition: 0, offset: 0, duplicate: true },
    ]);
    const b = await publishOk(t, [{ id: "y", body: 4 }, { id: "z", body: 5 }]);
    expect(b).toEqual([
      { id: "y", partition: 0, offset: 1, duplicate: true },
      { id: "z", partition: 0, offset: 2, duplicate: false },
    ]);
    expect((await readAll(t)).map((m) => m.body)).toEqual([1, 2, 5]);
  });

  it("publish - with deduplicationWindow 0 the same id is accepted every time", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { deduplicationWindow: 0 });
    const a = await publishOk(t, [{ id: "x", body: 1 }, { id: "x", body: 2 }]);
    expect(a.map((m) => [m.offset, m.duplicate])).toEqual([[0, false], [1, false]]);
  });

  it("publish - one bad message rejects the whole batch with 400 and writes nothing", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { partitions: 2 });
    const good = { body: 1, key: "a" };
    const bad: Array<[unknown, string]> = [
      [{ key: "b" }, "messages.1.body"],
      [{ body: 1, key: "" }, "messages.1.key"],
      [{ body: 1, key: "k".repeat(257) }, "messages.1.key"],
      [{ body: 1, id: "" }, "messages.1.id"],
      [{ body: 1, id: "tab\there" }, "messages.1.id"],
      [{ body: 1, id: "x".repeat(129) }, "messages.1.id"],
      [{ body: 1, headers: { a: 1 } }, "messages.1.headers.a"],
      [{ body: 1, headers: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`h${i}`, "v"])) }, "messages.1.headers"],
    ];
    for (const [msg, field] of bad) {
      const r = await publish(t, { messages: [good, msg, good] });
      expect(r.status, JSON.stringify(msg).slice(0, 80)).toBe(400);
      expect(errorCode(r.body)).toBe("VALIDATION_FAILED");
      expect((r.body as any).error.details.field).toBe(field);
    }
    for (const body of [{ messages: [] }, { messages: Array.from({ length: 1001 }, () => good) }, { messages: "no" }]) {
      const r = await publish(t, body);
      expect(r.status).toBe(400);
      expect(errorCode(r.body)).toBe("VALIDATION_FAILED");
    }
    const status = await topicStatus(t);
    expect(status.body.partitions.map((p: { next: number }) => p.next)).toEqual([0, 0]);
  });

  it("publish - a rejected first publish does not create the topic", async () => {
    const t = uniqueName("topic");
    expect((await publish(t, { messages: [{ body: 1 }, { nobody: true }] })).status).toBe(400);
    expect((await publish(t, { body: "x".repeat(300_000) })).status).toBe(413);
    expect((await topicStatus(t)).status).toBe(404);
  });

  it("publish - a message over maxMessageBytes is 413 PAYLOAD_TOO_LARGE and nothing of its batch is written", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { maxMessageBytes: 100 });
    const r = await publish(t, { messages: [{ body: "small" }, { body: "x".repeat(200) }] });
    expect(r.status).toBe(413);
    expect(errorCode(r.body)).toBe("PAYLOAD_TOO_LARGE");
    expect((r.body as any).error.details).toMatchObject({ index: 1, maxMessageBytes: 100 });
    expect(await readAll(t)).toEqual([]);
  });

  it("publish - malformed JSON and non-JSON bodies are refused and write nothing", async () => {
    const t = uniqueName("topic");
    const bad = await callJson("POST", `/v1/topics/${t}/messages`, { raw: "{nope", headers: { "content-type": "application/json" } });
    expect(bad.status).toBe(400);
    const text = await callJson("POST", `/v1/topics/${t}/messages`, { raw: "hello", headers: { "content-type": "text/plain" } });
    expect(text.status).toBe(415);
    expect((await topicStatus(t)).status).toBe(404);
  });
});
