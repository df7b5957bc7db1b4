// The Durable Streams module of a topic partition (durable-objects/topic/stream/): idempotent
// producers (dedup, epoch fencing, gaps) decided inside the append's transaction, closure,
// and expiry by alarm. Time moves with the objects' clock (advanceClock), forward only.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { TopicPartition } from "../../durable-objects/topic/object";
import { partitionStub } from "../../durable-objects/env";
import { advanceClock, now } from "../../durable-objects/shared/clock";
import { streamAdmission, type Admission } from "../../durable-objects/topic/stream/guard";
import { call, callJson, uniqueName } from "./helpers";

const stub = (topic: string): DurableObjectStub<TopicPartition> => partitionStub(env, topic, 0);

function put(name: string, headers: Record<string, string> = {}, raw?: string) {
  return call("PUT", `/v1/stream/${name}`, { headers: { "content-type": "text/plain", ...headers }, raw });
}

function append(name: string, raw: string, headers: Record<string, string> = {}) {
  return call("POST", `/v1/stream/${name}`, { headers: { "content-type": "text/plain", ...headers }, raw });
}

function produce(name: string, raw: string, id: string, epoch: number, seq: number, headers: Record<string, string> = {}) {
  return append(name, raw, { "Producer-Id": id, "Producer-Epoch": String(epoch), "Producer-Seq": String(seq), ...headers });
}

async function readText(name: string): Promise<string> {
  const r = await call("GET", `/v1/stream/${name}?offset=-1`);
  expect(r.status).toBe(200);
  return r.text();
}

describe("stream producers", () => {
  it("streams - a producer's retry is a duplicate, a skipped seq a gap, an older epoch fenced, a new epoch starts at 0", async () => {
    const s = uniqueName("prod");
    expect((await put(s)).status).toBe(201);
    expect((await produce(s, "a", "p", 0, 0)).status).toBe(200);
    const dup = await produce(s, "a", "p", 0, 0);
    expect(dup.status).toBe(204);
    expect(dup.headers.get("Producer-Seq")).toBe("0");
    const gap = await produce(s, "c", "p", 0, 2);
    expect(gap.status).toBe(409);
    expect([gap.headers.get("Producer-Expected-Seq"), gap.headers.get("Producer-Received-Seq")]).toEqual(["1", "2"]);
    expect((await produce(s, "x", "p", 1, 3)).status).toBe(400);
    expect((await produce(s, "b", "p", 1, 0)).status).toBe(200);
    const zombie = await produce(s, "z", "p", 0, 1);
    expect(zombie.status).toBe(403);
    expect(zombie.headers.get("Producer-Epoch")).toBe("1");
    expect(await readText(s)).toBe("ab");
    const state = await runInDurableObject(stub(s), (o: TopicPartition) => o.stream.store.producer("p"));
    expect(state).toEqual({ epoch: 1, lastSeq: 0 });
  });

  it("streams - concurrent appends of one producer are judged in commit order: what is accepted is gap-free and in seq order", async () => {
    const s = uniqueName("prod-par");
    await put(s);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, seq) => produce(s, `${seq},`, "p", 0, seq)));
    const accepted = answers.flatMap((r, seq) => (r.status === 200 ? [seq] : []));
    for (const r of answers) expect([200, 409]).toContain(r.status);
    expect(accepted[0]).toBe(0);
    // Accepted seqs are exactly 0..k: a gap refused the rest, nothing after a gap got in.
    expect(accepted).toEqual(Array.from({ length: accepted.length }, (_, i) => i));
    expect(await readText(s)).toBe(accepted.map((seq) => `${seq},`).join(""));
  });

  it("streams - producer state and data commit together: a failed append leaves no producer state behind", async () => {
    const s = uniqueName("prod-atomic");
    await put(s);
    await runInDurableObject(stub(s), async (o: TopicPartition) => {
      const info = o.log.info()!;
      let decided: Admission | null = null;
      const admit = streamAdmission(o.stream.store, { hasBody: true, close: false, streamSeq: "s1", producer: { id: "p", epoch: 0, seq: 0 } }, (a) => (decided = a));
      // A row the log's table refuses (no body) fails the commit after the check wrote its state.
      const broken = { id: "broken", key: null, body: null as unknown as string, headers: null, size: 1, assigned: true };
      await expect(o.log.append({ topic: s, partition: 0, info, messages: [broken], admit })).rejects.toThrow();
      expect(decided).toMatchObject({ kind: "write" });
      expect(o.stream.store.producer("p")).toBeNull();
      expect(o.stream.store.meta()!.lastSeq).toBeNull();
      expect(o.log.next()).toBe(0);
    });
    // The producer's first request is still new.
    expect((await produce(s, "ok", "p", 0, 0)).status).toBe(200);
  });
});

