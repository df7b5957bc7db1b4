// Relays (durable-objects/topic/relay/): placement by region, once-per-relay delivery,
// registration with demand (and no alarm when idle), the bounded tail and reads from the
// partition's log, catching up after missed deliveries, credentials (swap, 4003, nothing
// after expiry), counts, and the auto policy. The suites in topic-live*.test.ts prove every
// other live guarantee through a relay as well. Time moves with advanceClock; alarms are fired.
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { advanceClock, now } from "../../durable-objects/shared/clock";
import { CloseCodes } from "../../durable-objects/shared/socket-limits";
import { FRAME_CACHE_MAX_ENTRIES } from "../../durable-objects/topic/live/frames";
import type { TopicPartition } from "../../durable-objects/topic/object";
import { regionOf, relayStub } from "../../durable-objects/topic/relay/placement";
import type { TopicRelay } from "../../durable-objects/topic/relay/relay";
import { mintToken } from "../../worker/tokens";
import { ADMIN_KEY, BASE, callJson, uniqueName } from "./helpers";
import { publishOk, stub, topicStatus } from "./topic-log-helpers";
import { events, SseReader, subscribe, Subscriber } from "./topic-live-helpers";
import { relayOf } from "./topic-live-modes";

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
const bodies = (n: number, tag = "m"): { body: string }[] => range(0, n).map((i) => ({ body: `${tag}${i}` }));

afterEach(() => {
  env.SPOOL_LIVE_RELAYS = undefined;
  env.SPOOL_LIVE_DIRECT_MAX = undefined;
});

function relays(policy: "always" | "auto" = "always"): void {
  env.SPOOL_LIVE_RELAYS = policy;
}

/** A WebSocket subscriber whose request comes from `cf` (as Cloudflare's edge would say). */
async function subscribeFrom(t: string, cf: Record<string, string>, query = ""): Promise<Subscriber> {
  const res = await exports.default.fetch(new Request(`${BASE}/v1/topics/${t}/subscribe?${query}`, {
    headers: { upgrade: "websocket", authorization: `Bearer ${ADMIN_KEY}` }, cf,
  } as RequestInit));
  if (res.status !== 101 || !res.webSocket) throw new Error(`subscribe failed: ${res.status} ${await res.text()}`);
  res.webSocket.accept();
  return new Subscriber(res.webSocket, 100);
}

const inRelay = <T>(t: string, fn: (o: TopicRelay, s: DurableObjectState) => T, region = "any", shard = 0): Promise<T> =>
  runInDurableObject(relayStub(env, { topic: t, partition: 0, region, shard }), fn);
const inPartition = <T>(t: string, fn: (o: TopicPartition, s: DurableObjectState) => T): Promise<T> => runInDurableObject(stub(t), fn);

/** A token that expires `ttl` seconds from now on the objects' clock. */
async function token(caps: Record<string, string[]>, ttl: number): Promise<string> {
  return (await mintToken(env, caps, ttl, now())).token;
}

/** Round trips until `done` holds (relays unregister after their last close, asynchronously). */
async function eventually(done: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await done()) return;
    await topicStatus("relay-round-trip");
  }
  throw new Error(`never: ${what}`);
}

