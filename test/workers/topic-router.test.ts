// The topic router: every partition call that carries a topic config answers a stale copy the
// same way, the router repeats such a call with a fresh config from the home, and it gives up
// with one stable error when the config keeps changing.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { TopicInfo } from "../../durable-objects/topic/config";
import { getTopic, requireTopic } from "../../durable-objects/topic/router/directory";
import {
  isStale, MAX_ROUTING_ATTEMPTS, retryWhileStale, STALE, staleAnswer,
} from "../../durable-objects/topic/router/retry";
import { onEveryPartition, onPartition } from "../../durable-objects/topic/router/router";
import { DEFAULT_GROUP_CONFIG } from "../../durable-objects/topic/groups/types";
import { ApiError } from "../../durable-objects/shared/errors";
import { fnv1a32 } from "../../protocol/key-hash";
import { uniqueName } from "./helpers";
import { publishOk, putTopic, stub } from "./topic-log-helpers";

/** A topic whose config the home changed behind `old` (a copy any isolate may still cache). */
async function topicChangedBehind(partitions: number, grown: number): Promise<{ t: string; old: TopicInfo }> {
  const t = uniqueName("topic");
  await putTopic(t, { partitions });
  const old = await requireTopic(env, t, { fresh: true });
  // Straight to the home, not through the router: the router's cache keeps `old`.
  const changed = await stub(t, 0).configureTopic(t, { partitions: grown }, "put");
  expect(changed.ok).toBe(true);
  return { t, old };
}

describe("topic router", () => {
  it("router - every partition call carrying an old config answers the one stale answer and does nothing", async () => {
    const { t, old } = await topicChangedBehind(2, 3);
    const msg = { id: "m1", key: null, body: "1", headers: null, size: 3 };
    const config = { ...DEFAULT_GROUP_CONFIG };
    for (const p of [0, 1]) {
      const s = stub(t, p);
      const answers = [
        await s.publish({ topic: t, partition: p, info: old, messages: [msg] }),
        await s.readLog({ topic: t, partition: p, info: old, limit: 10 }),
        await s.partitionStats(old, p),
        await s.adoptTopic(old, p),
        await s.putGroup(old, p, "g", {}, config),
        await s.groupConfig(old, p, "g", config),
        await s.pollGroup(old, p, { topic: t, group: "g", max: 1, createWith: config }),
        await s.ackGroup(old, p, "g", [`${p}.0.abcdefgh`]),
        await s.seekGroup(old, p, "g", { to: "earliest" }, config),
        await s.groupStatus(old, p, "g", config),
        await s.putSubscription({ name: "s", partition: p, config: { topic: t, target: { type: "queue", queue: uniqueName("q") }, filter: {} }, createdAt: 0, start: "next" }, old),
      ];
      for (const a of answers) expect(a).toEqual(staleAnswer());
    }
    const fresh = await requireTopic(env, t, { fresh: true });
    const stats = await onEveryPartition(env, fresh, (s, i, p) => s.partitionStats(i, p));
    expect(stats.answers.map((a) => a.ok && a.value.next)).toEqual([0, 0, 0]);
    expect((await stub(t, 0).groupConfig(fresh, 0, "g", null)).ok).toBe(false);
    expect((await stub(t, 0).getSubscription("s")).ok).toBe(false);
  });

  it("router - a partition answering stale is called again with the home's fresh config", async () => {
    const { t, old } = await topicChangedBehind(2, 3);
    const versions: number[] = [];
    const r = await onPartition(env, old, 1, (s, info, p) => {
      versions.push(info.stamp.version);
      return s.readLog({ topic: t, partition: p, info, limit: 10 });
    });
    expect(r.ok).toBe(true);
    expect(versions).toEqual([old.stamp.version, old.stamp.version + 1]);
  });

  it("router - a fan-out answered stale is repeated on every partition of the fresh config", async () => {
    const { old } = await topicChangedBehind(2, 4);
    const called: number[][] = [];
    const { info, answers } = await onEveryPartition(env, old, (s, i, p) => {
      (called[i.stamp.version - old.stamp.version] ??= []).push(p);
      return s.partitionStats(i, p);
    });
    expect(called).toEqual([[0, 1], [0, 1, 2, 3]]);
    expect(info.config.partitions).toBe(4);
    expect(answers.map((a) => a.ok && a.value.partition)).toEqual([0, 1, 2, 3]);
  });

  it("router - a publish routed by a stale cached config lands where the fresh config places it", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { partitions: 2 });
    await publishOk(t, [{ body: "warm the cache" }]);
    await stub(t, 0).configureTopic(t, { partitions: 4 }, "put");
    // The route shares this module graph, so its cache still says 2 partitions.
    expect((await getTopic(env, t))!.config.partitions).toBe(2);
    const keys = Array.from({ length: 16 }, (_, i) => `key-${i}`);
    const answers = await publishOk(t, keys.map((key) => ({ key, body: key })));
    answers.forEach((a, i) => expect(a.partition).toBe(fnv1a32(keys[i]!) % 4));
  });

  it("router - a partition that keeps answering stale ends the call with one stable error after the bound", async () => {
    const t = uniqueName("topic");
    await putTopic(t, { partitions: 2 });
    const info = await requireTopic(env, t, { fresh: true });
    let calls = 0;
    const attempt = onPartition(env, info, 1, async () => {
      calls++;
      return staleAnswer();
    });
    await expect(attempt).rejects.toMatchObject({ code: "INTERNAL", status: 500, message: "topic configuration kept changing; retry" });
    expect(calls).toBe(MAX_ROUTING_ATTEMPTS);
  });

  it("router - the retry policy refetches between attempts and lets the caller name the final error", async () => {
    const base = await (async () => {
      const t = uniqueName("topic");
      await putTopic(t);
      return requireTopic(env, t, { fresh: true });
    })();
    const seen: number[] = [];
    let refetches = 0;
    const refetch = async (): Promise<TopicInfo> => ({ ...base, stamp: { ...base.stamp, version: base.stamp.version + ++refetches } });
    const done = await retryWhileStale(base, { refetch }, async (info) => {
      seen.push(info.stamp.version - base.stamp.version);
      return seen.length < 3 ? STALE : "done";
    });
    expect(done).toBe("done");
    expect(seen).toEqual([0, 1, 2]);

    const mine = new ApiError("CONFLICT", "mine");
    await expect(retryWhileStale(base, { refetch, giveUp: () => mine }, async () => STALE)).rejects.toBe(mine);
  });

  it("router - only the stale answer counts as stale", () => {
    expect(isStale(staleAnswer())).toBe(true);
    expect(isStale({ ok: false, error: { code: "CONFLICT", message: "partitions can grow but never shrink" } })).toBe(false);
    expect(isStale({ ok: false, error: { code: "NOT_FOUND", message: "x", details: { stale: true } } })).toBe(false);
    expect(isStale({ ok: true, value: { stale: true } })).toBe(false);
  });
});
