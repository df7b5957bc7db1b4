// The queue's RPC surface as other objects use it: send (implicit creation, dedup) and
// receiveDeadLetter (idempotent moves that bypass dedup).
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { queueStub } from "../../durable-objects/env";
import type { DeadLetterResult, PeekedMessage, QueueInfo, QueueSendResult } from "../../protocol/queues";
import { uniqueName } from "./helpers";
import { codeOf, value } from "./queue-helpers";

describe("queue RPC", () => {
  it("queue - send by RPC creates the queue with defaults", async () => {
    const q = uniqueName("rpc");
    const r = await value<QueueSendResult>(queueStub(env, q).send([{ body: { n: 1 } }, { body: "two", id: "m-2" }]));
    expect(r.messages.map((m) => m.duplicate)).toEqual([false, false]);
    expect(r.messages[1]).toMatchObject({ id: "m-2", seq: 2 });
    const info = await value<QueueInfo>(queueStub(env, q).info());
    expect(info.config.deadLetterQueue).toBe(`${q}.dlq`);
    expect(info.stats.messages).toBe(2);
  });

  it("queue - send by RPC with create:false on a missing queue is NOT_FOUND and creates nothing", async () => {
    const q = uniqueName("rpc");
    expect(await codeOf(queueStub(env, q).send([{ body: 1 }], { create: false }))).toBe("NOT_FOUND");
    expect(await codeOf(queueStub(env, q).info())).toBe("NOT_FOUND");
  });

  it("queue - a re-sent id is a duplicate carrying the original seq (forwarder exactly-once)", async () => {
    const q = uniqueName("rpc");
    const stub = queueStub(env, q);
    const first = await value<QueueSendResult>(stub.send([{ id: "topic-msg-1", body: "a" }]));
    const again = await value<QueueSendResult>(stub.send([{ id: "topic-msg-1", body: "a" }, { id: "topic-msg-2", body: "b" }, { id: "topic-msg-2", body: "b" }]));
    expect(again.messages).toEqual([
      { id: "topic-msg-1", seq: first.messages[0]!.seq, duplicate: true },
      { id: "topic-msg-2", seq: 2, duplicate: false },
      { id: "topic-msg-2", seq: 2, duplicate: true },
    ]);
    const info = await value<QueueInfo>(stub.info());
    expect(info.stats).toMatchObject({ messages: 2, sent: 2, duplicates: 2 });
  });

  it("queue - receiveDeadLetter is idempotent by moveKey and bypasses dedup", async () => {
    const q = uniqueName("rpc");
    const stub = queueStub(env, q);
    await value(stub.send([{ id: "x", body: "orig" }]));
    const letter = { moveKey: "src@1#7", id: "x", body: "dead", headers: { h: "v" }, attempts: 3, origin: "src" };
    expect(await value<DeadLetterResult>(stub.receiveDeadLetter([letter]))).toEqual({ accepted: 1, skipped: 0 });
    expect(await value<DeadLetterResult>(stub.receiveDeadLetter([letter]))).toEqual({ accepted: 0, skipped: 1 });
    const peek = await value<{ messages: PeekedMessage[] }>(stub.peek(10));
    expect(peek.messages.map((m) => [m.id, m.body, m.attempts])).toEqual([["x", "orig", 0], ["x", "dead", 3]]);
  });
});
