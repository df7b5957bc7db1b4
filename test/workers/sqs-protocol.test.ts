// The SQS translation's pure parts, inside workerd: AWS's MD5 of message attributes (its
// published examples), the query protocol's flattened lists and maps, XML rendering, the
// SigV4 canonical forms and time window, and message attribute validation.
import { describe, expect, it } from "vitest";
import { SqsError } from "../../worker/sqs/errors";
import { checkAttributes, fromHeaders, md5Hex, md5OfAttributes, selectAttributes, toHeaders } from "../../worker/sqs/message-attributes";
import { md5 } from "../../worker/sqs/md5";
import { fromQuery, parseRequest, render, renderError } from "../../worker/sqs/protocol";
import { canonicalPath, canonicalQuery, checkTime, escapeUri, parseAmzDate, type SigV4Claim } from "../../worker/sqs/sigv4";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("sqs - digests", () => {
  it("sqs - MD5 matches RFC 1321's test suite and Web Crypto at every padding length", async () => {
    expect(md5(utf8(""))).toBe("d41d8cd98f00b204e9800998ecf8427e");
    expect(md5(utf8("abc"))).toBe("900150983cd24fb0d6963f7d28e17f72");
    expect(md5(utf8("message digest"))).toBe("f96b697d7cb7938d525a2f31aaf161d0");
    expect(md5(utf8("1234567890".repeat(8)))).toBe("57edf4a22be3c955ac49da2e2107b67a");
    for (let n = 0; n < 200; n++) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff);
      const expected = Array.from(new Uint8Array(await crypto.subtle.digest("MD5", data)), (b) => b.toString(16).padStart(2, "0")).join("");
      expect(md5(data), `length ${n}`).toBe(expected);
    }
  });

  it("sqs - MD5OfMessageAttributes matches the published examples", async () => {
    const str = { attribName1: { DataType: "String", StringValue: "attribValue 1" } };
    const num = { customNumberTypeAttrib: { DataType: "Number.float", StringValue: "4563442423554324324264524243.32543234" } };
    const bin = { binaryAttribute: { DataType: "Binary", BinaryValue: utf8("Hello binary world!") } };
    expect(await md5OfAttributes(str)).toBe("19e27d4e946b072f3f58da80d94fd778");
    expect(await md5OfAttributes(num)).toBe("9fe1b90bbd9965bdf77bac517c7d2495");
    expect(await md5OfAttributes(bin)).toBe("31a92b15d92f8db860eda32aceb656c3");
    expect(await md5OfAttributes({ ...str, ...num, ...bin })).toBe("c932db14a896c663f83c260297d594ff");
    expect(await md5OfAttributes({})).toBeUndefined();
    expect(await md5Hex("")).toBe("d41d8cd98f00b204e9800998ecf8427e");
  });

  it("sqs - attributes become headers and types, and come back exactly", () => {
    const attrs = { s: { DataType: "String", StringValue: "x" }, b: { DataType: "Binary.img", BinaryValue: Uint8Array.of(0, 255) }, n: { DataType: "Number", StringValue: "3" } };
    const { headers, attributeTypes } = toHeaders(attrs);
    expect(headers).toEqual({ s: "x", b: "AP8=", n: "3" });
    expect(attributeTypes).toEqual({ b: "Binary.img", n: "Number" });
    expect(fromHeaders(headers, attributeTypes)).toEqual(attrs);
    expect(selectAttributes(fromHeaders(headers, attributeTypes), ["s", "nothing"])).toEqual({ s: attrs.s });
  });

  it("sqs - attribute validation follows AWS's rules", () => {
    const bad = (a: Record<string, { DataType: string; StringValue?: string; BinaryValue?: Uint8Array }>) => {
      try {
        checkAttributes(a);
        return null;
      } catch (e) {
        return (e as SqsError).type;
      }
    };
    expect(bad({ ok: { DataType: "Number.x", StringValue: "1e5" } })).toBeNull();
    expect(bad({ ".dot": { DataType: "String", StringValue: "v" } })).toBe("InvalidParameterValue");
    expect(bad({ "a..b": { DataType: "String", StringValue: "v" } })).toBe("InvalidParameterValue");
    expect(bad({ "amazon.x": { DataType: "String", StringValue: "v" } })).toBe("InvalidParameterValue");
    expect(bad({ a: { DataType: "String", StringValue: "" } })).toBe("InvalidParameterValue");
    expect(bad({ a: { DataType: "Binary" } })).toBe("InvalidParameterValue");
    expect(bad({ a: { DataType: "Number", StringValue: "1".repeat(39) } })).toBe("InvalidParameterValue");
    expect(bad(Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`a${i}`, { DataType: "String", StringValue: "v" }])))).toBe("InvalidParameterValue");
  });
});

