// The client against a real server: topics — publish (batched, ids), read, config, errors.
import { afterAll, describe, expect, it } from "vitest";
import { InvalidRequestError, NotFoundError, PUBLISH_LINGER_MS, SpoolError } from "../../client";
import { adminClient, loggingFetch, unique, type LoggedRequest } from "./client-support";

const spool = adminClient();
afterAll(() => spool.close());

describe("client topics", () => {
  it("client topic - single publishes made together travel in one request, each with its own result", async () => {
    const log: LoggedRequest[] = [];
    const client = adminClient({ fetch: loggingFetch(log) });
    const topic = client.topic<{ n: number }>(unique("t"));
    const results = await Promise.all([0, 1, 2, 3, 4].map((n) => topic.publish({ body: { n } })));
    expect(results.map((r) => r.offset).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(new Set(results.map((r) => r.id)).size).toBe(5);
    expect(log.filter((r) => r.method === "POST")).toHaveLength(1);
    const page = await topic.read({ from: 0 });
    expect(page.messages.map((m) => m.id)).toEqual(results.slice().sort((a, b) => a.offset - b.offset).map((r) => r.id));
    await client.close();
  });

  it("client topic - publish generates ids, so a retried publish is a duplicate, not a second message", async () => {
    const topic = spool.topic(unique("t"));
    const first = await topic.publish({ body: "x" });
    expect(first.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    const again = await topic.publish({ body: "x", id: first.id });
    expect(again).toMatchObject({ id: first.id, offset: first.offset, duplicate: true });
    expect((await topic.read()).messages).toHaveLength(1);
  });

  it("client topic - an explicit batch is one atomic request; a bad message rejects the whole batch", async () => {
    const topic = spool.topic(unique("t"));
    const ok = await topic.publish([{ body: 1, key: "a" }, { body: 2, key: "a", headers: { h: "v" } }]);
    expect(ok.map((r) => r.offset)).toEqual([0, 1]);
    const bad = topic.publish([{ body: 3 }, { body: 4, id: "" }]);
    await expect(bad).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(bad).rejects.toMatchObject({ code: "VALIDATION_FAILED", status: 400 });
    const page = await topic.read();
    expect(page.messages.map((m) => m.body)).toEqual([1, 2]);
    expect(page.messages[1]).toMatchObject({ key: "a", headers: { h: "v" }, partition: 0, offset: 1 });
  });

  it("client topic - a bad message among batched single publishes fails only its own caller", async () => {
    const log: LoggedRequest[] = [];
    const client = adminClient({ fetch: loggingFetch(log), batching: { lingerMs: 50 } });
    const topic = client.topic(unique("t"));
    const outcomes = await Promise.allSettled([topic.publish({ body: "a" }), topic.publish({ body: "b", headers: { "": "bad" } }), topic.publish({ body: "c" })]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(InvalidRequestError);
    expect((await topic.read()).messages.map((m) => m.body).sort()).toEqual(["a", "c"]);
    expect(log.filter((r) => r.method === "POST").length).toBe(4); // the batch, then one by one
    await client.close();
  });

  it("client topic - close() sends publishes still waiting for their batch", async () => {
    const client = adminClient({ batching: { lingerMs: 60_000 } });
    const name = unique("t");
    const pending = client.topic(name).publish({ body: "late" });
    await client.close();
    expect((await pending).offset).toBe(0);
    expect((await spool.topic(name).read()).messages.map((m) => m.body)).toEqual(["late"]);
    expect(PUBLISH_LINGER_MS).toBeGreaterThan(0);
  });

  it("client topic - read pages with from/limit/next and by time with since", async () => {
    const topic = spool.topic<number>(unique("t"));
    await topic.publish([1, 2, 3, 4, 5].map((n) => ({ body: n })));
    const p1 = await topic.read({ from: 0, limit: 2 });
    expect(p1.messages.map((m) => m.body)).toEqual([1, 2]);
    const p2 = await topic.read({ from: p1.next, limit: 10 });
    expect(p2.messages.map((m) => m.body)).toEqual([3, 4, 5]);
    expect(p2).toMatchObject({ first: 0, next: 5 });
    const t3 = p2.messages[0]!.timestamp;
    const bySince = await topic.read({ since: t3 });
    expect(bySince.messages[0]!.offset).toBeLessThanOrEqual(2);
    expect(bySince.messages.at(-1)!.offset).toBe(4);
  });

  it("client topic - configure, info, list and delete", async () => {
    const name = unique("t");
    const topic = spool.topic(name);
    const created = await topic.configure({ partitions: 2, retention: 3600 });
    expect(created).toMatchObject({ name, config: { partitions: 2, retention: 3600 } });
    const published = await topic.publish({ body: "k", key: "some-key" });
    const info = await topic.info();
    expect(info.partitions).toHaveLength(2);
    expect(info.partitions[published.partition]!.next).toBe(1);
    expect((await spool.topics()).find((t) => t.name === name)).toEqual({ name, partitions: 2 });
    await topic.delete();
    await expect(topic.info()).rejects.toBeInstanceOf(NotFoundError);
    expect((await spool.topics()).some((t) => t.name === name)).toBe(false);
  });

  it("client topic - errors are typed from the JSON error: code, status, details", async () => {
    const missing = spool.topic(unique("never"));
    const err = await missing.read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ code: "NOT_FOUND", status: 404 });
    const bad = await spool.topic("bad name!").publish({ body: 1 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(InvalidRequestError);
    expect(bad).toMatchObject({ code: "INVALID_NAME", status: 400 });
    const invalid = await spool.topic(unique("t")).configure({ partitions: 0 }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(SpoolError);
    expect((invalid as SpoolError).details).toMatchObject({ field: "partitions" });
  });
});
