/**
 * SQS ReceiveMessage, DeleteMessage(Batch) and ChangeMessageVisibility(Batch), translated
 * onto the queue objects' `receive`, `ack`, `nack` and `extend` (the one queue engine `/v1`
 * uses too); sends are in send-actions.ts. `Body` is a string body, and a `/v1` body that
 * is not a string reads as its JSON text; headers read back as message attributes with the
 * types kept beside them; `ReceiptHandle` is the Spool receipt; `ChangeMessageVisibility` 0
 * gives the message back at once (`nack`), any other value sets the lease (`extend`).
 */
import { queueStub } from "../../durable-objects/env";
import { isReceiptShaped } from "../../durable-objects/queue/leases";
import type { AckResult, ExtendResult, NackResult, ReceivedMessage } from "../../protocol/queues";
import type { Result } from "../../protocol/errors";
import { now } from "../../durable-objects/shared/clock";
import { allow, batchEntries, failure, int, list, queueOf, requiredStr, type BatchFailure, type SqsContext } from "./context";
import { SqsError, missingParameter, sqsErrorOf } from "./errors";
import { fromHeaders, md5Hex, md5OfAttributes, selectAttributes, toBase64 } from "./message-attributes";
import { queueProfile, type SqsAction } from "./queue-actions";
import type { SqsInput } from "./protocol";
import { sendMessage, sendMessageBatch } from "./send-actions";

/** The receipt handle of a message delivered by an at-most-once queue: already deleted. */
const DELIVERED_HANDLE = /^delivered\.\d{1,15}$/;

/** System attributes ReceiveMessage can return, from a delivered message. */
function systemAttributes(m: ReceivedMessage, fifo: boolean, at: number): Record<string, string> {
  const out: Record<string, string> = {
    ApproximateReceiveCount: String(m.attempts),
    SentTimestamp: String(m.sentAt),
    ApproximateFirstReceiveTimestamp: String(m.firstReceivedAt ?? at),
  };
  if (m.group !== undefined) out.MessageGroupId = m.group;
  if (fifo) {
    out.MessageDeduplicationId = m.id;
    out.SequenceNumber = String(m.seq);
  }
  return out;
}

async function receiveMessage(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  const name = queueOf(ctx, input);
  allow(ctx, "receive", name);
  const max = int(input, "MaxNumberOfMessages", 1, 10) ?? 1;
  const visibilityTimeout = int(input, "VisibilityTimeout", 0, 43_200);
  const wait = int(input, "WaitTimeSeconds", 0, 20);
  const systemNames = [...list(input, "AttributeNames"), ...list(input, "MessageSystemAttributeNames")];
  const attributeNames = list(input, "MessageAttributeNames");
  const profile = await queueProfile(ctx, name);
  const r = (await queueStub(ctx.env, name).receive({ max, wait: wait ?? profile.receiveWaitSeconds, visibilityTimeout, detail: true })) as Result<{ messages: ReceivedMessage[] }>;
  if (!r.ok) throw sqsErrorOf(r.error);
  const at = now();
  const everySystem = systemNames.includes("All");
  const messages = r.value.messages.map((m) => {
    const body = typeof m.body === "string" ? m.body : JSON.stringify(m.body);
    const out: SqsInput = { MessageId: m.id, ReceiptHandle: m.receipt ?? `delivered.${m.seq}`, MD5OfBody: md5Hex(body), Body: body };
    const system = systemAttributes(m, profile.fifo, at);
    const chosen = everySystem ? system : Object.fromEntries(systemNames.filter((n) => system[n] !== undefined).map((n) => [n, system[n]!]));
    if (Object.keys(chosen).length > 0) out.Attributes = chosen;
    const attributes = selectAttributes(fromHeaders(m.headers, m.attributeTypes), attributeNames);
    const md5 = md5OfAttributes(attributes);
    if (md5) {
      out.MD5OfMessageAttributes = md5;
      out.MessageAttributes = Object.fromEntries(Object.entries(attributes).map(([k, a]) => [k, a.BinaryValue
        ? { BinaryValue: toBase64(a.BinaryValue), DataType: a.DataType }
        : { StringValue: a.StringValue, DataType: a.DataType }]));
    }
    return out;
  });
  return messages.length > 0 ? { Messages: messages } : {};
}

/** Acks receipt handles; returns those that failed (handles of at-most-once deliveries are gone already). */
async function deleteHandles(ctx: SqsContext, name: string, handles: string[]): Promise<Set<string>> {
  const live = handles.filter((h) => !DELIVERED_HANDLE.test(h));
  if (live.length === 0) return new Set();
  const r = (await queueStub(ctx.env, name).ack(live)) as Result<AckResult>;
  if (!r.ok) throw sqsErrorOf(r.error);
  return new Set(r.value.failed.map((f) => f.receipt));
}

