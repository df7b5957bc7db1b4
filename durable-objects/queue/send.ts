/**
 * Sending: size limits, dedup by id (the window itself: dedup.ts), backpressure and the
 * insert of a whole batch. Runs inside the caller's transaction; any error is returned
 * before the first write, so a rejected batch writes nothing.
 */
import { monotonicFactory } from "ulidx";
import type { Result } from "../../protocol/errors";
import { utf8Length } from "../../protocol/key-hash";
import type { QueueContext } from "./context";
import { acceptedWithinWindowMany, dedupRecordsFull, rememberAcceptedMany } from "./dedup";
import type { QueueSendInput, QueueSendResult, QueueSentMessage } from "../../protocol/queues";

/** Sortable, unique ids for messages sent without one (monotonic within this isolate). */
export const newMessageId = monotonicFactory();

/** Seconds a full queue suggests waiting before a retry. */
export const QUEUE_FULL_RETRY_AFTER = 1;

interface Prepared {
  id: string;
  body: string;
  headers: string | null;
  /** JSON of the SQS attribute types, or null (not counted in `bytes`: at most 10 short names). */
  attrTypes: string | null;
  grp: string;
  bytes: number;
  delay: number;
  /** Index of an earlier message of this batch with the same id, or the seq of an accepted one. */
  duplicateOf?: { index: number } | { seq: number };
}

/** Stored size of a message: its body and headers as JSON, in UTF-8 bytes. */
export function messageBytes(body: string, headers: string | null): number {
  // Counted, not encoded: a batch of 1,000 would otherwise allocate 1,000 buffers to measure.
  return utf8Length(body) + (headers ? utf8Length(headers) : 0);
}

export function sendMessages(q: QueueContext, messages: readonly QueueSendInput[]): Result<QueueSendResult> {
  const { config, store, now } = q;
  const prepared: Prepared[] = [];
  const firstIndex = new Map<string, number>();
  let newCount = 0;
  let newBytes = 0;
  for (const [index, m] of messages.entries()) {
    const body = m.body === undefined ? "null" : JSON.stringify(m.body);
    const headers = m.headers && Object.keys(m.headers).length > 0 ? JSON.stringify(m.headers) : null;
    const bytes = messageBytes(body, headers);
    if (bytes > config.maxMessageBytes) {
      return {
        ok: false,
        error: {
          code: "PAYLOAD_TOO_LARGE",
          message: `message ${index} is ${bytes} bytes; this queue's maxMessageBytes is ${config.maxMessageBytes}`,
          details: { index, bytes, limit: config.maxMessageBytes },
        },
      };
    }
    const attrTypes = m.attributeTypes && Object.keys(m.attributeTypes).length > 0 ? JSON.stringify(m.attributeTypes) : null;
    prepared.push({ id: m.id ?? newMessageId(now), body, headers, attrTypes, grp: m.group ?? "", bytes, delay: m.delay ?? config.delay });
  }
  // One dedup lookup for the whole batch (empty when the window is 0).
  const accepted = acceptedWithinWindowMany(q, prepared.map((p) => p.id));
  for (const [index, p] of prepared.entries()) {
    if (config.deduplicationWindow > 0) {
      const earlier = firstIndex.get(p.id);
      const seq = earlier === undefined ? (accepted.get(p.id) ?? null) : null;
      if (earlier !== undefined) p.duplicateOf = { index: earlier };
      else if (seq !== null) p.duplicateOf = { seq };
      else firstIndex.set(p.id, index);
    }
    if (!p.duplicateOf) {
      newCount++;
      newBytes += p.bytes;
    }
  }

  const { messages: count, bytes: size } = store.depth();
  if (newCount > 0 && (count + newCount > config.maxMessages || size + newBytes > config.maxBytes)) {
    return {
      ok: false,
      error: {
        code: "QUEUE_FULL",
        message: `queue is full (${count}/${config.maxMessages} messages, ${size}/${config.maxBytes} bytes); nothing of this batch was written`,
        details: { messages: count, maxMessages: config.maxMessages, bytes: size, maxBytes: config.maxBytes },
        retryAfter: QUEUE_FULL_RETRY_AFTER,
      },
    };
  }

  const tooManyRecords = newCount > 0 ? dedupRecordsFull(q, newCount, QUEUE_FULL_RETRY_AFTER) : null;
  if (tooManyRecords) return { ok: false, error: tooManyRecords };

  const out: QueueSentMessage[] = [];
  const remember: Array<[string, number]> = [];
  let duplicates = 0;
  // The new messages go in with set-based inserts, in batch order (store.sendMany).
  const seqs = store.sendMany(prepared.filter((p) => !p.duplicateOf).map((p) => ({
    id: p.id, body: p.body, headers: p.headers, grp: p.grp, bytes: p.bytes,
    sentAt: now, visibleAt: p.delay > 0 ? now + p.delay * 1000 : null, attempts: 0, origin: null, attrTypes: p.attrTypes,
  })));
  let next = 0;
  for (const p of prepared) {
    if (p.duplicateOf) {
      const seq = "seq" in p.duplicateOf ? p.duplicateOf.seq : out[p.duplicateOf.index]!.seq;
      out.push({ id: p.id, seq, duplicate: true });
      duplicates++;
      continue;
    }
    const seq = seqs[next++]!;
    remember.push([p.id, seq]);
    out.push({ id: p.id, seq, duplicate: false });
  }
  rememberAcceptedMany(q, remember);
  store.countSent(out.length - duplicates, duplicates);
  return { ok: true, value: { messages: out } };
}
