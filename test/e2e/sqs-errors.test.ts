// The SQS-compatible API refuses bad input the way AWS does, never with a 5xx: unsigned and
// wrongly signed requests, expired dates, unknown keys, actions and queues, malformed JSON
// and form bodies, batches over the limits; capabilities per action; and the query protocol
// (a signed form POST with XML answers, and a presigned GET), as older SDKs speak it.
import {
  CreateQueueCommand, ListQueuesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand,
} from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { api, unique } from "./helpers";
import {
  accessKey, jsonRequest, md5, md5OfAttributes, queryRequest, queueUrlOf, rawRequest, sqsClient, xmlText, xmlTexts, type Creds,
} from "./sqs-helpers";

const sqs = sqsClient();

async function createQueue(name: string, attributes: Record<string, string> = {}): Promise<string> {
  return (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl!;
}

/** The SDK's error for a call that must fail. */
async function failure(p: Promise<unknown>): Promise<{ name: string; status: number | undefined; code?: string }> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err, "the call should have failed").not.toBeNull();
  const e = err as { name: string; $metadata?: { httpStatusCode?: number }; Code?: string };
  return { name: e.name, status: e.$metadata?.httpStatusCode, code: e.Code };
}

describe("sqs errors - authentication", () => {
  it("sqs errors - an unsigned request is MissingAuthenticationToken with AWS's JSON error shape", async () => {
    const res = await jsonRequest("ListQueues", {}, { creds: null });
    expect(res.status).toBe(403);
    expect(res.headers.get("x-amzn-query-error")).toBe("MissingAuthenticationToken;Sender");
    expect(res.headers.get("content-type")).toBe("application/x-amz-json-1.0");
    expect(res.json).toEqual({ __type: "com.amazonaws.sqs#MissingAuthenticationToken", message: expect.any(String) });
  });

  it("sqs errors - a wrong secret is SignatureDoesNotMatch and an unknown key InvalidClientTokenId", async () => {
    expect(await failure(sqsClient({ accessKeyId: "admin", secretAccessKey: "wrong" }).send(new ListQueuesCommand({}))))
      .toMatchObject({ name: "SignatureDoesNotMatch", status: 403 });
    expect(await failure(sqsClient({ accessKeyId: "SPKAAAAAAAAAAAAAAAAAAAAA", secretAccessKey: "x" }).send(new ListQueuesCommand({}))))
      .toMatchObject({ name: "InvalidClientTokenId", status: 403 });
    expect(await failure(sqsClient({ accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "x" }).send(new ListQueuesCommand({}))))
      .toMatchObject({ name: "InvalidClientTokenId", status: 403 });
  });

  it("sqs errors - a request signed more than 15 minutes away is RequestExpired; one within it passes", async () => {
    for (const minutes of [-16, 16]) {
      const res = await jsonRequest("ListQueues", {}, { date: new Date(Date.now() + minutes * 60_000) });
      expect(res.status).toBe(400);
      expect(res.json.__type).toBe("com.amazonaws.sqs#RequestExpired");
    }
    expect((await jsonRequest("ListQueues", {}, { date: new Date(Date.now() - 10 * 60_000) })).status).toBe(200);
  });

  it("sqs errors - any region is accepted but only the sqs service", async () => {
    expect((await jsonRequest("ListQueues", {}, { region: "ap-southeast-2" })).status).toBe(200);
    const res = await jsonRequest("ListQueues", {}, { service: "sns" });
    expect(res.status).toBe(403);
    expect(res.json.__type).toBe("com.amazonaws.sqs#SignatureDoesNotMatch");
  });

  it("sqs errors - a body changed after signing is SignatureDoesNotMatch", async () => {
    const res = await rawRequest({
      headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": "AmazonSQS.ListQueues" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    const signed = await jsonRequest("ListQueues", { QueueNamePrefix: "a" }, { headers: { "x-amz-content-sha256": "0".repeat(64) } });
    expect(signed.status).toBe(403);
  });

  it("sqs errors - an access key authenticates, and a revoked one is refused", async () => {
    const creds = await accessKey({ "queues/*": ["manage"] });
    const client = sqsClient(creds);
    expect((await client.send(new ListQueuesCommand({}))).$metadata.httpStatusCode).toBe(200);
    expect((await api("DELETE", `/v1/keys/${creds.accessKeyId}`)).status).toBe(204);
    expect(await failure(client.send(new ListQueuesCommand({})))).toMatchObject({ name: "InvalidClientTokenId" });
  });
});

describe("sqs errors - capabilities", () => {
  it("sqs errors - each action needs its capability: send, receive, manage, and manage on queues/* to list", async () => {
    const name = unique("sqse");
    const queueUrl = await createQueue(name);
    const sender = sqsClient(await accessKey({ [`queues/${name}`]: ["send"] }));
    const receiver = sqsClient(await accessKey({ [`queues/${name}`]: ["receive"] }));
    await sender.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "x" }));
    expect(await failure(sender.send(new ReceiveMessageCommand({ QueueUrl: queueUrl })))).toMatchObject({ name: "AccessDenied", status: 403 });
    expect(await failure(sender.send(new ListQueuesCommand({})))).toMatchObject({ name: "AccessDenied", status: 403 });
    expect(await failure(sender.send(new CreateQueueCommand({ QueueName: name })))).toMatchObject({ name: "AccessDenied" });
    expect(await failure(receiver.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "x" })))).toMatchObject({ name: "AccessDenied" });
    expect((await receiver.send(new ReceiveMessageCommand({ QueueUrl: queueUrl }))).Messages).toHaveLength(1);
    // A key for one queue reaches no other.
    expect(await failure(sender.send(new SendMessageCommand({ QueueUrl: queueUrlOf(`${name}-other`), MessageBody: "x" })))).toMatchObject({ name: "AccessDenied" });
  });
});

