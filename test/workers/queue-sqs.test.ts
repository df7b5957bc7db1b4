// What the queue object keeps for the SQS API: attribute types beside headers (returned only
// on request, carried into dead-letter queues), the first delivery's time, tags and protocol
// attributes in one transaction with config, and `maxReceives: 0` (never dead-letter).
import { describe, expect, it } from "vitest";
import type { QueueDescription, QueueSendResult, ReceivedMessage } from "../../protocol/queues";
import { callJson, uniqueName } from "./helpers";
import { advance, codeOf, stub, value } from "./queue-helpers";

type Received = { messages: ReceivedMessage[] };

describe("queue - sqs fields", () => {
  it("queue - attribute types are stored with headers and returned only with detail", async () => {
    const q = uniqueName("sqs");
    await value<QueueSendResult>(stub(q).send([{ body: "b", headers: { n: "1.5", raw: "AQI=" }, attributeTypes: { n: "Number", raw: "Binary.x" } }]));
    const plain = await value<Received>(stub(q).receive({ max: 1 }));
    expect(plain.messages[0]).not.toHaveProperty("attributeTypes");
    expect(plain.messages[0]).not.toHaveProperty("firstReceivedAt");
    expect(plain.messages[0]!.headers).toEqual({ n: "1.5", raw: "AQI=" });
    await value(stub(q).nack([plain.messages[0]!.receipt!], 0));
    const detailed = await value<Received>(stub(q).receive({ max: 1, detail: true }));
    const m = detailed.messages[0]!;
    expect(m.attributeTypes).toEqual({ n: "Number", raw: "Binary.x" });
    // The first delivery's time is kept across redeliveries.
    expect(m.attempts).toBe(2);
    expect(m.firstReceivedAt).toBeGreaterThanOrEqual(m.sentAt);
    // /v1 never shows the types.
    const peek = await callJson("GET", `/v1/queues/${q}/messages?limit=1`);
    expect(peek.body.messages[0]).not.toHaveProperty("attributeTypes");
  });

  it("queue - a dead letter keeps its attribute types", async () => {
    const q = uniqueName("sqs");
    const dlq = `${q}-dlq`;
    await value(stub(q).configure({ maxReceives: 1, deadLetterQueue: dlq, visibilityTimeout: 1 }));
    await value(stub(q).send([{ body: "x", headers: { n: "7" }, attributeTypes: { n: "Number.int" } }]));
    const got = await value<Received>(stub(q).receive({ max: 1 }));
    await value(stub(q).nack([got.messages[0]!.receipt!], 0));
    await advance(q, 10); // the outbox moves the letter
    const dead = await value<Received>(stub(dlq).receive({ max: 1, detail: true }));
    expect(dead.messages[0]).toMatchObject({ body: "x", headers: { n: "7" }, attributeTypes: { n: "Number.int" } });
  });

  it("queue - maxReceives 0 never dead-letters", async () => {
    const q = uniqueName("sqs");
    await value(stub(q).configure({ maxReceives: 0, deadLetterQueue: null, visibilityTimeout: 1 }));
    await value(stub(q).send([{ body: "forever" }]));
    for (let i = 0; i < 7; i++) {
      const got = await value<Received>(stub(q).receive({ max: 1 }));
      expect(got.messages[0]!.attempts).toBe(i + 1);
      await value(stub(q).nack([got.messages[0]!.receipt!], 0));
    }
    expect((await value<QueueDescription>(stub(q).describe())).stats).toMatchObject({ messages: 1, deadLettered: 0 });
  });

  it("queue - setAttributes changes config and protocol attributes in one transaction", async () => {
    const q = uniqueName("sqs");
    await value(stub(q).configure({}));
    const d = await value<QueueDescription>(stub(q).setAttributes({ visibilityTimeout: 9 }, { ReceiveMessageWaitTimeSeconds: "4", Policy: "{}" }));
    expect(d.config.visibilityTimeout).toBe(9);
    expect(d.attributes).toEqual({ ReceiveMessageWaitTimeSeconds: "4", Policy: "{}" });
    await value(stub(q).setAttributes({}, { Policy: null }));
    expect((await value<QueueDescription>(stub(q).describe())).attributes).toEqual({ ReceiveMessageWaitTimeSeconds: "4" });
    // A refused config change writes no attribute either.
    expect(await codeOf(stub(q).setAttributes({ visibilityTimeout: 0 }, { Policy: "{}" }))).toBe("VALIDATION_FAILED");
    expect(await codeOf(stub(q).setAttributes({ fifo: true }, {}))).toBe("CONFLICT");
    expect((await value<QueueDescription>(stub(q).describe())).attributes).toEqual({ ReceiveMessageWaitTimeSeconds: "4" });
    expect(await codeOf(stub(uniqueName("missing")).setAttributes({}, {}))).toBe("NOT_FOUND");
  });

  it("queue - tags are kept up to 50 and go with the queue", async () => {
    const q = uniqueName("sqs");
    await value(stub(q).configure({}));
    await value(stub(q).tag({ a: "1" }));
    await value(stub(q).tag({ b: "2" }));
    await value(stub(q).untag(["a"]));
    expect((await value<QueueDescription>(stub(q).describe())).tags).toEqual({ b: "2" });
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, "v"]));
    expect(await codeOf(stub(q).tag(many))).toBe("VALIDATION_FAILED");
    expect(Object.keys((await value<QueueDescription>(stub(q).describe())).tags)).toEqual(["b"]);
    await value(stub(q).delete());
    await value(stub(q).configure({}));
    expect((await value<QueueDescription>(stub(q).describe())).tags).toEqual({});
  });
});
