// Live WebSocket subscriptions: history then live in offset order, the seam under
// concurrent publishing, resume, gap frames, publish frames, eviction, bad input. Every
// suite runs twice: subscribers served by their partition, and by relays (topic-live-modes.ts).
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TopicPartition } from "../../durable-objects/topic/object";
import type { TopicRelay } from "../../durable-objects/topic/relay/relay";
import { env } from "cloudflare:workers";
import { advanceClock, now } from "../../durable-objects/shared/clock";
import { mintToken } from "../../worker/tokens";
import { callJson, errorCode, uniqueName } from "./helpers";
import { mint } from "./token-helpers";
import { fireAlarm, publishOk, putTopic, stub, topicStatus } from "./topic-log-helpers";
import { subscribe, upgrade } from "./topic-live-helpers";
import { evictPath, fireHolderAlarm, LIVE_MODES, relayOf, useLiveMode } from "./topic-live-modes";

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
const bodies = (n: number, tag = "m"): { body: string }[] => range(0, n).map((i) => ({ body: `${tag}${i}` }));

describe.each(LIVE_MODES)("live subscribe ($name)", (mode) => {
  useLiveMode(mode);

  it("live - from=earliest sends history then live messages in offset order", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(5));
    const sub = await subscribe(t, "from=earliest");
    await sub.untilOffsets(5);
    await publishOk(t, bodies(5, "live"));
    await sub.untilOffsets(10);
    expect(sub.offsets()).toEqual(range(0, 10));
    const m = sub.ofType("message")[7]!;
    expect(m).toMatchObject({ type: "message", partition: 0, offset: 7, key: null, body: "live2", headers: {} });
    expect(typeof m.id).toBe("string");
    expect(typeof m.timestamp).toBe("number");
    sub.close();
  });

  it("live - from defaults to latest: only messages published after subscribing", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(3));
    const sub = await subscribe(t);
    await publishOk(t, [{ body: "after", key: "k", headers: { h: "v" } }]);
    await sub.untilOffsets(1);
    expect(sub.offsets()).toEqual([3]);
    expect(sub.ofType("message")[0]).toMatchObject({ body: "after", key: "k", headers: { h: "v" } });
    sub.close();
  });

  it("live - the seam under concurrent publishing: every offset exactly once, in order", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(20));
    const total = 20 + 40 * 5;
    // A publisher keeps going while subscribers join at different moments.
    const publisher = (async () => {
      for (let i = 0; i < 40; i++) await publishOk(t, bodies(5, `p${i}-`));
    })();
    const subs = [];
    for (let i = 0; i < 4; i++) {
      subs.push(await subscribe(t, "from=earliest", { autoAck: 50 }));
      await topicStatus(t); // a round trip, so joins interleave with publishes
    }
    await publisher;
    for (const sub of subs) {
      await sub.untilOffsets(total);
      expect(sub.offsets()).toEqual(range(0, total));
      sub.close();
    }
  });

  it("live - the seam: an append notice for offsets already sent from history sends nothing twice and skips nothing", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(5));
    const sub = await subscribe(t, "from=earliest");
    await sub.untilOffsets(5);
    // The log may notify after a subscriber already read the same entries as history
    // (it awaits between commit and notice); replay such a late notice, and an early one.
    // Through a relay, the same notices arrive as deliveries of messages it already sent.
    await runInDurableObject(stub(t), (o: TopicPartition) => {
      o.live.onAppend(o.log.read(2, 10));
      o.live.onAppend(o.log.read(4, 10));
    });
    if (mode.name === "relay") {
      for (const from of [2, 4, 0]) {
        const read = await stub(t).readForRelay(from, 10);
        await relayOf(t).deliver({ ...read, messages: read.messages });
      }
    }
    await publishOk(t, bodies(3, "next"));
    await sub.untilOffsets(8);
    expect(sub.offsets()).toEqual(range(0, 8));
    sub.close();
  });

  it("live - resume from any offset after a disconnect, without gap or duplicate", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(10));
    const first = await subscribe(t, "from=earliest");
    await first.untilOffsets(10);
    first.close();
    await publishOk(t, bodies(5, "while-away"));
    const last = first.offsets().at(-1)!;
    const again = await subscribe(t, `from=${last - 3}`);
    await again.untilOffsets(15 - (last - 3));
    expect(again.offsets()).toEqual(range(last - 3, 15));
    again.close();
  });

  it("live - a gap frame when from is below the first kept offset, then the kept messages", async () => {
    const t = uniqueName();
    expect((await putTopic(t, { retentionBytes: 60 })).status).toBe(200);
    await publishOk(t, range(0, 10).map((i) => ({ body: `message-${i}-padding` })));
    await fireAlarm(t);
    const { body: status } = await topicStatus(t);
    const firstKept = status.partitions[0].first as number;
    expect(firstKept).toBeGreaterThan(0);
    const sub = await subscribe(t, "from=0");
    await sub.untilOffsets(10 - firstKept);
    expect(sub.frames[0]).toEqual({ type: "gap", from: 0, to: firstKept });
    expect(sub.offsets()).toEqual(range(firstKept, 10));
    sub.close();
  });

  it("live - publish frames are answered by published frames and routed by key to any partition", async () => {
    const t = uniqueName();
    await putTopic(t, { partitions: 4 });
    const sub = await subscribe(t, "partition=0");
    const keys = range(0, 12).map((i) => `key-${i}`);
    sub.send({ type: "publish", ref: "r1", messages: keys.map((key) => ({ key, body: key })) });
    await sub.until(() => sub.ofType("published").length === 1, "published");
    const published = sub.ofType("published")[0]!;
    expect(published.ref).toBe("r1");
    const placed = published.messages as { partition: number; offset: number }[];
    expect(placed).toHaveLength(12);
    expect(new Set(placed.map((m) => m.partition)).size).toBeGreaterThan(1);
    const mine = placed.filter((m) => m.partition === 0).length;
    await sub.untilOffsets(mine);
    expect(sub.ofType("message").every((m) => m.partition === 0)).toBe(true);
    // Every message landed where the published frame says.
    const { body: status } = await topicStatus(t);
    for (const p of status.partitions) expect(p.next).toBe(placed.filter((m) => m.partition === p.partition).length);
    sub.close();
  });

  it("live - a publish frame with a bad message gets an error frame and writes nothing", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(1));
    const sub = await subscribe(t);
    sub.send({ type: "publish", messages: [{ body: "ok" }, { headers: { a: 1 } }] });
    await sub.until(() => sub.ofType("error").length === 1, "error frame");
    expect(sub.ofType("error")[0]).toMatchObject({ code: "VALIDATION_FAILED" });
    expect((await topicStatus(t)).body.partitions[0].next).toBe(1);
    sub.close();
  });

  it("live - a subscriber without 'publish' gets FORBIDDEN for publish frames and nothing is written", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(1));
    const token = await mint({ [`topics/${t}`]: ["subscribe"] });
    const sub = await subscribe(t, "", { auth: token });
    sub.send({ type: "publish", messages: [{ body: "sneaky" }] });
    await sub.until(() => sub.ofType("error").length === 1, "error frame");
    expect(sub.ofType("error")[0]).toMatchObject({ code: "FORBIDDEN" });
    expect((await topicStatus(t)).body.partitions[0].next).toBe(1);
    // With 'publish' too, the same frame is written.
    const both = await subscribe(t, "", { auth: await mint({ [`topics/${t}`]: ["subscribe", "publish"] }) });
    both.send({ type: "publish", messages: [{ body: "fine" }] });
    await both.until(() => both.ofType("published").length === 1, "published");
    expect((await topicStatus(t)).body.partitions[0].next).toBe(2);
    sub.close();
    both.close();
  });

  it("live - a client cannot grant itself publish with the internal header", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(1));
    const token = await mint({ [`topics/${t}`]: ["subscribe"] });
    const res = await upgrade(t, `token=${token}`, null);
    // Same upgrade, but with the header a client might try to inject.
    const { exports } = await import("cloudflare:workers");
    const forged = await exports.default.fetch(new Request(`http://spool.test/v1/topics/${t}/subscribe?token=${token}`, {
      headers: { upgrade: "websocket", "x-spool-can-publish": "1" },
    }));
    for (const r of [res, forged]) {
      expect(r.status).toBe(101);
      const ws = r.webSocket!;
      ws.accept();
      const got = new Promise<string>((resolve) => ws.addEventListener("message", (e) => resolve(String(e.data))));
      ws.send(JSON.stringify({ type: "publish", messages: [{ body: "x" }] }));
      expect(JSON.parse(await got)).toMatchObject({ type: "error", code: "FORBIDDEN" });
      ws.close();
    }
    expect((await topicStatus(t)).body.partitions[0].next).toBe(1);
  });

  it("live - the alarm closes a socket when its token expires, with 4001; admin sockets have no expiry", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(1));
    // A short token on the objects' clock (this suite runs once per mode, and the clock
    // only moves forward), so the clock moves little for the rest of this file's tokens.
    const token = (await mintToken(env, { [`topics/${t}`]: ["subscribe"] }, 10, now())).token;
    const sub = await subscribe(t, "", { auth: token });
    const admin = await subscribe(t);
    // Only the token's socket has a deadline; the token's time runs out, the alarm does the rest.
    expect(await mode.inHub(t, (hub) => hub.nextDeadline())).not.toBeNull();
    advanceClock(10_000);
    await fireHolderAlarm(mode, t);
    await sub.untilClosed();
    expect(sub.closed?.code).toBe(4001);
    await publishOk(t, bodies(1, "still"));
    await admin.untilOffsets(1);
    expect(admin.closed).toBeNull();
    admin.close();
  });

  it("live - deleting the topic closes its subscribers with 4004", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(1));
    const sub = await subscribe(t, "from=earliest");
    await sub.untilOffsets(1);
    expect((await callJson("DELETE", `/v1/topics/${t}`)).status).toBe(204);
    await sub.untilClosed();
    expect(sub.closed?.code).toBe(4004);
  });

  it("live - GET /v1/topics/{t} counts subscribers per partition", async () => {
    const t = uniqueName();
    await putTopic(t, { partitions: 2 });
    const a = await subscribe(t, "partition=1");
    const b = await subscribe(t, "partition=1");
    const c = await subscribe(t, "partition=0");
    const { body } = await topicStatus(t);
    expect(body.partitions.map((p: { subscribers: number }) => p.subscribers)).toEqual([1, 2]);
    a.close();
    let counts: number[] = [];
    for (let i = 0; i < 100; i++) {
      counts = (await topicStatus(t)).body.partitions.map((p: { subscribers: number }) => p.subscribers);
      if (counts[1] === 1) break;
    }
    expect(counts).toEqual([1, 1]);
    b.close();
    c.close();
  });

  it("live - eviction with hibernation keeps subscribers subscribed at the right offset", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(3));
    const sub = await subscribe(t, "from=1");
    await sub.untilOffsets(2);
    await evictPath(mode, t);
    // A new instance: nothing in memory, the socket and its attachment survived.
    expect(await runInDurableObject(stub(t), (o: TopicPartition) => o.live.frames.serialized)).toBe(0);
    if (mode.name === "relay") expect(await runInDurableObject(relayOf(t), (o: TopicRelay) => o.tail.size)).toBe(0);
    await publishOk(t, bodies(4, "after"));
    await sub.untilOffsets(6);
    expect(sub.offsets()).toEqual(range(1, 7));
    expect(sub.closed).toBeNull();
    sub.close();
  });

  it("live - fan-out serialises each message once, whatever the number of subscribers", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(1));
    const subs = await Promise.all(range(0, 6).map(() => subscribe(t)));
    const sent = () => runInDurableObject(stub(t), (o: TopicPartition) => [o.live.frames.serialized, o.live.relays.messagesSent]);
    const before = await sent();
    await publishOk(t, bodies(3));
    for (const s of subs) await s.untilOffsets(3);
    const after = await sent();
    expect(after[0]! - before[0]!).toBe(3);
    // Through relays, each message goes once to the one relay that holds all six.
    expect(after[1]! - before[1]!).toBe(mode.name === "relay" ? 3 : 0);
    for (const s of subs) expect(s.offsets()).toEqual([1, 2, 3]);
    for (const s of subs) s.close();
  });
});