describe("stream closure", () => {
  it("streams - a close is atomic with its final append, is idempotent, and refuses later data from anyone", async () => {
    const s = uniqueName("close");
    await put(s, {}, "one ");
    const closed = await append(s, "two", { "Stream-Closed": "true" });
    expect(closed.status).toBe(204);
    expect(closed.headers.get("Stream-Closed")).toBe("true");
    const tail = closed.headers.get("Stream-Next-Offset");
    expect((await call("POST", `/v1/stream/${s}`, { headers: { "Stream-Closed": "true" } })).status).toBe(204);
    const refused = await append(s, "three");
    expect(refused.status).toBe(409);
    expect(refused.headers.get("Stream-Closed")).toBe("true");
    expect(refused.headers.get("Stream-Next-Offset")).toBe(tail);
    // The topic is the stream: a publish through /v1/topics is refused as well.
    const topicPublish = await callJson("POST", `/v1/topics/${s}/messages`, { body: { body: "late" } });
    expect(topicPublish.status).toBe(409);
    const eof = await call("GET", `/v1/stream/${s}?offset=-1`);
    expect(await eof.text()).toBe("one two");
    expect(eof.headers.get("Stream-Closed")).toBe("true");
  });
});

describe("stream expiry", () => {
  it("streams - a TTL stream is deleted by its alarm once idle for its TTL, and reads restart the countdown", async () => {
    const s = uniqueName("ttl");
    expect((await put(s, { "Stream-TTL": "60" }, "data")).status).toBe(201);
    advanceClock(50_000);
    expect((await call("GET", `/v1/stream/${s}`)).status).toBe(200); // a read: 60 s from now
    advanceClock(20_000);
    await runDurableObjectAlarm(stub(s));
    expect((await call("HEAD", `/v1/stream/${s}`)).status).toBe(200);
    advanceClock(41_000);
    expect(await runDurableObjectAlarm(stub(s))).toBe(true);
    // Gone entirely: the stream, its topic, its catalog entry.
    expect(await runInDurableObject(stub(s), (o: TopicPartition) => [o.stream.store.meta(), o.log.exists()])).toEqual([null, false]);
    expect((await callJson("GET", `/v1/topics/${s}`)).status).toBe(404);
    expect((await call("HEAD", `/v1/stream/${s}`)).status).toBe(404);
  });

  it("streams - HEAD does not restart a TTL, and Stream-Expires-At is a fixed deadline", async () => {
    const ttl = uniqueName("ttl-head");
    await put(ttl, { "Stream-TTL": "10" });
    advanceClock(6_000);
    expect((await call("HEAD", `/v1/stream/${ttl}`)).status).toBe(200);
    advanceClock(5_000);
    expect((await call("HEAD", `/v1/stream/${ttl}`)).status).toBe(404);

    const fixed = uniqueName("expires");
    await put(fixed, { "Stream-Expires-At": new Date(now() + 10_000).toISOString() });
    advanceClock(6_000);
    expect((await append(fixed, "write")).status).toBe(204);
    advanceClock(5_000);
    expect(await runDurableObjectAlarm(stub(fixed))).toBe(true);
    expect((await call("GET", `/v1/stream/${fixed}`)).status).toBe(404);
  });

  it("streams - an expired source with forks is only soft-deleted; the last fork's delete removes it", async () => {
    const source = uniqueName("src");
    const fork = uniqueName("fork");
    await put(source, { "Stream-TTL": "30" }, "inherited");
    const forked = await put(fork, { "Stream-Forked-From": `/v1/stream/${source}`, "Stream-TTL": "3600" });
    expect(forked.status).toBe(201);
    advanceClock(31_000);
    await runDurableObjectAlarm(stub(source));
    expect((await call("HEAD", `/v1/stream/${source}`)).status).toBe(410);
    expect(await readText(fork)).toBe("inherited");
    expect((await call("DELETE", `/v1/stream/${fork}`)).status).toBe(204);
    expect((await call("HEAD", `/v1/stream/${source}`)).status).toBe(404);
  });
});