describe("sqs - protocols", () => {
  it("sqs - query parameters flatten into the JSON protocol's shape", () => {
    const input = fromQuery(new URLSearchParams({
      Action: "SendMessageBatch", Version: "2012-11-05", QueueUrl: "u",
      "SendMessageBatchRequestEntry.2.Id": "b", "SendMessageBatchRequestEntry.2.MessageBody": "two",
      "SendMessageBatchRequestEntry.1.Id": "a", "SendMessageBatchRequestEntry.1.MessageBody": "one",
      "SendMessageBatchRequestEntry.1.MessageAttribute.1.Name": "k",
      "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType": "String",
      "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue": "v",
      "AttributeName.2": "B", "AttributeName.1": "A", "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "5",
      "Tag.1.Key": "t", "Tag.1.Value": "x", "TagKey.1": "old",
    }));
    expect(input).toEqual({
      QueueUrl: "u",
      Entries: [
        { Id: "a", MessageBody: "one", MessageAttributes: { k: { DataType: "String", StringValue: "v" } } },
        { Id: "b", MessageBody: "two" },
      ],
      AttributeNames: ["A", "B"], Attributes: { VisibilityTimeout: "5" }, Tags: { t: "x" }, TagKeys: ["old"],
    });
  });

  it("sqs - requests name their action by target header or Action parameter", () => {
    const json = parseRequest("json", new Headers({ "x-amz-target": "AmazonSQS.ListQueues" }), new URL("http://h/"), utf8('{"MaxResults":5}'));
    expect(json).toEqual({ action: "ListQueues", input: { MaxResults: 5 } });
    const query = parseRequest("query", new Headers({ "content-type": "application/x-www-form-urlencoded" }), new URL("http://h/?Action=ListQueues"), utf8("QueueNamePrefix=a%20b"));
    expect(query).toEqual({ action: "ListQueues", input: { QueueNamePrefix: "a b" } });
    expect(() => parseRequest("json", new Headers({ "x-amz-target": "AmazonSQS.X" }), new URL("http://h/"), Uint8Array.of(0xff))).toThrow(SqsError);
  });

  it("sqs - XML answers name list members and escape text", async () => {
    const res = render("query", "ReceiveMessage", {
      Messages: [{ MessageId: "1", Body: "a<b>&\r", Attributes: { SentTimestamp: "5" }, MessageAttributes: { k: { StringValue: "v", DataType: "String" } } }],
    }, "rid");
    const xml = await res.text();
    expect(xml).toContain("<ReceiveMessageResult><Message><MessageId>1</MessageId><Body>a&#60;b&#62;&#38;&#13;</Body>");
    expect(xml).toContain("<Attribute><Name>SentTimestamp</Name><Value>5</Value></Attribute>");
    expect(xml).toContain("<MessageAttribute><Name>k</Name><Value><StringValue>v</StringValue><DataType>String</DataType></Value></MessageAttribute>");
    const batch = await render("query", "SendMessageBatch", { Successful: [{ Id: "a" }], Failed: [{ Id: "b", Code: "X" }] }, "r").text();
    expect(batch).toContain("<SendMessageBatchResultEntry><Id>a</Id></SendMessageBatchResultEntry><BatchResultErrorEntry><Id>b</Id><Code>X</Code></BatchResultErrorEntry>");
    const err = renderError("json", new SqsError("QueueDoesNotExist", "gone"), "r");
    expect(err.status).toBe(400);
    expect(err.headers.get("x-amzn-query-error")).toBe("AWS.SimpleQueueService.NonExistentQueue;Sender");
    expect(await err.json()).toEqual({ __type: "com.amazonaws.sqs#QueueDoesNotExist", message: "gone" });
  });
});

describe("sqs - sigv4", () => {
  it("sqs - canonical path, query and encoding follow AWS's rules", () => {
    expect(canonicalPath("/")).toBe("/");
    expect(canonicalPath("/000000000000/q")).toBe("/000000000000/q");
    expect(canonicalPath("/a/./b/../c//d")).toBe("/a/c/d");
    expect(canonicalPath("/a%20b")).toBe("/a%2520b");
    expect(escapeUri("a b*~")).toBe("a%20b%2A~");
    expect(canonicalQuery(new URLSearchParams("b=2&a=2&a=1&X-Amz-Signature=s&c"))).toBe("a=1&a=2&b=2&c=");
  });

  it("sqs - the request time may be 15 minutes off at most; a presigned URL until it expires", () => {
    const at = parseAmzDate("20250102T030405Z");
    expect(at).toBe(Date.UTC(2025, 0, 2, 3, 4, 5));
    const claim: SigV4Claim = { accessKeyId: "a", scopeDate: "20250102", region: "r", amzDate: "20250102T030405Z", signedHeaders: ["host"], signature: "s", expires: null };
    expect(() => checkTime(claim, at + 14 * 60_000)).not.toThrow();
    expect(() => checkTime(claim, at + 16 * 60_000)).toThrow(/expired/);
    expect(() => checkTime(claim, at - 16 * 60_000)).toThrow(/not yet current/);
    expect(() => checkTime({ ...claim, scopeDate: "20250101" }, at)).toThrow(/scope/);
    expect(() => checkTime({ ...claim, expires: 3600 }, at + 59 * 60_000)).not.toThrow();
    expect(() => checkTime({ ...claim, expires: 60 }, at + 2 * 60_000)).toThrow(/expired/);
  });
});
