/**
 * SQS SendMessage and SendMessageBatch, translated onto the queue objects' `send` (the one
 * queue engine `/v1` uses too). The mapping (API.md, SQS → Mapping, Messages): the body is a
 * string body; `MessageGroupId` is `group`; on FIFO queues `MessageDeduplicationId` (or the
 * body's SHA-256 with ContentBasedDeduplication) is the message `id`, so the queue's dedup
 * window is SQS's deduplication interval; message attributes are headers with their types
 * kept (message-attributes.ts). AWS's validation applies before anything is sent.
 */
import { queueStub } from "../../durable-objects/env";
import type { QueueSendInput, QueueSendResult } from "../../protocol/queues";
import type { Result } from "../../protocol/errors";
import { allow, batchEntries, failure, int, queueOf, record, str, type BatchFailure, type SqsContext } from "./context";
import { SqsError, invalidParameter, missingParameter, sqsErrorOf } from "./errors";
import {
  checkAttributes, checkBody, fromBase64, md5Hex, md5OfAttributes, messageSize, toHeaders, type SqsAttributes,
} from "./message-attributes";
import { queueProfile } from "./queue-actions";
import type { QueueProfile } from "./queue-attributes";
import type { SqsInput } from "./protocol";

/** Largest SendMessageBatch payload, all bodies and attributes together (AWS: 1 MiB). */
export const MAX_BATCH_PAYLOAD_BYTES = 1_048_576;
/** Group and deduplication ids: 1–128 of alphanumerics and punctuation (AWS). */
const FIFO_ID = /^[\x21-\x7e]{1,128}$/;

interface PreparedSend {
  message: QueueSendInput;
  body: string;
  attributes: SqsAttributes;
  systemAttributes: SqsAttributes;
}

/** Reads and validates one message of SendMessage or a SendMessageBatch entry. */
async function prepareSend(entry: SqsInput, profile: QueueProfile): Promise<PreparedSend> {
  const body = str(entry, "MessageBody");
  if (body === undefined || body === "") throw missingParameter("MessageBody");
  checkBody(body);
  const attributes = readAttributes(entry, "MessageAttributes");
  checkAttributes(attributes);
  const systemAttributes = readAttributes(entry, "MessageSystemAttributes");
  for (const [name, a] of Object.entries(systemAttributes)) {
    if (name !== "AWSTraceHeader" || a.DataType !== "String" || !a.StringValue) {
      throw new SqsError("InvalidParameterValue", `Message system attribute name '${name}' is invalid. Only AWSTraceHeader, of type String, can be sent.`);
    }
  }
  const size = messageSize(body, attributes);
  if (size > profile.maxMessageBytes) {
    throw new SqsError("InvalidParameterValue", `One or more parameters are invalid. Reason: Message must be shorter than ${profile.maxMessageBytes} bytes.`);
  }
  const delay = int(entry, "DelaySeconds", 0, 900);
  const group = str(entry, "MessageGroupId");
  const dedupId = str(entry, "MessageDeduplicationId");
  for (const [name, v] of [["MessageGroupId", group], ["MessageDeduplicationId", dedupId]] as const) {
    if (v !== undefined && !FIFO_ID.test(v)) throw invalidParameter(name, v, `${name} can only include alphanumeric and punctuation characters. 1 to 128 in length.`);
  }
  const notForThisQueue = (name: string, v: unknown): SqsError =>
    invalidParameter(name, v, "The request include parameter that is not valid for this queue type.");
  const message: QueueSendInput = { body };
  if (profile.fifo) {
    if (group === undefined) throw missingParameter("MessageGroupId");
    if (delay !== undefined) throw notForThisQueue("DelaySeconds", delay);
    if (dedupId !== undefined) message.id = dedupId;
    else if (profile.contentBasedDeduplication) message.id = await sha256Hex(body);
    else throw new SqsError("InvalidParameterValue", "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly");
  } else {
    if (dedupId !== undefined) throw notForThisQueue("MessageDeduplicationId", dedupId);
    if (delay !== undefined) message.delay = delay;
  }
  if (group !== undefined) message.group = group;
  if (Object.keys(attributes).length > 0) {
    const { headers, attributeTypes } = toHeaders(attributes);
    message.headers = headers;
    if (Object.keys(attributeTypes).length > 0) message.attributeTypes = attributeTypes;
  }
  return { message, body, attributes, systemAttributes };
}

