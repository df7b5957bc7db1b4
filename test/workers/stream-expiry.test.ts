// Streams end with their credential (API.md): queue consumers, topic WebSocket subscribers
// and SSE streams are closed (4001) or ended (`event: error`, UNAUTHORIZED) by the alarm at
// their token's expiry, nothing is delivered after it even before the alarm runs, and a
// WebSocket may swap its token with an `auth` frame (4003 when the token does not cover it).
// Time moves with advanceClock; tokens are minted on the same clock, so their expiry is too.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { queueStub } from "../../durable-objects/env";
import { advanceClock, now } from "../../durable-objects/shared/clock";
import { CloseCodes } from "../../durable-objects/shared/socket-limits";
import type { TopicPartition } from "../../durable-objects/topic/object";
import { LiveStore } from "../../durable-objects/topic/live/store";
import { mintToken } from "../../worker/tokens";
import { ADMIN_KEY, BASE, callJson, uniqueName } from "./helpers";
import { statsOf } from "./queue-helpers";
import { forge } from "./token-helpers";
import { publishOk, stub as partition } from "./topic-log-helpers";
import { events, SseReader, subscribe, Subscriber } from "./topic-live-helpers";

type Caps = Record<string, string[]>;

/** A token whose expiry is `ttl` seconds on the objects' clock (the Worker checks real time, which is earlier). */
async function token(caps: Caps, ttl: number): Promise<string> {
  return (await mintToken(env, caps, ttl, now())).token;
}

/** A queue consumer socket (frames recorded by the same helper as topic subscribers). */
async function consume(q: string, auth: string, headers: Record<string, string> = {}): Promise<Subscriber> {
  const res = await exports.default.fetch(new Request(`${BASE}/v1/queues/${q}/consume`, {
    headers: { upgrade: "websocket", authorization: `Bearer ${auth}`, ...headers },
  }));
  if (res.status !== 101 || !res.webSocket) throw new Error(`consume failed: ${res.status} ${await res.text()}`);
  res.webSocket.accept();
  return new Subscriber(res.webSocket, null);
}

