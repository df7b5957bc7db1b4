/**
 * Writing to a stream's log: a request's body as log entries (payload.ts), and one append
 * through the log's group commit with the stream's admission check attached (guard.ts),
 * repeated when the topic's config changed under it. The log writes the data; the check
 * decides, in the same transaction, whether it may.
 */
import { monotonicFactory } from "ulidx";
import type { Result } from "../../../protocol/errors";
import { DEFAULT_TOPIC_CONFIG } from "../../../protocol/topics";
import type { TopicLog } from "../log/log";
import type { StoredMessageInput } from "../log/schema";
import { streamAdmission, type Admission, type AppendIntent } from "./guard";
import { encodeByteEntries, encodeJsonEntries, isJsonType, parseJsonMessages, type EncodedEntry } from "./payload";
import type { StreamStore } from "./store";
import type { AppendStreamOutcome } from "./types";

const nextId = monotonicFactory();

/** How often an append is retried when the topic's config changes between reading it and the commit. */
const STALE_RETRIES = 3;

/**
 * A body as the entries of a stream of `contentType`: JSON messages (flattened, validated)
 * or byte chunks. `forCreate`: an empty JSON array is an empty create, not a 400.
 */
export function encodeBody(contentType: string, body: Uint8Array, maxMessageBytes: number, forCreate: boolean): Result<EncodedEntry[]> {
  if (isJsonType(contentType)) {
    const messages = parseJsonMessages(body, forCreate);
    return messages.ok ? encodeJsonEntries(messages.value, maxMessageBytes) : messages;
  }
  return { ok: true, value: encodeByteEntries(contentType, body, maxMessageBytes) };
}

/** The topic's current message size limit. */
export function maxMessageBytesOf(log: TopicLog): number {
  return log.config()?.maxMessageBytes ?? DEFAULT_TOPIC_CONFIG.maxMessageBytes;
}

/** Entries as the log stores messages: server-assigned ids (new by construction, no dedup record). */
function stored(entries: EncodedEntry[]): StoredMessageInput[] {
  return entries.map((e) => ({ id: nextId(), key: null, body: e.body, headers: e.headers, size: e.size, assigned: true }));
}

/** What an append decided, and the log offset its first entry got (or would have). */
export interface Appended {
  admission: Admission;
  firstOffset: number;
  count: number;
}

/**
 * Appends `entries` to the log of topic `topic` (partition 0) if the stream's admission
 * check lets it. Errors are the log's (a full partition, the topic gone).
 */
export async function appendEntries(log: TopicLog, store: StreamStore, topic: string, entries: EncodedEntry[], intent: AppendIntent): Promise<Result<Appended>> {
  const messages = stored(entries);
  for (let attempt = 0; attempt < STALE_RETRIES; attempt++) {
    const info = log.info();
    if (!info) return { ok: false, error: { code: "NOT_FOUND", message: `stream '${topic}' does not exist` } };
    let decided: Appended = { admission: { kind: "gone" }, firstOffset: log.next(), count: 0 };
    const admit = streamAdmission(store, intent, (admission, firstOffset) => {
      decided = { admission, firstOffset, count: admission.kind === "write" ? messages.length : 0 };
    });
    const r = await log.append({ topic, partition: 0, info, messages, admit });
    if (!r.ok) return r;
    if (!r.value.stale) return { ok: true, value: decided };
  }
  return { ok: false, error: { code: "INTERNAL", message: "the topic's config kept changing; try again", retryAfter: 1 } };
}

/** The admission's decision as the append's outcome. */
export function appendOutcome(a: Admission, next: string, closed: boolean, topic: string): Result<AppendStreamOutcome> {
  switch (a.kind) {
    case "write": return { ok: true, value: { kind: "written", next, closed, producer: a.producer } };
    case "duplicate": return { ok: true, value: { kind: "duplicate", next, closed, producer: a.producer } };
    case "already-closed": return { ok: true, value: { kind: "already-closed", next } };
    case "closed": return { ok: true, value: { kind: "closed", next } };
    case "stale-epoch": return { ok: true, value: { kind: "stale-epoch", epoch: a.epoch } };
    case "epoch-needs-seq-0": return { ok: true, value: { kind: "epoch-needs-seq-0" } };
    case "seq-gap": return { ok: true, value: { kind: "seq-gap", expected: a.expected, received: a.received } };
    case "seq-regression": return { ok: true, value: { kind: "seq-regression" } };
    case "gone": return { ok: false, error: { code: "NOT_FOUND", message: `stream '${topic}' does not exist` } };
  }
}