describe("sqs errors - bad input", () => {
  it("sqs errors - an unknown action is InvalidAction and an unimplemented one UnsupportedOperation", async () => {
    const json = await jsonRequest("FlyToTheMoon", {});
    expect(json.status).toBe(400);
    expect(json.json.__type).toBe("com.amazonaws.sqs#InvalidAction");
    const query = await queryRequest({ Action: "FlyToTheMoon" });
    expect(query.status).toBe(400);
    expect(xmlText(query.text, "Code")).toBe("InvalidAction");
    expect((await jsonRequest("AddPermission", {})).json.__type).toBe("com.amazonaws.sqs#UnsupportedOperation");
  });

  it("sqs errors - malformed JSON and a non-object body are SerializationException", async () => {
    for (const body of ["{not json", "[1,2]", '"x"']) {
      const res = await jsonRequest("ListQueues", body);
      expect(res.status).toBe(400);
      expect(res.json.__type).toBe("com.amazonaws.sqs#SerializationException");
    }
  });

  it("sqs errors - a form body that is not form data (XML, invalid UTF-8) is answered in XML, never 5xx", async () => {
    const xml = await rawRequest({ headers: { "content-type": "text/xml" }, body: "<SendMessage><QueueUrl>x</QueueUrl></SendMessage>" });
    expect(xml.status).toBe(400);
    expect(xmlText(xml.text, "Code")).toBe("MissingAction");
    const bytes = await rawRequest({ headers: { "content-type": "application/x-www-form-urlencoded" }, body: Buffer.from([0x41, 0x3d, 0xff, 0xfe]) as unknown as string });
    expect(bytes.status).toBeLessThan(500);
    expect(xmlText(bytes.text, "Code")).toMatch(/MalformedQueryString|SignatureDoesNotMatch/);
  });

  it("sqs errors - batches over AWS's limits: too many, none, repeated or invalid ids, too long", async () => {
    const queueUrl = await createQueue(unique("sqse"));
    const entries = (n: number) => Array.from({ length: n }, (_, i) => ({ Id: `e${i}`, MessageBody: "x" }));
    expect(await failure(sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries(11) }))))
      .toMatchObject({ name: "TooManyEntriesInBatchRequest", status: 400, code: "AWS.SimpleQueueService.TooManyEntriesInBatchRequest" });
    expect(await failure(sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [] }))))
      .toMatchObject({ name: "EmptyBatchRequest", status: 400 });
    expect(await failure(sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [{ Id: "a", MessageBody: "1" }, { Id: "a", MessageBody: "2" }] }))))
      .toMatchObject({ name: "BatchEntryIdsNotDistinct", status: 400 });
    expect(await failure(sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [{ Id: "no spaces", MessageBody: "1" }] }))))
      .toMatchObject({ name: "InvalidBatchEntryId", status: 400 });
    const big = "x".repeat(200 * 1024);
    expect(await failure(sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: Array.from({ length: 6 }, (_, i) => ({ Id: `b${i}`, MessageBody: big })) }))))
      .toMatchObject({ name: "BatchRequestTooLong", status: 400 });
    // Nothing of the refused batches was written.
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl }))).Messages ?? []).toEqual([]);
  });

  it("sqs errors - message rules: size, characters, attributes, FIFO and standard parameters", async () => {
    const queueUrl = await createQueue(unique("sqse"));
    const fifoUrl = await createQueue(`${unique("sqse")}.fifo`, { FifoQueue: "true" });
    const send = (input: Omit<ConstructorParameters<typeof SendMessageCommand>[0], "QueueUrl">, url = queueUrl) =>
      failure(sqs.send(new SendMessageCommand({ QueueUrl: url, ...input } as ConstructorParameters<typeof SendMessageCommand>[0])));
    expect(await send({ MessageBody: "x".repeat(262_145) })).toMatchObject({ name: "InvalidParameterValue", status: 400 });
    expect(await send({ MessageBody: "bad \u0000 char" })).toMatchObject({ name: "InvalidMessageContents", status: 400 });
    expect(await send({ MessageBody: "x", DelaySeconds: 901 })).toMatchObject({ name: "InvalidParameterValue" });
    expect(await send({ MessageBody: "x", MessageAttributes: { "AWS.reserved": { DataType: "String", StringValue: "v" } } })).toMatchObject({ name: "InvalidParameterValue" });
    expect(await send({ MessageBody: "x", MessageAttributes: { a: { DataType: "Decimal", StringValue: "1" } } })).toMatchObject({ name: "InvalidParameterValue" });
    expect(await send({ MessageBody: "x", MessageAttributes: { a: { DataType: "Number", StringValue: "twelve" } } })).toMatchObject({ name: "InvalidParameterValue" });
    expect(await send({ MessageBody: "x", MessageDeduplicationId: "d" })).toMatchObject({ name: "InvalidParameterValue" });
    expect(await send({ MessageBody: "x", MessageDeduplicationId: "d" }, fifoUrl)).toMatchObject({ name: "MissingParameter" });
    expect(await send({ MessageBody: "x", MessageGroupId: "g" }, fifoUrl)).toMatchObject({ name: "InvalidParameterValue" });
    const receive = await failure(sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 11 })));
    expect(receive).toMatchObject({ name: "InvalidParameterValue", status: 400 });
  });

  it("sqs errors - a queue that does not exist is QueueDoesNotExist with its query error code", async () => {
    const res = await jsonRequest("SendMessage", { QueueUrl: queueUrlOf(unique("missing")), MessageBody: "x" });
    expect(res.status).toBe(400);
    expect(res.headers.get("x-amzn-query-error")).toBe("AWS.SimpleQueueService.NonExistentQueue;Sender");
    expect(res.json.__type).toBe("com.amazonaws.sqs#QueueDoesNotExist");
    expect(await failure(sqs.send(new SendMessageCommand({ QueueUrl: queueUrlOf(unique("missing")), MessageBody: "x" }))))
      .toMatchObject({ name: "QueueDoesNotExist", code: "AWS.SimpleQueueService.NonExistentQueue" });
  });

  it("sqs errors - odd inputs never answer 5xx", async () => {
    const queueUrl = await createQueue(unique("sqse"));
    const bodies: unknown[] = [
      { QueueUrl: 5 }, { QueueUrl: queueUrl, MessageBody: 7 }, { QueueUrl: queueUrl, MessageAttributes: "x", MessageBody: "y" },
      { QueueUrl: queueUrl, MessageAttributes: { a: null }, MessageBody: "y" }, { QueueUrl: queueUrl, Entries: "no" },
      { QueueUrl: queueUrl, Entries: [null] }, { QueueUrl: queueUrl, ReceiptHandle: {} }, { QueueUrl: "http://x/000000000000/%E0%A4%A" },
      { QueueUrl: queueUrl, Attributes: { RedrivePolicy: "{" } }, { QueueUrl: queueUrl, Tags: [1] }, { QueueName: "a".repeat(90) },
    ];
    for (const action of ["SendMessage", "SendMessageBatch", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility", "SetQueueAttributes", "TagQueue", "CreateQueue", "GetQueueUrl"]) {
      for (const body of bodies) {
        const res = await jsonRequest(action, body);
        expect(res.status, `${action} ${JSON.stringify(body)}: ${res.text}`).toBeLessThan(500);
        expect(res.status, `${action} ${JSON.stringify(body)}: ${res.text}`).toBeGreaterThanOrEqual(400);
        expect(res.json.__type).toMatch(/^com\.amazonaws\.sqs#/);
      }
    }
  });
});

