// The SQS-compatible API through the real, unmodified AWS SDK for JavaScript v3 (its MD5
// checks on), against a real local server: every action, FIFO queues, message attributes of
// every type with their digests checked independently, long polls, visibility changes.
import {
  ChangeMessageVisibilityBatchCommand, ChangeMessageVisibilityCommand, CreateQueueCommand, DeleteMessageBatchCommand,
  DeleteMessageCommand, DeleteQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ListDeadLetterSourceQueuesCommand,
  ListQueuesCommand, ListQueueTagsCommand, PurgeQueueCommand, QueueDoesNotExist, QueueNameExists, ReceiptHandleIsInvalid,
  ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, SetQueueAttributesCommand, TagQueueCommand, UntagQueueCommand,
  type MessageAttributeValue,
} from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { api, unique } from "./helpers";
import { ACCOUNT, REGION, md5, md5OfAttributes, queueUrlOf, sqsClient } from "./sqs-helpers";

const sqs = sqsClient();

async function createQueue(name: string, attributes: Record<string, string> = {}, tags?: Record<string, string>): Promise<string> {
  const out = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes, tags }));
  expect(out.QueueUrl).toBe(queueUrlOf(name));
  return out.QueueUrl!;
}

describe("sqs sdk - queues", () => {
  it("sqs sdk - CreateQueue, GetQueueUrl, GetQueueAttributes and DeleteQueue on one queue", async () => {
    const name = unique("sqs");
    const queueUrl = await createQueue(name, { VisibilityTimeout: "45", DelaySeconds: "2", MessageRetentionPeriod: "3600", ReceiveMessageWaitTimeSeconds: "3" });
    expect((await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl).toBe(queueUrl);
    const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["All"] }))).Attributes!;
    expect(attrs).toMatchObject({
      VisibilityTimeout: "45", DelaySeconds: "2", MessageRetentionPeriod: "3600", ReceiveMessageWaitTimeSeconds: "3",
      ApproximateNumberOfMessages: "0", ApproximateNumberOfMessagesNotVisible: "0", ApproximateNumberOfMessagesDelayed: "0",
      QueueArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`, MaximumMessageSize: "262144",
    });
    expect(Number(attrs.CreatedTimestamp)).toBeGreaterThan(1_600_000_000);
    expect(attrs.RedrivePolicy).toBeUndefined();
    expect(attrs.FifoQueue).toBeUndefined();
    // Only what was asked for.
    const some = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["VisibilityTimeout"] }))).Attributes;
    expect(some).toEqual({ VisibilityTimeout: "45" });
    // The same queue through /v1: never dead-letters (maxReceives 0), as SQS without a RedrivePolicy.
    const v1 = await api("GET", `/v1/queues/${name}`);
    expect(v1.body.config).toMatchObject({ visibilityTimeout: 45, delay: 2, retention: 3600, maxReceives: 0, fifo: false });
    await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: name }))).rejects.toBeInstanceOf(QueueDoesNotExist);
    expect((await api("GET", `/v1/queues/${name}`)).status).toBe(404);
  });

  it("sqs sdk - CreateQueue is idempotent with the same attributes and QueueNameExists with others", async () => {
    const name = unique("sqs");
    await createQueue(name, { VisibilityTimeout: "40" });
    await createQueue(name, { VisibilityTimeout: "40" });
    const err = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: "41" } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueNameExists);
    expect((err as QueueNameExists).$metadata.httpStatusCode).toBe(400);
  });

  it("sqs sdk - SetQueueAttributes changes config and RedrivePolicy maps to maxReceives and deadLetterQueue", async () => {
    const name = unique("sqs");
    const dlq = unique("sqs-dlq");
    const queueUrl = await createQueue(name);
    await createQueue(dlq);
    const policy = JSON.stringify({ deadLetterTargetArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${dlq}`, maxReceiveCount: 3 });
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { RedrivePolicy: policy, VisibilityTimeout: "12" } }));
    const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["RedrivePolicy", "VisibilityTimeout", "LastModifiedTimestamp"] }))).Attributes!;
    expect(JSON.parse(attrs.RedrivePolicy!)).toEqual({ deadLetterTargetArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${dlq}`, maxReceiveCount: 3 });
    expect(attrs.VisibilityTimeout).toBe("12");
    expect((await api("GET", `/v1/queues/${name}`)).body.config).toMatchObject({ maxReceives: 3, deadLetterQueue: dlq, visibilityTimeout: 12 });
    const sources = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: queueUrlOf(dlq) }));
    expect(sources.queueUrls).toEqual([queueUrl]);
    // An empty RedrivePolicy removes it: never dead-letter again.
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { RedrivePolicy: "" } }));
    expect((await api("GET", `/v1/queues/${name}`)).body.config).toMatchObject({ maxReceives: 0, deadLetterQueue: null });
    expect((await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: queueUrlOf(dlq) }))).queueUrls ?? []).toEqual([]);
  });

  it("sqs sdk - ListQueues by prefix and in pages", async () => {
    const prefix = unique("sqslist");
    const names = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
    for (const n of names) await createQueue(n);
    const all = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix }));
    expect(all.QueueUrls).toEqual(names.map(queueUrlOf));
    const first = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 2 }));
    expect(first.QueueUrls).toEqual(names.slice(0, 2).map(queueUrlOf));
    expect(first.NextToken).toBeTruthy();
    const second = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 2, NextToken: first.NextToken }));
    expect(second.QueueUrls).toEqual([queueUrlOf(names[2]!)]);
    expect(second.NextToken).toBeUndefined();
  });

  it("sqs sdk - TagQueue, ListQueueTags and UntagQueue; CreateQueue with tags", async () => {
    const name = unique("sqs");
    const queueUrl = await createQueue(name, {}, { team: "billing" });
    await sqs.send(new TagQueueCommand({ QueueUrl: queueUrl, Tags: { env: "test", cost: "42" } }));
    expect((await sqs.send(new ListQueueTagsCommand({ QueueUrl: queueUrl }))).Tags).toEqual({ team: "billing", env: "test", cost: "42" });
    await sqs.send(new UntagQueueCommand({ QueueUrl: queueUrl, TagKeys: ["cost", "missing"] }));
    expect((await sqs.send(new ListQueueTagsCommand({ QueueUrl: queueUrl }))).Tags).toEqual({ team: "billing", env: "test" });
  });

  it("sqs sdk - PurgeQueue empties the queue", async () => {
    const queueUrl = await createQueue(unique("sqs"));
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "a" }));
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "b" }));
    await sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
    const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }))).Attributes;
    expect(attrs).toEqual({ ApproximateNumberOfMessages: "0" });
  });
});

describe("sqs sdk - messages", () => {
  it("sqs sdk - SendMessage, ReceiveMessage (MD5 checked by the SDK) and DeleteMessage", async () => {
    const queueUrl = await createQueue(unique("sqs"));
    const body = "héllo wörld ✓ 🎉";
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    expect(sent.MD5OfMessageBody).toBe(md5(body));
    expect(sent.MessageId).toBeTruthy();
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MessageSystemAttributeNames: ["All"], WaitTimeSeconds: 1 }));
    expect(got.Messages).toHaveLength(1);
    const m = got.Messages![0]!;
    expect(m).toMatchObject({ MessageId: sent.MessageId, Body: body, MD5OfBody: md5(body) });
    expect(m.Attributes).toMatchObject({ ApproximateReceiveCount: "1" });
    expect(Number(m.Attributes!.SentTimestamp)).toBeGreaterThan(1_600_000_000_000);
    expect(Number(m.Attributes!.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(Number(m.Attributes!.SentTimestamp));
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    // Deleting is definitive: the same handle again is refused, and nothing comes back.
    await expect(sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }))).rejects.toBeInstanceOf(ReceiptHandleIsInvalid);
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl }))).Messages ?? []).toEqual([]);
  });

  it("sqs sdk - message attributes of every type round-trip exactly with AWS's MD5OfMessageAttributes", async () => {
    const queueUrl = await createQueue(unique("sqs"));
    const attributes: Record<string, MessageAttributeValue> = {
      city: { DataType: "String", StringValue: "Zürich" },
      count: { DataType: "Number", StringValue: "-12.50" },
      blob: { DataType: "Binary", BinaryValue: new Uint8Array([0, 1, 2, 250, 255]) },
      "trace.id": { DataType: "String.uuid", StringValue: "7c9e6679-7425-40de-944b-e07fc1f90ae7" },
      price: { DataType: "Number.float", StringValue: "4563442423554324324264524243.32543234" },
      pic: { DataType: "Binary.png", BinaryValue: new Uint8Array([137, 80, 78, 71]) },
    };
    const expected = md5OfAttributes(attributes as Record<string, { DataType: string; StringValue?: string; BinaryValue?: Uint8Array }>);
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "with attributes", MessageAttributes: attributes }));
    expect(sent.MD5OfMessageAttributes).toBe(expected);
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MessageAttributeNames: ["All"] }));
    const m = got.Messages![0]!;
    expect(m.MD5OfMessageAttributes).toBe(expected);
    expect(m.MessageAttributes).toEqual(attributes);
    // Only the attributes asked for, with the digest of those.
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
    const some = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MessageAttributeNames: ["city", "trace.*"] }))).Messages![0]!;
    expect(Object.keys(some.MessageAttributes!).sort()).toEqual(["city", "trace.id"]);
    expect(some.MD5OfMessageAttributes).toBe(md5OfAttributes({ city: attributes.city!, "trace.id": attributes["trace.id"]! } as never));
  });

  it("sqs sdk - the MD5 of attributes matches AWS's published examples", () => {
    // Vectors from the aws-md5-of-message-attributes package's documentation.
    expect(md5OfAttributes({ attribName1: { DataType: "String", StringValue: "attribValue 1" } })).toBe("19e27d4e946b072f3f58da80d94fd778");
    expect(md5OfAttributes({ binaryAttribute: { DataType: "Binary", BinaryValue: Buffer.from("Hello binary world!") } })).toBe("31a92b15d92f8db860eda32aceb656c3");
  });

  it("sqs sdk - SendMessageBatch and DeleteMessageBatch report each entry", async () => {
    const queueUrl = await createQueue(unique("sqs"));
    const entries = Array.from({ length: 10 }, (_, i) => ({ Id: `m${i}`, MessageBody: `body ${i}` }));
    const sent = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    expect(sent.Successful).toHaveLength(10);
    expect(sent.Failed ?? []).toEqual([]);
    expect(sent.Successful!.find((s) => s.Id === "m3")!.MD5OfMessageBody).toBe(md5("body 3"));
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
    expect(got.Messages!.map((m) => m.Body).sort()).toEqual(entries.map((e) => e.MessageBody).sort());
    const deleted = await sqs.send(new DeleteMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: [...got.Messages!.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle! })).slice(0, 9), { Id: "bad", ReceiptHandle: "not-a-receipt" }],
    }));
    expect(deleted.Successful).toHaveLength(9);
    expect(deleted.Failed).toEqual([expect.objectContaining({ Id: "bad", SenderFault: true, Code: "ReceiptHandleIsInvalid" })]);
  });

  it("sqs sdk - a batch with an invalid entry sends the others and reports it in Failed", async () => {
    const queueUrl = await createQueue(unique("sqs"));
    const sent = await sqs.send(new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: [{ Id: "ok", MessageBody: "fine" }, { Id: "bad", MessageBody: "x", DelaySeconds: 901 }],
    }));
    expect(sent.Successful!.map((s) => s.Id)).toEqual(["ok"]);
    expect(sent.Failed).toEqual([expect.objectContaining({ Id: "bad", SenderFault: true, Code: "InvalidParameterValue" })]);
  });

  it("sqs sdk - ChangeMessageVisibility 0 makes the message visible at once; a longer one hides it", async () => {
    const queueUrl = await createQueue(unique("sqs"), { VisibilityTimeout: "300" });
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "again" }));
    const first = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl }))).Messages![0]!;
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: first.ReceiptHandle, VisibilityTimeout: 0 }));
    const second = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MessageSystemAttributeNames: ["ApproximateReceiveCount"] }))).Messages![0]!;
    expect(second.MessageId).toBe(first.MessageId);
    expect(second.Attributes).toEqual({ ApproximateReceiveCount: "2" });
    const batch = await sqs.send(new ChangeMessageVisibilityBatchCommand({
      QueueUrl: queueUrl,
      Entries: [{ Id: "a", ReceiptHandle: second.ReceiptHandle, VisibilityTimeout: 600 }, { Id: "old", ReceiptHandle: first.ReceiptHandle, VisibilityTimeout: 5 }],
    }));
    expect(batch.Successful).toEqual([{ Id: "a" }]);
    expect(batch.Failed).toEqual([expect.objectContaining({ Id: "old", Code: "AWS.SimpleQueueService.MessageNotInflight" })]);
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl }))).Messages ?? []).toEqual([]);
  });

  it("sqs sdk - ReceiveMessage long-polls until a message arrives", async () => {
    const queueUrl = await createQueue(unique("sqs"));
    const polling = sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 10 }));
    await new Promise((r) => setTimeout(r, 300));
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "late" }));
    expect((await polling).Messages![0]!.Body).toBe("late");
  });

  it("sqs sdk - DelaySeconds hides a message until its time", async () => {
    const queueUrl = await createQueue(unique("sqs"));
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "later", DelaySeconds: 1 }));
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl }))).Messages ?? []).toEqual([]);
    const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessagesDelayed"] }))).Attributes;
    expect(attrs).toEqual({ ApproximateNumberOfMessagesDelayed: "1" });
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 5 }))).Messages![0]!.Body).toBe("later");
  });
});

describe("sqs sdk - FIFO queues", () => {
  it("sqs sdk - a .fifo queue with FifoQueue keeps group order, dedups by MessageDeduplicationId and numbers messages", async () => {
    const name = `${unique("sqs")}.fifo`;
    const queueUrl = await createQueue(name, { FifoQueue: "true" });
    expect((await api("GET", `/v1/queues/${name}`)).body.config.fifo).toBe(true);
    const a = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "1", MessageGroupId: "g", MessageDeduplicationId: "d1" }));
    const dup = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "1 again", MessageGroupId: "g", MessageDeduplicationId: "d1" }));
    expect(dup.MessageId).toBe(a.MessageId);
    expect(dup.SequenceNumber).toBe(a.SequenceNumber);
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "2", MessageGroupId: "g", MessageDeduplicationId: "d2" }));
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ["All"] }));
    // One message of a group in flight at a time.
    expect(got.Messages!.map((m) => m.Body)).toEqual(["1"]);
    expect(got.Messages![0]!.Attributes).toMatchObject({ MessageGroupId: "g", MessageDeduplicationId: "d1", SequenceNumber: a.SequenceNumber });
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: got.Messages![0]!.ReceiptHandle }));
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl }))).Messages![0]!.Body).toBe("2");
  });

  it("sqs sdk - ContentBasedDeduplication uses the body's SHA-256 as the deduplication id", async () => {
    const name = `${unique("sqs")}.fifo`;
    const queueUrl = await createQueue(name, { FifoQueue: "true", ContentBasedDeduplication: "true" });
    const a = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "same", MessageGroupId: "g" }));
    const b = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "same", MessageGroupId: "g" }));
    expect(b.MessageId).toBe(a.MessageId);
    const peek = await api("GET", `/v1/queues/${name}/messages?limit=10`);
    expect(peek.body.messages).toHaveLength(1);
    const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["All"] }))).Attributes!;
    expect(attrs).toMatchObject({ FifoQueue: "true", ContentBasedDeduplication: "true" });
  });
});