async function sendTo(q: string, bodies: unknown[]): Promise<void> {
  const r = await callJson("POST", `/v1/queues/${q}/messages`, { body: { messages: bodies.map((body) => ({ body })) } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
}

async function createQueue(q: string): Promise<void> {
  expect((await callJson("PUT", `/v1/queues/${q}`, { body: {} })).status).toBe(200);
}

/** Sends a frame and waits for the `count`-th frame of `type` (counting those already there). */
async function answer(sub: Subscriber, frame: unknown, type: string): Promise<Record<string, unknown>> {
  const before = sub.ofType(type).length;
  sub.send(frame);
  await sub.until(() => sub.ofType(type).length > before || sub.closed !== null, `a ${type} frame`);
  return sub.ofType(type)[before] ?? {};
}

const authResult = (sub: Subscriber, t: string) => answer(sub, { type: "auth", token: t }, "result");

describe("queue consumers end with their credential", () => {
  it("stream expiry - an idle queue consumer is closed with 4001 by the alarm at its token's expiry", async () => {
    const q = uniqueName("qx");
    await createQueue(q);
    const sub = await consume(q, await token({ [`queues/${q}`]: ["receive"] }, 5));
    advanceClock(5_000);
    expect(await runDurableObjectAlarm(queueStub(env, q))).toBe(true);
    await sub.untilClosed();
    expect(sub.closed?.code).toBe(CloseCodes.EXPIRED);
  });

  it("stream expiry - a queue consumer closed at its token's expiry gives its unacked messages back at once", async () => {
    const q = uniqueName("qx");
    await createQueue(q);
    const sub = await consume(q, await token({ [`queues/${q}`]: ["receive"] }, 5));
    sub.send({ type: "credit", n: 1 });
    await sendTo(q, ["held"]);
    await sub.until(() => sub.ofType("message").length === 1, "the message");
    advanceClock(5_000);
    await runDurableObjectAlarm(queueStub(env, q));
    await sub.untilClosed();
    expect(sub.closed?.code).toBe(CloseCodes.EXPIRED);
    // Visible again now, not when its 30 s lease would have run out.
    expect(await statsOf(q)).toMatchObject({ visible: 1, inFlight: 0 });
  });

  it("stream expiry - a queue consumer gets nothing after its token expired, even before the alarm ran", async () => {
    const q = uniqueName("qx");
    await createQueue(q);
    const sub = await consume(q, await token({ [`queues/${q}`]: ["receive"] }, 5));
    sub.send({ type: "credit", n: 5 });
    await sendTo(q, ["before"]);
    await sub.until(() => sub.ofType("message").length === 1, "the first message");
    advanceClock(5_000);
    await sendTo(q, ["after"]); // a delivery path that runs before any alarm
    await sub.untilClosed();
    expect(sub.closed?.code).toBe(CloseCodes.EXPIRED);
    expect(sub.ofType("message").map((m) => m.body)).toEqual(["before"]);
    expect(await statsOf(q)).toMatchObject({ visible: 2, inFlight: 0 });
  });

  it("stream expiry - a queue consumer swaps its token with an auth frame and lives until the new token expires", async () => {
    const q = uniqueName("qx");
    await createQueue(q);
    const sub = await consume(q, await token({ [`queues/${q}`]: ["receive"] }, 5));
    expect(await authResult(sub, await token({ [`queues/${q}*`]: ["receive"] }, 60))).toEqual({ type: "result", op: "auth" });
    advanceClock(5_000);
    await runDurableObjectAlarm(queueStub(env, q));
    // Still open past the first token's expiry: it gets what is sent.
    sub.send({ type: "credit", n: 1 });
    await sendTo(q, ["still here"]);
    await sub.until(() => sub.ofType("message").length === 1, "a message after the first expiry");
    expect(sub.closed).toBeNull();
    advanceClock(55_000);
    expect(await runDurableObjectAlarm(queueStub(env, q))).toBe(true);
    await sub.untilClosed();
    expect(sub.closed?.code).toBe(CloseCodes.EXPIRED);
  });

  it("stream expiry - an auth frame whose token does not cover the queue closes the consumer with 4003 and frees its messages", async () => {
    const q = uniqueName("qx");
    await createQueue(q);
    const refused = [
      await token({ [`queues/${q}`]: ["send", "manage"] }, 60), // no receive
      await token({ [`queues/${q}-other`]: ["receive"] }, 60), // another queue
      await forge({ [`queues/${q}`]: ["receive"] }, { secret: "not-the-secret-0123456789abcdef" }),
      "not.a.token",
    ];
    await sendTo(q, refused.map((_, i) => i));
    for (const bad of refused) {
      const sub = await consume(q, ADMIN_KEY);
      sub.send({ type: "credit", n: 1 });
      await sub.until(() => sub.ofType("message").length === 1, "a message");
      sub.send({ type: "auth", token: bad });
      await sub.untilClosed();
      expect(sub.closed?.code, bad.slice(0, 40)).toBe(CloseCodes.AUTH_REFUSED);
      expect(sub.ofType("result")).toEqual([]);
    }
    expect(await statsOf(q)).toMatchObject({ visible: refused.length, inFlight: 0 });
  });

  it("stream expiry - an auth frame without a token string is refused with VALIDATION_FAILED and the consumer stays open", async () => {
    const q = uniqueName("qx");
    await createQueue(q);
    const sub = await consume(q, ADMIN_KEY);
    for (const frame of [{ type: "auth" }, { type: "auth", token: 7 }, { type: "auth", token: "" }]) {
      expect(await answer(sub, frame, "error")).toMatchObject({ type: "error", code: "VALIDATION_FAILED" });
    }
    sub.send({ type: "credit", n: 1 });
    await sendTo(q, ["ok"]);
    await sub.until(() => sub.ofType("message").length === 1, "a message");
    expect(sub.closed).toBeNull();
    sub.close();
  });

  it("stream expiry - a client cannot set its socket's expiry with the internal header", async () => {
    const q = uniqueName("qx");
    await createQueue(q);
    const sub = await consume(q, ADMIN_KEY, { "x-spool-credential-expires": String(now()) });
    advanceClock(1_000);
    await runDurableObjectAlarm(queueStub(env, q));
    sub.send({ type: "credit", n: 1 });
    await sendTo(q, ["admin sockets do not expire"]);
    await sub.until(() => sub.ofType("message").length === 1, "a message");
    expect(sub.closed).toBeNull();
    sub.close();
  });
});

describe("topic subscribers end with their credential", () => {
  it("stream expiry - a topic subscriber swaps its token: the old expiry passes, the new one closes it with 4001", async () => {
    const t = uniqueName("tx");
    await publishOk(t, [{ body: "seed" }]);
    const sub = await subscribe(t, "", { auth: await token({ [`topics/${t}`]: ["subscribe"] }, 5) });
    expect(await authResult(sub, await token({ [`topics/${t}`]: ["subscribe"] }, 60))).toEqual({ type: "result", op: "auth" });
    advanceClock(5_000);
    await runDurableObjectAlarm(partition(t));
    await publishOk(t, [{ body: "after the first expiry" }]);
    await sub.untilOffsets(1);
    expect(sub.closed).toBeNull();
    advanceClock(55_000);
    expect(await runDurableObjectAlarm(partition(t))).toBe(true);
    await sub.untilClosed();
    expect(sub.closed?.code).toBe(CloseCodes.EXPIRED);
  });

  it("stream expiry - the swapped-in token decides again whether the socket may publish", async () => {
    const t = uniqueName("tx");
    await publishOk(t, [{ body: "seed" }]);
    const sub = await subscribe(t, "", { auth: await token({ [`topics/${t}`]: ["subscribe"] }, 60) });
    const publish = { type: "publish", messages: [{ body: "from the socket" }] };
    expect(await answer(sub, publish, "error")).toMatchObject({ code: "FORBIDDEN" });
    await authResult(sub, await token({ [`topics/${t}`]: ["subscribe", "publish"] }, 60));
    expect(await answer(sub, publish, "published")).toMatchObject({ type: "published" });
    await authResult(sub, await token({ [`topics/${t}`]: ["subscribe"] }, 60));
    expect((await answer(sub, publish, "error")).code).toBe("FORBIDDEN");
    sub.close();
  });

  it("stream expiry - an auth frame whose token lacks subscribe on the topic closes the subscriber with 4003", async () => {
    const t = uniqueName("tx");
    await publishOk(t, [{ body: "seed" }]);
    const refused = [
      await token({ [`topics/${t}`]: ["publish", "consume", "manage"] }, 60),
      await token({ [`topics/${t}x`]: ["subscribe"] }, 60),
      await token({ [`queues/${t}`]: ["receive"] }, 60),
      await mintToken(env, { [`topics/${t}`]: ["subscribe"] }, 60, Date.now() - 120_000).then((m) => m.token), // expired
    ];
    for (const bad of refused) {
      const sub = await subscribe(t);
      sub.send({ type: "auth", token: bad });
      await sub.untilClosed();
      expect(sub.closed?.code).toBe(CloseCodes.AUTH_REFUSED);
    }
    expect(await runInDurableObject(partition(t), (o: TopicPartition) => o.live.nextDeadline())).toBeNull();
  });

  it("stream expiry - a topic subscriber gets nothing after its token expired, even before the alarm ran", async () => {
    const t = uniqueName("tx");
    await publishOk(t, [{ body: "seed" }]);
    const sub = await subscribe(t, "", { auth: await token({ [`topics/${t}`]: ["subscribe"] }, 5) });
    await publishOk(t, [{ body: "before" }]);
    await sub.untilOffsets(1);
    advanceClock(5_000);
    await publishOk(t, [{ body: "after" }]);
    await sub.untilClosed();
    expect(sub.closed?.code).toBe(CloseCodes.EXPIRED);
    expect(sub.offsets()).toEqual([1]);
  });

  it("stream expiry - deadline rows of sockets that are gone keep no alarm armed", async () => {
    const t = uniqueName("tx");
    await publishOk(t, [{ body: "seed" }]);
    const sub = await subscribe(t, "", { auth: await token({ [`topics/${t}`]: ["subscribe"] }, 600) });
    const deadline = await runInDurableObject(partition(t), (o: TopicPartition, state) => {
      // A socket dropped without a close event (a restart) leaves its rows behind.
      const store = new LiveStore(state.storage.sql);
      store.expiresAt("socket-that-is-gone", now() + 1_000);
      store.paused("another-gone-socket", now() + 2_000);
      return o.live.nextDeadline();
    });
    // Only the open socket's expiry counts; the rows of the vanished ones are gone.
    expect(deadline).toBeGreaterThan(now() + 500_000);
    expect(await runInDurableObject(partition(t), (_o: TopicPartition, state) => new LiveStore(state.storage.sql).sockets())).toHaveLength(1);
    sub.close();
    await sub.untilClosed();
    expect(await runInDurableObject(partition(t), (o: TopicPartition) => o.live.nextDeadline())).toBeNull();
  });
});

describe("SSE streams end with their credential", () => {
  async function openEvents(t: string, auth: string): Promise<SseReader> {
    const res = await events(t, "", { authorization: `Bearer ${auth}` });
    expect(res.status).toBe(200);
    const sse = new SseReader(res);
    await sse.until(() => sse.events.some((e) => e.comment === "subscribed"));
    return sse;
  }

  it("stream expiry - an SSE stream ends with event: error UNAUTHORIZED when the alarm fires at its token's expiry", async () => {
    const t = uniqueName("tx");
    await publishOk(t, [{ body: "seed" }]);
    const sse = await openEvents(t, await token({ [`topics/${t}`]: ["subscribe"] }, 5));
    advanceClock(5_000);
    expect(await runDurableObjectAlarm(partition(t))).toBe(true);
    await sse.until(() => false); // to the end of the stream
    expect(sse.done).toBe(true);
    const last = sse.events.at(-1)!;
    expect(last.event).toBe("error");
    expect(JSON.parse(last.data!)).toEqual({ code: "UNAUTHORIZED" });
    expect(await runInDurableObject(partition(t), (o: TopicPartition) => o.live.subscriberCount())).toBe(0);
  });

  it("stream expiry - an SSE stream delivers nothing published after its token expired", async () => {
    const t = uniqueName("tx");
    await publishOk(t, [{ body: "seed" }]);
    const sse = await openEvents(t, await token({ [`topics/${t}`]: ["subscribe"] }, 5));
    await publishOk(t, [{ body: "before" }]);
    await sse.until(() => sse.messages().length === 1);
    advanceClock(5_000);
    await publishOk(t, [{ body: "after" }]); // wakes the stream before any alarm
    await sse.until(() => false);
    expect(sse.messages().map((m) => m.data.body)).toEqual(["before"]);
    expect(sse.events.at(-1)).toMatchObject({ event: "error", data: JSON.stringify({ code: "UNAUTHORIZED" }) });
  });

  it("stream expiry - an admin SSE stream has no expiry", async () => {
    const t = uniqueName("tx");
    await publishOk(t, [{ body: "seed" }]);
    const sse = await openEvents(t, ADMIN_KEY);
    expect(await runInDurableObject(partition(t), (o: TopicPartition) => o.live.nextDeadline())).toBeNull();
    advanceClock(60_000);
    await publishOk(t, [{ body: "later" }]);
    await sse.until(() => sse.messages().length === 1);
    expect(sse.done).toBe(false);
    await sse.cancel();
  });
});