describe("sqs errors - query protocol", () => {
  it("sqs errors - a signed form POST speaks the query protocol with XML answers and AWS's digests", async () => {
    const name = unique("sqsq");
    const created = await queryRequest({ Action: "CreateQueue", QueueName: name, "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "20", "Tag.1.Key": "team", "Tag.1.Value": "x" });
    expect(created.status).toBe(200);
    expect(created.headers.get("content-type")).toMatch(/xml/);
    const queueUrl = xmlText(created.text, "QueueUrl")!;
    expect(queueUrl).toBe(queueUrlOf(name));
    const sent = await queryRequest({
      Action: "SendMessage", QueueUrl: queueUrl, MessageBody: "from an old SDK & <xml>",
      "MessageAttribute.1.Name": "color", "MessageAttribute.1.Value.DataType": "String", "MessageAttribute.1.Value.StringValue": "blue",
      "MessageAttribute.2.Name": "bits", "MessageAttribute.2.Value.DataType": "Binary", "MessageAttribute.2.Value.BinaryValue": Buffer.from([7, 8]).toString("base64"),
    });
    expect(sent.status).toBe(200);
    const attributes = { color: { DataType: "String", StringValue: "blue" }, bits: { DataType: "Binary", BinaryValue: new Uint8Array([7, 8]) } };
    expect(xmlText(sent.text, "MD5OfMessageBody")).toBe(md5("from an old SDK & <xml>"));
    expect(xmlText(sent.text, "MD5OfMessageAttributes")).toBe(md5OfAttributes(attributes));
    // Posted to the queue URL itself, with no QueueUrl parameter, as older SDKs do.
    const got = await queryRequest({ Action: "ReceiveMessage", "AttributeName.1": "All", "MessageAttributeName.1": "All" }, { path: new URL(queueUrl).pathname });
    expect(got.status).toBe(200);
    expect(xmlText(got.text, "Body")).toBe("from an old SDK & <xml>");
    expect(xmlText(got.text, "MD5OfMessageAttributes")).toBe(md5OfAttributes(attributes));
    expect(xmlTexts(got.text, "Name")).toEqual(expect.arrayContaining(["ApproximateReceiveCount", "SentTimestamp", "color", "bits"]));
    const attrs = await queryRequest({ Action: "GetQueueAttributes", QueueUrl: queueUrl, "AttributeName.1": "VisibilityTimeout" });
    expect(xmlText(attrs.text, "Name")).toBe("VisibilityTimeout");
    expect(xmlText(attrs.text, "Value")).toBe("20");
    const tags = await queryRequest({ Action: "ListQueueTags", QueueUrl: queueUrl });
    expect(xmlText(tags.text, "Key")).toBe("team");
    const handle = xmlText(got.text, "ReceiptHandle")!;
    const deleted = await queryRequest({ Action: "DeleteMessageBatch", QueueUrl: queueUrl, "DeleteMessageBatchRequestEntry.1.Id": "a", "DeleteMessageBatchRequestEntry.1.ReceiptHandle": handle });
    expect(deleted.text).toContain("<DeleteMessageBatchResultEntry><Id>a</Id></DeleteMessageBatchResultEntry>");
  });

  it("sqs errors - query errors are an XML ErrorResponse with AWS's code and status", async () => {
    const res = await queryRequest({ Action: "SendMessage", QueueUrl: queueUrlOf(unique("missing")), MessageBody: "x" });
    expect(res.status).toBe(400);
    expect(res.text).toContain("<ErrorResponse");
    expect(xmlText(res.text, "Type")).toBe("Sender");
    expect(xmlText(res.text, "Code")).toBe("AWS.SimpleQueueService.NonExistentQueue");
    expect(res.headers.get("x-amzn-query-error")).toBe("AWS.SimpleQueueService.NonExistentQueue;Sender");
    const unsigned = await queryRequest({ Action: "ListQueues" }, { creds: null });
    expect(unsigned.status).toBe(403);
    expect(xmlText(unsigned.text, "Code")).toBe("MissingAuthenticationToken");
  });

  it("sqs errors - a presigned GET is verified from its query string; an expired one is refused", async () => {
    const name = unique("sqsp");
    await createQueue(name);
    const ok = await rawRequest({ method: "GET", query: { Action: "GetQueueUrl", QueueName: name, Version: "2012-11-05" }, presign: true });
    expect(ok.status).toBe(200);
    expect(xmlText(ok.text, "QueueUrl")).toBe(queueUrlOf(name));
    const old = await rawRequest({ method: "GET", query: { Action: "ListQueues" }, presign: true, date: new Date(Date.now() - 10 * 60_000) });
    expect(old.status).toBe(400);
    expect(xmlText(old.text, "Code")).toBe("RequestExpired");
    const tampered = await rawRequest({ method: "GET", query: { Action: "ListQueues" }, presign: true, creds: { accessKeyId: "admin", secretAccessKey: "nope" } as Creds });
    expect(tampered.status).toBe(403);
    expect(xmlText(tampered.text, "Code")).toBe("SignatureDoesNotMatch");
  });
});