describe("relays", () => {
  it("relay - the region comes from request.cf: continent, longitude and country pick the location hint", () => {
    expect(regionOf({ continent: "EU", longitude: "2.35", country: "FR" })).toBe("weur");
    expect(regionOf({ continent: "EU", longitude: "24.9", country: "FI" })).toBe("eeur");
    expect(regionOf({ continent: "NA", longitude: "-122.4", country: "US" })).toBe("wnam");
    expect(regionOf({ continent: "NA", longitude: "-74.0", country: "US" })).toBe("enam");
    expect(regionOf({ continent: "SA", country: "BR" })).toBe("sam");
    expect(regionOf({ continent: "AS", country: "JP" })).toBe("apac");
    expect(regionOf({ continent: "AS", country: "AE" })).toBe("me");
    expect(regionOf({ continent: "OC", country: "AU" })).toBe("oc");
    expect(regionOf({ continent: "AF", country: "ZA" })).toBe("afr");
    expect(regionOf({ continent: "T1" })).toBeNull();
    expect(regionOf(null)).toBeNull();
  });

  it("relay - subscribers land on the relay of their region, and the partition sends each message once per relay, batched", async () => {
    relays();
    const t = uniqueName("rg");
    await publishOk(t, bodies(1));
    const paris = [await subscribeFrom(t, { continent: "EU", longitude: "2.35", country: "FR" }), await subscribeFrom(t, { continent: "EU", longitude: "4.9", country: "NL" })];
    const sf = [await subscribeFrom(t, { continent: "NA", longitude: "-122.4", country: "US" })];
    expect(await inRelay(t, (o) => o.subscriberCount(), "weur")).toBe(2);
    expect(await inRelay(t, (o) => o.subscriberCount(), "wnam")).toBe(1);
    const before = await inPartition(t, (o) => ({ sent: o.live.relays.messagesSent, deliveries: o.live.relays.deliveries, serialized: o.live.frames.serialized }));
    await Promise.all(range(0, 10).map((i) => publishOk(t, bodies(5, `p${i}-`))));
    for (const s of [...paris, ...sf]) {
      await s.untilOffsets(50);
      expect(s.offsets()).toEqual(range(1, 51));
    }
    const after = await inPartition(t, (o) => ({ sent: o.live.relays.messagesSent, deliveries: o.live.relays.deliveries, serialized: o.live.frames.serialized }));
    expect(after.serialized - before.serialized).toBe(50);
    // Each relay got each message once (two relays), in at most one delivery per publish.
    expect(after.sent - before.sent).toBe(100);
    expect(after.deliveries - before.deliveries).toBeLessThanOrEqual(20);
    for (const s of [...paris, ...sf]) s.close();
  });

  it("relay - a relay registers with its first subscriber, unregisters after its last, and then holds no alarm", async () => {
    relays();
    const t = uniqueName("rr");
    await publishOk(t, bodies(1));
    expect(await inPartition(t, (o) => o.live.relays.size)).toBe(0);
    // A token's socket gives the relay a deadline (its alarm is armed)…
    const sub = await subscribe(t, "", { auth: await token({ [`topics/${t}`]: ["subscribe"] }, 600) });
    const sse = new SseReader(await events(t));
    await sse.until(() => sse.events.length > 0);
    expect(await inPartition(t, (o) => o.live.relays.names())).toEqual([`${t}#0@any/0`]);
    expect(await inRelay(t, (_o, s) => s.storage.getAlarm())).not.toBeNull();
    sub.close();
    await sub.untilClosed();
    await sse.cancel();
    // …and once nobody is left it unregisters and drops it: an idle relay costs nothing.
    await eventually(async () => (await inPartition(t, (o) => o.live.relays.size)) === 0, "the relay unregisters");
    await eventually(async () => (await inRelay(t, (_o, s) => s.storage.getAlarm())) === null, "the relay drops its alarm");
    // Publishing now calls no relay.
    const deliveries = await inPartition(t, (o) => o.live.relays.deliveries);
    await publishOk(t, bodies(2));
    expect(await inPartition(t, (o) => o.live.relays.deliveries)).toBe(deliveries);
  });

  it("relay - resumes near the head are served from the relay's bounded tail; older offsets are read from the partition's log", async () => {
    relays();
    const t = uniqueName("rt");
    await publishOk(t, bodies(5, "old"));
    const live = await subscribe(t);
    await publishOk(t, bodies(20, "new"));
    await live.untilOffsets(20);
    const reads = () => inRelay(t, (o) => o.reads);
    const readsBefore = await reads();
    const near = await subscribe(t, "from=10");
    await near.untilOffsets(15);
    expect(near.offsets()).toEqual(range(10, 25));
    expect(await reads()).toBe(readsBefore); // the tail had them
    const far = await subscribe(t, "from=0");
    await far.untilOffsets(25);
    expect(far.offsets()).toEqual(range(0, 25));
    expect(await reads()).toBeGreaterThan(readsBefore); // offsets 0-4 came from the log
    // The tail stays bounded however much goes through.
    for (let i = 0; i < 5; i++) await publishOk(t, range(0, 1000).map((k) => ({ body: k })));
    await live.untilOffsets(5020);
    expect(await inRelay(t, (o) => o.tail.size)).toBeLessThanOrEqual(FRAME_CACHE_MAX_ENTRIES);
    for (const s of [live, near, far]) s.close();
  });

  it("relay - a relay that missed deliveries (failing) is tried again by the partition's alarm and reads what it missed from the log: no gap, no duplicate", async () => {
    relays();
    const t = uniqueName("rm");
    await publishOk(t, bodies(2));
    const sub = await subscribe(t, "from=earliest");
    await sub.untilOffsets(2);
    // The relay fails: every delivery to this instance throws.
    await inRelay(t, (o) => {
      o.tail.add = () => {
        throw new Error("relay out of order");
      };
    });
    await publishOk(t, bodies(5, "missed"));
    await publishOk(t, bodies(3, "missed-too"));
    await eventually(async () => (await inPartition(t, (o) => o.live.relays.inFlight())) === 0, "the failed deliveries are answered");
    const retryAt = await inPartition(t, (o) => o.live.relays.nextDeadline());
    expect(retryAt).not.toBeNull();
    expect(sub.offsets()).toEqual([0, 1]);
    // It comes back (a new instance, empty tail); the retry tells it where the log stands.
    await evictDurableObject(relayOf(t));
    advanceClock(Math.max(0, retryAt! - now()));
    await runDurableObjectAlarm(stub(t));
    await sub.untilOffsets(10);
    expect(sub.offsets()).toEqual(range(0, 10));
    expect(await inPartition(t, (o) => o.live.relays.nextDeadline())).toBeNull();
    await publishOk(t, bodies(2, "after"));
    await sub.untilOffsets(12);
    expect(sub.offsets()).toEqual(range(0, 12));
    sub.close();
  });

  it("relay - a socket on a relay swaps its token with an auth frame; a token that does not cover the topic closes it with 4003", async () => {
    relays();
    const t = uniqueName("ra");
    await publishOk(t, bodies(1));
    const sub = await subscribe(t, "", { auth: await token({ [`topics/${t}`]: ["subscribe"] }, 5) });
    sub.send({ type: "auth", token: await token({ [`topics/${t}`]: ["subscribe", "publish"] }, 60) });
    await sub.until(() => sub.ofType("result").length === 1, "the auth result");
    expect(sub.ofType("result")[0]).toEqual({ type: "result", op: "auth" });
    advanceClock(5_000);
    await runDurableObjectAlarm(relayOf(t));
    // Past the first token's expiry, and the new one may publish.
    sub.send({ type: "publish", messages: [{ body: "from the relay's socket" }] });
    await sub.until(() => sub.ofType("published").length === 1, "published");
    await sub.untilOffsets(1);
    expect(sub.closed).toBeNull();
    advanceClock(55_000);
    await runDurableObjectAlarm(relayOf(t));
    await sub.untilClosed();
    expect(sub.closed?.code).toBe(CloseCodes.EXPIRED);

    const other = await subscribe(t);
    other.send({ type: "auth", token: await token({ [`topics/${t}x`]: ["subscribe"] }, 60) });
    await other.untilClosed();
    expect(other.closed?.code).toBe(CloseCodes.AUTH_REFUSED);
  });

  it("relay - nothing reaches a relay's WebSocket or SSE subscriber after its token expired, even before the relay's alarm", async () => {
    relays();
    const t = uniqueName("rx");
    await publishOk(t, bodies(1));
    const caps = { [`topics/${t}`]: ["subscribe"] };
    const sub = await subscribe(t, "", { auth: await token(caps, 5) });
    const sseRes = await events(t, "", { authorization: `Bearer ${await token(caps, 5)}` });
    const sse = new SseReader(sseRes);
    await publishOk(t, [{ body: "before" }]);
    await sub.untilOffsets(1);
    await sse.until(() => sse.messages().length === 1);
    advanceClock(5_000);
    await publishOk(t, [{ body: "after" }]); // a delivery reaches the relay before any alarm
    await sub.untilClosed();
    expect(sub.closed?.code).toBe(CloseCodes.EXPIRED);
    expect(sub.offsets()).toEqual([1]);
    await sse.until(() => false);
    expect(sse.messages().map((m) => m.data.body)).toEqual(["before"]);
    expect(sse.events.at(-1)).toMatchObject({ event: "error", data: JSON.stringify({ code: "UNAUTHORIZED" }) });
  });

  it("relay - an idle SSE stream on a relay ends with event: error when the relay's alarm fires at its token's expiry", async () => {
    relays();
    const t = uniqueName("rs");
    await publishOk(t, bodies(1));
    const sse = new SseReader(await events(t, "", { authorization: `Bearer ${await token({ [`topics/${t}`]: ["subscribe"] }, 5)}` }));
    await sse.until(() => sse.events.some((e) => e.comment === "subscribed"));
    advanceClock(5_000);
    expect(await runDurableObjectAlarm(relayOf(t))).toBe(true);
    await sse.until(() => false);
    expect(sse.events.at(-1)).toMatchObject({ event: "error" });
    expect(await inRelay(t, (o) => o.subscriberCount())).toBe(0);
  });

  it("relay - auto: the partition serves its share directly and relays the rest; GET /v1/topics/{t} counts every WebSocket and SSE subscriber", async () => {
    relays("auto");
    env.SPOOL_LIVE_DIRECT_MAX = "2";
    const t = uniqueName("rc");
    await publishOk(t, bodies(1));
    const subs = [await subscribe(t), await subscribe(t), await subscribeFrom(t, { continent: "OC", country: "AU" }), await subscribe(t)];
    const sse = new SseReader(await events(t));
    await sse.until(() => sse.events.length > 0);
    expect(await inPartition(t, (o) => o.live.hub.count())).toBe(2);
    expect(await inRelay(t, (o) => o.subscriberCount(), "oc")).toBe(1);
    expect(await inRelay(t, (o) => o.subscriberCount())).toBe(2); // one socket, one stream
    expect((await topicStatus(t)).body.partitions[0].subscribers).toBe(5);
    await publishOk(t, bodies(1, "all"));
    for (const s of subs) await s.untilOffsets(1);
    await sse.until(() => sse.messages().length === 1);
    subs[2]!.close();
    await subs[2]!.untilClosed();
    let count = 0;
    for (let i = 0; i < 100 && count !== 4; i++) count = (await topicStatus(t)).body.partitions[0].subscribers;
    expect(count).toBe(4);
    for (const s of subs) s.close();
    await sse.cancel();
  });

  it("relay - deleting the topic closes the subscribers of every relay with 4004, and a new topic of the same name starts afresh", async () => {
    relays();
    const t = uniqueName("rd");
    await publishOk(t, bodies(3));
    const a = await subscribeFrom(t, { continent: "EU", longitude: "2", country: "FR" }, "from=earliest");
    const b = await subscribeFrom(t, { continent: "AS", country: "JP" }, "from=earliest");
    await a.untilOffsets(3);
    await b.untilOffsets(3);
    expect((await callJson("DELETE", `/v1/topics/${t}`)).status).toBe(204);
    for (const s of [a, b]) {
      await s.untilClosed();
      expect(s.closed?.code).toBe(CloseCodes.GONE);
    }
    await publishOk(t, bodies(1, "again"));
    const c = await subscribeFrom(t, { continent: "EU", longitude: "2", country: "FR" }, "from=earliest");
    await c.untilOffsets(1);
    expect(c.ofType("message")[0]).toMatchObject({ offset: 0, body: "again0" });
    c.close();
  });
});