const receiptInvalid = (handle: string): SqsError =>
  new SqsError("ReceiptHandleIsInvalid", isReceiptShaped(handle)
    ? `The receipt handle "${handle}" is no longer valid: the message was deleted, or its visibility timeout ended.`
    : `The input receipt handle "${handle.slice(0, 100)}" is not a valid receipt handle.`);

async function deleteMessage(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  const name = queueOf(ctx, input);
  allow(ctx, "receive", name);
  const handle = requiredStr(input, "ReceiptHandle");
  if ((await deleteHandles(ctx, name, [handle])).has(handle)) throw receiptInvalid(handle);
  return {};
}

async function deleteMessageBatch(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  const name = queueOf(ctx, input);
  allow(ctx, "receive", name);
  const entries = batchEntries(input, "DeleteMessageBatch");
  const failed: BatchFailure[] = [];
  const valid = entries.filter((e) => {
    if (typeof e.ReceiptHandle === "string" && e.ReceiptHandle !== "") return true;
    failed.push(failure(e.Id, missingParameter("ReceiptHandle")));
    return false;
  });
  const bad = await deleteHandles(ctx, name, valid.map((e) => e.ReceiptHandle as string));
  const successful: SqsInput[] = [];
  for (const e of valid) {
    const handle = e.ReceiptHandle as string;
    if (bad.has(handle)) failed.push(failure(e.Id, receiptInvalid(handle)));
    else successful.push({ Id: e.Id });
  }
  return { Successful: successful, Failed: failed };
}

/** Sets the visibility of each handle (0: visible at once); returns the handles that failed. */
async function changeVisibility(ctx: SqsContext, name: string, items: Array<{ handle: string; seconds: number }>): Promise<Set<string>> {
  const bySeconds = new Map<number, string[]>();
  for (const { handle, seconds } of items) bySeconds.set(seconds, [...(bySeconds.get(seconds) ?? []), handle]);
  const failed = new Set<string>();
  const stub = queueStub(ctx.env, name);
  for (const [seconds, handles] of bySeconds) {
    const r = (seconds === 0 ? await stub.nack(handles, 0) : await stub.extend(handles, seconds)) as Result<NackResult | ExtendResult>;
    if (!r.ok) throw sqsErrorOf(r.error);
    for (const f of r.value.failed) failed.add(f.receipt);
  }
  return failed;
}

const notInFlight = (handle: string): SqsError => isReceiptShaped(handle)
  ? new SqsError("MessageNotInflight", "Message does not exist or is not available for visibility timeout change.")
  : new SqsError("ReceiptHandleIsInvalid", `The input receipt handle "${handle.slice(0, 100)}" is not a valid receipt handle.`);

function visibilityOf(input: SqsInput): number {
  const seconds = int(input, "VisibilityTimeout", 0, 43_200);
  if (seconds === undefined) throw missingParameter("VisibilityTimeout");
  return seconds;
}

async function changeMessageVisibility(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  const name = queueOf(ctx, input);
  allow(ctx, "receive", name);
  const handle = requiredStr(input, "ReceiptHandle");
  const seconds = visibilityOf(input);
  if ((await changeVisibility(ctx, name, [{ handle, seconds }])).has(handle)) throw notInFlight(handle);
  return {};
}

async function changeMessageVisibilityBatch(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  const name = queueOf(ctx, input);
  allow(ctx, "receive", name);
  const entries = batchEntries(input, "ChangeMessageVisibilityBatch");
  const failed: BatchFailure[] = [];
  const items: Array<{ id: string; handle: string; seconds: number }> = [];
  for (const e of entries) {
    try {
      items.push({ id: e.Id, handle: requiredStr(e, "ReceiptHandle"), seconds: visibilityOf(e) });
    } catch (err) {
      failed.push(failure(e.Id, sqsErrorOf(err)));
    }
  }
  const bad = await changeVisibility(ctx, name, items);
  const successful: SqsInput[] = [];
  for (const item of items) {
    if (bad.has(item.handle)) failed.push(failure(item.id, notInFlight(item.handle)));
    else successful.push({ Id: item.id });
  }
  return { Successful: successful, Failed: failed };
}

export const MESSAGE_ACTIONS: Record<string, SqsAction> = {
  SendMessage: sendMessage,
  SendMessageBatch: sendMessageBatch,
  ReceiveMessage: receiveMessage,
  DeleteMessage: deleteMessage,
  DeleteMessageBatch: deleteMessageBatch,
  ChangeMessageVisibility: changeMessageVisibility,
  ChangeMessageVisibilityBatch: changeMessageVisibilityBatch,
};
