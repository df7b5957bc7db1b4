// Redrive never loses letters (API.md, Queues → *Redrive*): letters with a queue as origin go
// home by default; letters from a consumer group or a subscription (or sent to the
// dead-letter queue directly) need `to`, and a redrive without it moves none of them and
// says so: `needTo` counts them, and when nothing could move it is 400 VALIDATION_FAILED.
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { advanceClock, now } from "../../durable-objects/shared/clock";
import { moveKey } from "../../durable-objects/shared/dead-letters";
import { callJson, errorCode, uniqueName } from "./helpers";
import { advance, withStore } from "./queue-helpers";
import { publishOk, stub as partitionStub } from "./topic-log-helpers";

type Peeked = { id: string; body: unknown; attempts: number };

async function peek(q: string): Promise<Peeked[]> {
  const r = await callJson("GET", `/v1/queues/${q}/messages?limit=100`);
  expect(r.status).toBe(200);
  return r.body.messages as Peeked[];
}

/** A topic whose group `g` dead-letters `bodies` into `dlq` after one delivery each. */
async function groupLetters(dlq: string, bodies: string[]): Promise<string> {
  const t = uniqueName("orders");
  await publishOk(t, bodies.map((body) => ({ body, id: `${t}-${body}` })));
  expect((await callJson("PUT", `/v1/topics/${t}/groups/g`, { body: { maxDeliveries: 1, deadLetterQueue: dlq } })).status).toBe(200);
  const polled = await callJson("POST", `/v1/topics/${t}/groups/g/poll`, { body: { max: 10 } });
  expect(polled.body.messages).toHaveLength(bodies.length);
  advanceClock(31_000);
  await runDurableObjectAlarm(partitionStub(t, 0));
  return t;
}

/** A queue that dead-letters `bodies` into `dlq` after one delivery each. */
async function queueLetters(dlq: string, bodies: string[]): Promise<string> {
  const q = uniqueName("jobs");
  await callJson("PUT", `/v1/queues/${q}`, { body: { maxReceives: 1, deadLetterQueue: dlq } });
  await callJson("POST", `/v1/queues/${q}/messages`, { body: { messages: bodies.map((body) => ({ body })) } });
  expect((await callJson("POST", `/v1/queues/${q}/receive`, { body: { max: 10 } })).body.messages).toHaveLength(bodies.length);
  await advance(q, 31_000);
  return q;
}

describe("redrive", () => {
  it("redrive - letters from a consumer group need `to`: without it nothing moves and the answer is 400", async () => {
    const dlq = uniqueName("dlq");
    await groupLetters(dlq, ["poison"]);
    expect((await peek(dlq)).map((m) => m.body)).toEqual(["poison"]);
    const refused = await callJson("POST", `/v1/queues/${dlq}/redrive`, { body: {} });
    expect(refused.status).toBe(400);
    expect(errorCode(refused.body)).toBe("VALIDATION_FAILED");
    expect(refused.body.error.details).toMatchObject({ field: "to", needTo: 1 });
    // Nothing left for an unreachable place: the letter is still here, and nothing waits to move.
    expect((await peek(dlq)).map((m) => m.body)).toEqual(["poison"]);
    expect(await withStore(dlq, (store) => store.outbox.due(Number.MAX_SAFE_INTEGER, 10))).toEqual([]);
    const retry = uniqueName("retry");
    expect((await callJson("POST", `/v1/queues/${dlq}/redrive`, { body: { to: retry } })).body).toEqual({ moved: 1 });
    expect((await peek(retry)).map((m) => [m.body, m.attempts])).toEqual([["poison", 0]]);
    expect(await peek(dlq)).toEqual([]);
  });

  it("redrive - queue letters go home by default while group letters stay and are counted in needTo", async () => {
    const dlq = uniqueName("dlq");
    const q = await queueLetters(dlq, ["q1", "q2"]);
    await groupLetters(dlq, ["g1"]);
    const r = await callJson("POST", `/v1/queues/${dlq}/redrive`, { body: {} });
    expect(r).toMatchObject({ status: 200, body: { moved: 2, needTo: 1 } });
    expect((await peek(q)).map((m) => m.body)).toEqual(["q1", "q2"]);
    expect((await peek(dlq)).map((m) => m.body)).toEqual(["g1"]);
    // Only queue letters left, none now: an empty redrive is still a plain 200.
    await callJson("POST", `/v1/queues/${dlq}/purge`);
    expect((await callJson("POST", `/v1/queues/${dlq}/redrive`, { body: {} })).body).toEqual({ moved: 0 });
  });

  it("redrive - a group letter an earlier redrive sent to its origin 'topic/group' comes back to the dead-letter queue", async () => {
    const dlq = uniqueName("dlq");
    await callJson("PUT", `/v1/queues/${dlq}`, { body: {} });
    // What redrive used to do: a letter in the outbox for a queue named "orders/billing".
    const letter = { moveKey: moveKey(dlq, 1, 7), id: "stranded-1", body: { order: 7 }, headers: { h: "1" }, attempts: 0, origin: null };
    await withStore(dlq, async (store, obj) => {
      store.outbox.add(letter.moveKey, "orders/billing", JSON.stringify(letter), now());
      await obj.alarm();
    });
    expect(await withStore(dlq, (store) => store.outbox.due(Number.MAX_SAFE_INTEGER, 10))).toEqual([]);
    const back = await peek(dlq);
    expect(back.map((m) => [m.id, m.body])).toEqual([["stranded-1", { order: 7 }]]);
    // Back without an origin: moving it again needs `to`.
    expect((await callJson("POST", `/v1/queues/${dlq}/redrive`, { body: {} })).status).toBe(400);
  });
});
