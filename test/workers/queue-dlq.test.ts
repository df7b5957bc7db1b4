// Dead letters and redrive: the move after maxReceives, drops, redrive back, and the
// cross-object move surviving failures and restarts without loss or duplication.
import { describe, expect, it } from "vitest";
import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { advanceClock, now } from "../../durable-objects/shared/clock";
import type { OutboxRow } from "../../durable-objects/queue/store/queue-store";
import { callJson, uniqueName } from "./helpers";
import { advance, statsOf, stub, withStore } from "./queue-helpers";

type Msg = { id: string; body: unknown; headers: Record<string, string>; receipt: string; attempts: number };

async function receive(q: string, body: Record<string, unknown> = {}): Promise<Msg[]> {
  return (await callJson("POST", `/v1/queues/${q}/receive`, { body })).body.messages as Msg[];
}

async function peek(q: string): Promise<Msg[]> {
  const r = await callJson("GET", `/v1/queues/${q}/messages?limit=100`);
  expect(r.status).toBe(200);
  return r.body.messages as Msg[];
}

/** Letters waiting in a queue's outbox, due or not. */
async function outbox(q: string): Promise<OutboxRow[]> {
  return withStore(q, (store) => store.outbox.due(Number.MAX_SAFE_INTEGER, 1000));
}

/**
 * Makes the object's SQL statements matching `pattern` throw, as a crash at that point
 * would, until the returned function is called.
 */
function failStatements(state: DurableObjectState, pattern: RegExp, message: string): () => void {
  const sql = state.storage.sql;
  const exec = sql.exec;
  sql.exec = ((query: string, ...bindings: unknown[]) => {
    if (pattern.test(query)) throw new Error(message);
    return exec.call(sql, query, ...bindings);
  }) as typeof exec;
  return () => {
    sql.exec = exec;
  };
}

/** Delivers the queue's one message `times` times, letting each lease expire. */
async function exhaust(q: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    expect(await receive(q)).toHaveLength(1);
    await advance(q, 31_000);
  }
}

describe("queue dead letters", () => {
  it("queue - after maxReceives unacked deliveries the message moves to {q}.dlq with id, body, headers and attempts", async () => {
    const q = uniqueName("dlq");
    await callJson("PUT", `/v1/queues/${q}`, { body: { maxReceives: 2 } });
    const sent = await callJson("POST", `/v1/queues/${q}/messages`, { body: { id: "poison-1", body: { bad: true }, headers: { kind: "x" } } });
    expect(sent.status).toBe(201);
    await exhaust(q, 2);
    expect(await statsOf(q)).toMatchObject({ messages: 0, deadLettered: 1 });
    const [dead] = await peek(`${q}.dlq`);
    expect(dead).toMatchObject({ id: "poison-1", body: { bad: true }, headers: { kind: "x" }, attempts: 2, state: "visible" });
    const list = await callJson("GET", "/v1/queues");
    expect(list.body.queues.some((e: { name: string }) => e.name === `${q}.dlq`)).toBe(true);
  });

  it("queue - maxReceives 0 never dead-letters: a message redelivered past 5 times stays in the queue", async () => {
    const q = uniqueName("never");
    expect((await callJson("PUT", `/v1/queues/${q}`, { body: { maxReceives: 0 } })).body.config.maxReceives).toBe(0);
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { id: "stubborn", body: "again" } });
    await exhaust(q, 6);
    const [m] = await receive(q);
    expect(m).toMatchObject({ id: "stubborn", attempts: 7 });
    expect((await callJson("POST", `/v1/queues/${q}/nack`, { body: { receipts: [m!.receipt] } })).body.nacked).toBe(1);
    expect(await statsOf(q)).toMatchObject({ messages: 1, visible: 1, deadLettered: 0 });
    expect((await callJson("GET", `/v1/queues/${q}.dlq`)).status).toBe(404);
  });

  it("queue - a nack on the last allowed delivery dead-letters at once", async () => {
    const q = uniqueName("dlq");
    await callJson("PUT", `/v1/queues/${q}`, { body: { maxReceives: 1, deadLetterQueue: `${q}-dead` } });
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { body: "n" } });
    const [m] = await receive(q);
    expect((await callJson("POST", `/v1/queues/${q}/nack`, { body: { receipts: [m!.receipt] } })).body.nacked).toBe(1);
    expect(await receive(q)).toEqual([]);
    expect((await peek(`${q}-dead`)).map((x) => [x.body, x.attempts])).toEqual([["n", 1]]);
  });

  it("queue - deadLetterQueue null drops the message and counts it in deadLettered", async () => {
    const q = uniqueName("dlq");
    await callJson("PUT", `/v1/queues/${q}`, { body: { maxReceives: 1, deadLetterQueue: null } });
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { body: "drop" } });
    await exhaust(q, 1);
    expect(await statsOf(q)).toMatchObject({ messages: 0, deadLettered: 1 });
    expect((await callJson("GET", `/v1/queues/${q}.dlq`)).status).toBe(404);
  });

  it("queue - redrive moves dead letters back to their origin with attempts reset, past the dedup window", async () => {
    const q = uniqueName("redrive");
    await callJson("PUT", `/v1/queues/${q}`, { body: { maxReceives: 1 } });
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { messages: [{ id: "r1", body: 1, headers: { h: "1" } }, { id: "r2", body: 2 }] } });
    await receive(q, { max: 2 });
    await advance(q, 31_000);
    expect(await peek(`${q}.dlq`)).toHaveLength(2);
    const moved = await callJson("POST", `/v1/queues/${q}.dlq/redrive`, { body: {} });
    expect(moved).toMatchObject({ status: 200, body: { moved: 2 } });
    expect(await peek(`${q}.dlq`)).toEqual([]);
    // The ids are still inside the source's dedup window; the redrive is not subject to it.
    const back = await peek(q);
    expect(back.map((m) => [m.id, m.body, m.headers, m.attempts])).toEqual([["r1", 1, { h: "1" }, 0], ["r2", 2, {}, 0]]);
    expect((await receive(q))[0]!.attempts).toBe(1);
    // ... while a plain send of the same id is still a duplicate.
    const dup = await callJson("POST", `/v1/queues/${q}/messages`, { body: { id: "r1", body: 1 } });
    expect(dup.body.messages[0].duplicate).toBe(true);
  });

  it("queue - redrive with to and max moves that many, oldest first, into the named queue", async () => {
    const q = uniqueName("redrive");
    const dlq = `${q}.dlq`;
    await callJson("POST", `/v1/queues/${dlq}/messages`, { body: { messages: [{ body: "a" }, { body: "b" }, { body: "c" }] } });
    // Letters sent straight to the DLQ have no origin: without `to` none can move, which is refused.
    const refused = await callJson("POST", `/v1/queues/${dlq}/redrive`, { body: {} });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: "VALIDATION_FAILED", details: { field: "to", needTo: 3 } });
    const r = await callJson("POST", `/v1/queues/${dlq}/redrive`, { body: { to: `${q}-retry`, max: 2 } });
    expect(r.body.moved).toBe(2);
    expect((await peek(`${q}-retry`)).map((m) => m.body)).toEqual(["a", "b"]);
    expect((await peek(dlq)).map((m) => m.body)).toEqual(["c"]);
  });
});

