// One queue, two APIs: messages sent through SQS read through /v1 and the reverse, receipts
// shared, dead-lettering by RedrivePolicy, and sqs-consumer (unmodified) consuming a stream
// exactly once with deletes, against a real local server.
import {
  ChangeMessageVisibilityCommand, CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand,
  SendMessageCommand, type Message,
} from "@aws-sdk/client-sqs";
import { Consumer } from "sqs-consumer";
import { describe, expect, it } from "vitest";
import { api, unique } from "./helpers";
import { ACCOUNT, REGION, md5, md5OfAttributes, queueUrlOf, sqsClient } from "./sqs-helpers";

const sqs = sqsClient();

async function createQueue(name: string, attributes: Record<string, string> = {}): Promise<string> {
  return (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl!;
}

describe("sqs interop - the same queues as /v1", () => {
  it("sqs interop - a message sent through SQS reads through /v1 with a string body and its attributes as headers", async () => {
    const name = unique("sqsx");
    const queueUrl = await createQueue(name);
    await sqs.send(new SendMessageCommand({
      QueueUrl: queueUrl, MessageBody: '{"not":"parsed"}', MessageGroupId: "g1",
      MessageAttributes: {
        kind: { DataType: "String", StringValue: "order" },
        total: { DataType: "Number", StringValue: "12.50" },
        raw: { DataType: "Binary", BinaryValue: new Uint8Array([1, 2, 3]) },
      },
    }));
    const got = await api("POST", `/v1/queues/${name}/receive`, { max: 1 });
    expect(got.status).toBe(200);
    const m = got.body.messages[0];
    expect(m.body).toBe('{"not":"parsed"}');
    expect(m.headers).toEqual({ kind: "order", total: "12.50", raw: Buffer.from([1, 2, 3]).toString("base64") });
    expect(m.group).toBe("g1");
    expect(m).not.toHaveProperty("attributeTypes");
    // The SQS receipt and the /v1 receipt are the same thing: ack through /v1 what SQS gave back.
    const acked = await api("POST", `/v1/queues/${name}/ack`, { receipts: [m.receipt] });
    expect(acked.body).toEqual({ acked: 1, failed: [] });
  });

  it("sqs interop - a /v1 message reads through SQS: a non-string body as its JSON text, headers as String attributes", async () => {
    const name = unique("sqsx");
    expect((await api("PUT", `/v1/queues/${name}`, {})).status).toBe(200);
    const body = { order: 7, items: ["a", "b"] };
    expect((await api("POST", `/v1/queues/${name}/messages`, { messages: [{ body, headers: { kind: "order" } }, { body: "plain" }] })).status).toBe(201);
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrlOf(name), MaxNumberOfMessages: 10, MessageAttributeNames: ["All"] }));
    const [first, second] = got.Messages!;
    expect(first!.Body).toBe(JSON.stringify(body));
    expect(first!.MD5OfBody).toBe(md5(JSON.stringify(body)));
    expect(first!.MessageAttributes).toEqual({ kind: { DataType: "String", StringValue: "order" } });
    expect(first!.MD5OfMessageAttributes).toBe(md5OfAttributes({ kind: { DataType: "String", StringValue: "order" } }));
    expect(second!.Body).toBe("plain");
    expect(second!.MessageAttributes).toBeUndefined();
  });

  it("sqs interop - a /v1 queue shows its default dead-letter config as a RedrivePolicy", async () => {
    const name = unique("sqsx");
    expect((await api("PUT", `/v1/queues/${name}`, { maxReceives: 4 })).status).toBe(200);
    const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrlOf(name), AttributeNames: ["RedrivePolicy"] }))).Attributes!;
    expect(JSON.parse(attrs.RedrivePolicy!)).toEqual({ deadLetterTargetArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}.dlq`, maxReceiveCount: 4 });
  });

  it("sqs interop - past maxReceiveCount a message moves to the dead-letter queue with its attributes", async () => {
    const name = unique("sqsx");
    const dlq = `${name}-dlq`;
    const dlqUrl = await createQueue(dlq);
    const queueUrl = await createQueue(name, {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${dlq}`, maxReceiveCount: "1" }),
    });
    const attributes = { n: { DataType: "Number.int", StringValue: "5" } };
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "doomed", MessageAttributes: attributes }));
    const m = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl }))).Messages![0]!;
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
    const dead = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 10, MessageAttributeNames: ["All"] }))).Messages![0]!;
    expect(dead.Body).toBe("doomed");
    expect(dead.MessageId).toBe(m.MessageId);
    expect(dead.MessageAttributes).toEqual(attributes);
  });
});

describe("sqs interop - sqs-consumer", () => {
  it("sqs interop - sqs-consumer consumes a stream exactly once with deletes, two consumers competing", async () => {
    const name = unique("sqsc");
    const queueUrl = await createQueue(name, { VisibilityTimeout: "30" });
    const total = 60;
    for (let i = 0; i < total; i += 10) {
      const entries = Array.from({ length: 10 }, (_, j) => ({ Id: `e${j}`, MessageBody: `msg-${i + j}` }));
      const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      expect(out.Successful).toHaveLength(10);
    }
    const seen: string[] = [];
    const errors: unknown[] = [];
    let resolveAll!: () => void;
    const allSeen = new Promise<void>((r) => (resolveAll = r));
    const note = (m: Message): void => {
      seen.push(m.Body!);
      if (seen.length >= total) resolveAll();
    };
    const one = Consumer.create({ queueUrl, sqs, batchSize: 10, waitTimeSeconds: 1, handleMessage: async (m) => { note(m); return m; } });
    const many = Consumer.create({ queueUrl, sqs, batchSize: 5, waitTimeSeconds: 1, handleMessageBatch: async (ms) => { ms.forEach(note); return ms; } });
    for (const c of [one, many]) {
      c.on("error", (e) => errors.push(e));
      c.on("processing_error", (e) => errors.push(e));
      c.start();
    }
    await Promise.race([allSeen, new Promise((_, fail) => setTimeout(() => fail(new Error(`only ${seen.length} of ${total} consumed`)), 20_000))]);
    // Let deletes of the last batch land, then stop.
    await new Promise((r) => setTimeout(r, 1500));
    one.stop({ abort: false });
    many.stop({ abort: false });
    expect(errors).toEqual([]);
    expect(seen.length).toBe(total);
    expect(new Set(seen).size).toBe(total);
    const stats = (await api("GET", `/v1/queues/${name}`)).body.stats;
    expect(stats).toMatchObject({ messages: 0, acked: total, received: total });
  });
});