/** `MessageAttributes` / `MessageSystemAttributes` of a request, binary values as bytes. */
function readAttributes(entry: SqsInput, member: string): SqsAttributes {
  const raw = entry[member];
  if (raw === undefined || raw === null) return {};
  const out: SqsAttributes = {};
  for (const [name, v] of Object.entries(record(raw, member))) {
    const value = record(v, `${member}.${name}`);
    if (value.StringListValues !== undefined || value.BinaryListValues !== undefined) {
      throw new SqsError("InvalidParameterValue", `Message attribute '${name}': list values are not supported.`);
    }
    const DataType = str(value, "DataType") ?? "";
    const StringValue = str(value, "StringValue");
    const binaryText = str(value, "BinaryValue");
    const BinaryValue = binaryText === undefined ? undefined : fromBase64(binaryText);
    if (BinaryValue === null) throw invalidParameter(`${member}.${name}.BinaryValue`, binaryText, "must be base64");
    Object.defineProperty(out, name, {
      value: BinaryValue !== undefined ? { DataType, BinaryValue } : StringValue !== undefined ? { DataType, StringValue } : { DataType },
      enumerable: true, writable: true, configurable: true,
    });
  }
  return out;
}

async function sha256Hex(s: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What SendMessage answers for one message. */
function sentResult(p: PreparedSend, id: string, seq: number, fifo: boolean): SqsInput {
  const out: SqsInput = { MessageId: id, MD5OfMessageBody: md5Hex(p.body) };
  const attributesMd5 = md5OfAttributes(p.attributes);
  if (attributesMd5) out.MD5OfMessageAttributes = attributesMd5;
  const systemMd5 = md5OfAttributes(p.systemAttributes);
  if (systemMd5) out.MD5OfMessageSystemAttributes = systemMd5;
  if (fifo) out.SequenceNumber = String(seq);
  return out;
}

async function sendMessage(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  const name = queueOf(ctx, input);
  allow(ctx, "send", name);
  const profile = await queueProfile(ctx, name);
  const prepared = await prepareSend(input, profile);
  const r = (await queueStub(ctx.env, name).send([prepared.message], { create: false })) as Result<QueueSendResult>;
  if (!r.ok) throw sqsErrorOf(r.error.code === "PAYLOAD_TOO_LARGE" ? tooLarge(profile) : r.error);
  const sent = r.value.messages[0]!;
  return sentResult(prepared, sent.id, sent.seq, profile.fifo);
}

const tooLarge = (profile: QueueProfile): SqsError =>
  new SqsError("InvalidParameterValue", `One or more parameters are invalid. Reason: Message must be shorter than ${profile.maxMessageBytes} bytes.`);

/**
 * Entries that fail validation are reported in `Failed`; the others go to the queue in one
 * `send` (one transaction). An entry the queue refuses for its stored size is reported too,
 * and the rest are sent again without it.
 */
async function sendMessageBatch(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  const name = queueOf(ctx, input);
  allow(ctx, "send", name);
  const entries = batchEntries(input, "SendMessageBatch");
  const total = entries.reduce((n, e) => n + (typeof e.MessageBody === "string" ? messageSize(e.MessageBody, {}) : 0) + attributeBytes(e), 0);
  if (total > MAX_BATCH_PAYLOAD_BYTES) {
    throw new SqsError("BatchRequestTooLong", `Batch requests cannot be longer than ${MAX_BATCH_PAYLOAD_BYTES} bytes. You have sent ${total} bytes.`);
  }
  const profile = await queueProfile(ctx, name);
  const failed: BatchFailure[] = [];
  let ready: Array<{ id: string; p: PreparedSend }> = [];
  for (const e of entries) {
    try {
      ready.push({ id: e.Id, p: await prepareSend(e, profile) });
    } catch (err) {
      failed.push(failure(e.Id, sqsErrorOf(err)));
    }
  }
  const successful: SqsInput[] = [];
  while (ready.length > 0) {
    const r = (await queueStub(ctx.env, name).send(ready.map((x) => x.p.message), { create: false })) as Result<QueueSendResult>;
    if (r.ok) {
      const sent = r.value.messages;
      successful.push(...sent.map((m, i) => ({ Id: ready[i]!.id, ...sentResult(ready[i]!.p, m.id, m.seq, profile.fifo) })));
      break;
    }
    const index = r.error.details?.index;
    if (r.error.code !== "PAYLOAD_TOO_LARGE" || typeof index !== "number" || !ready[index]) throw sqsErrorOf(r.error);
    failed.push(failure(ready[index].id, tooLarge(profile)));
    ready = ready.filter((_, i) => i !== index);
  }
  return { Successful: successful, Failed: failed };
}

/** Bytes of an entry's attributes as sent (names, types, values), for the batch total. */
function attributeBytes(entry: SqsInput): number {
  const raw = entry.MessageAttributes;
  if (typeof raw !== "object" || raw === null) return 0;
  let n = 0;
  for (const [name, v] of Object.entries(raw as Record<string, SqsInput>)) {
    n += name.length + String(v?.DataType ?? "").length;
    n += typeof v?.StringValue === "string" ? new TextEncoder().encode(v.StringValue).byteLength : 0;
    n += typeof v?.BinaryValue === "string" ? Math.floor((v.BinaryValue.length * 3) / 4) : 0;
  }
  return n;
}

export { sendMessage, sendMessageBatch };