describe("queue dead-letter moves across objects", () => {
  it("queue - a move the target refuses stays in the outbox and lands once the target accepts", async () => {
    const q = uniqueName("outbox");
    // A target whose own default "{name}.dlq" is too long cannot be created implicitly.
    const target = `t${"x".repeat(125)}`;
    await callJson("PUT", `/v1/queues/${q}`, { body: { maxReceives: 1, deadLetterQueue: target } });
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { id: "keep-me", body: "precious" } });
    await exhaust(q, 1);
    expect((await callJson("GET", `/v1/queues/${target}`)).status).toBe(404);
    expect((await outbox(q)).map((l) => l.target)).toEqual([target]);
    await callJson("PUT", `/v1/queues/${target}`, { body: { deadLetterQueue: null } });
    await advance(q, 2_000); // past the outbox retry backoff
    expect((await peek(target)).map((m) => [m.id, m.body])).toEqual([["keep-me", "precious"]]);
    expect(await outbox(q)).toEqual([]);
  });

  it("queue - an alarm that throws mid-transaction loses nothing and the retry completes the move", async () => {
    const q = uniqueName("throw");
    await callJson("PUT", `/v1/queues/${q}`, { body: { maxReceives: 1 } });
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { body: "survivor" } });
    await receive(q, { visibilityTimeout: 30 });
    advanceClock(31_000);
    await withStore(q, async (store, obj, state) => {
      const restore = failStatements(state, /^DELETE FROM messages/, "disk on fire");
      await expect(obj.alarm()).rejects.toThrow("disk on fire");
      restore();
      // Rolled back: the message is still here, in flight with its lease over.
      expect(store.stats(now(), 0)).toMatchObject({ messages: 1, inFlight: 1, deadLettered: 0 });
      expect(store.outbox.due(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
      await obj.alarm();
    });
    expect(await statsOf(q)).toMatchObject({ messages: 0, deadLettered: 1 });
    expect((await peek(`${q}.dlq`)).map((m) => m.body)).toEqual(["survivor"]);
  });

  it("queue - a restart between the target's write and the outbox delete does not duplicate the letter", async () => {
    const q = uniqueName("restart");
    await callJson("PUT", `/v1/queues/${q}`, { body: { maxReceives: 1 } });
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { id: "m1", body: "only-once" } });
    await receive(q);
    advanceClock(31_000);
    // The lease ends and the letter is sent, but the source dies before deleting its outbox row.
    await withStore(q, async (_store, obj, state) => {
      const restore = failStatements(state, /^DELETE FROM outbox/, "power cut");
      await expect(obj.alarm()).rejects.toThrow("power cut");
      restore();
    });
    expect(await peek(`${q}.dlq`)).toHaveLength(1);
    expect((await outbox(q)).map((l) => l.target)).toEqual([`${q}.dlq`]);
    // After the restart the alarm (still set for the lease) sends the letter again; the target skips it.
    await evictDurableObject(stub(q));
    expect(await runDurableObjectAlarm(stub(q))).toBe(true);
    expect((await peek(`${q}.dlq`)).map((m) => m.body)).toEqual(["only-once"]);
    expect(await outbox(q)).toEqual([]);
  });
});