describe.each(LIVE_MODES)("live subscribe - bad input ($name)", (mode) => {
  useLiveMode(mode);

  it("live - bad from, a from past the end, an unknown partition, a missing topic and a plain GET get their codes", async () => {
    const t = uniqueName();
    await putTopic(t, { partitions: 2 });
    await publishOk(t, [{ body: 1, key: "a" }]);
    const cases: [string, string, number, string][] = [
      [t, "from=soon", 400, "VALIDATION_FAILED"],
      [t, "from=-1", 400, "VALIDATION_FAILED"],
      [t, "from=99", 400, "VALIDATION_FAILED"],
      [t, "partition=2", 400, "VALIDATION_FAILED"],
      [t, "partition=x", 400, "VALIDATION_FAILED"],
      [uniqueName("none"), "", 404, "NOT_FOUND"],
      ["bad name!", "", 400, "INVALID_NAME"],
    ];
    for (const [topic, query, status, code] of cases) {
      const res = await upgrade(encodeURIComponent(topic), query);
      expect(res.status, `${topic}?${query}`).toBe(status);
      expect(errorCode(await res.json()), `${topic}?${query}`).toBe(code);
    }
    const plain = await callJson("GET", `/v1/topics/${t}/subscribe`);
    expect(plain.status).toBe(426);
    expect(errorCode(plain.body)).toBe("UPGRADE_REQUIRED");
    // Nothing changed, no socket was opened.
    const { body } = await topicStatus(t);
    expect(body.partitions.map((p: { subscribers: number }) => p.subscribers)).toEqual([0, 0]);
  });

  it("live - frames that are not JSON or of an unknown type close the socket with 1003", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(1));
    const sub = await subscribe(t);
    sub.ws.send("not json");
    await sub.untilClosed();
    expect(sub.closed?.code).toBe(1003);
    const other = await subscribe(t);
    other.send({ type: "subscribe" });
    await other.untilClosed();
    expect(other.closed?.code).toBe(1003);
  });

  it("live - an ack with a bad offset gets a VALIDATION_FAILED error frame", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(1));
    const sub = await subscribe(t);
    sub.send({ type: "ack", offset: "three" });
    await sub.until(() => sub.ofType("error").length === 1, "error frame");
    expect(sub.ofType("error")[0]).toMatchObject({ code: "VALIDATION_FAILED" });
    expect(sub.closed).toBeNull();
    sub.close();
  });
});
