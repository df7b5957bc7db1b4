/**
 * Creating a stream (PUT): ensure-or-create with the protocol's idempotence rules, forks
 * included (the source grants what the fork inherits and counts it; a fork that is not made
 * is released). A new stream is written in three steps — its row, its topic, then its
 * initial data, whose commit makes it ready — so a creation cut short is found not ready
 * and undone by the next PUT.
 */
import type { Result } from "../../../protocol/errors";
import { DEFAULT_TOPIC_CONFIG, type TopicConfigPatch } from "../../../protocol/topics";
import { partitionStub } from "../../env";
import { now } from "../../shared/clock";
import { appendEntries, encodeBody } from "./append";
import { anchorToken, forkExpiry, sameStreamConfig } from "./fork";
import { parsePositionToken } from "./offsets";
import { DEFAULT_CONTENT_TYPE, encodeByteEntries, type EncodedEntry } from "./payload";
import type { StreamMeta, StreamStore } from "./store";
import type { StreamHost } from "./stream";
import type { CreateStreamInput, CreateStreamOutcome, ForkGrant, StreamFacts } from "./types";

/** A stream's topic keeps its messages until the stream is deleted or expires (PROTOCOL.md §4). */
const STREAM_TOPIC_CONFIG: TopicConfigPatch = { retention: 0 };

/** What creating needs of the stream module. */
export interface Creation {
  host: StreamHost;
  store: StreamStore;
  /** Expires the stream if its time is up (soft-deletes it while forks read it). */
  expireIfDue(): Promise<void>;
  /** Deletes what exists of the stream, letting go of the fork source that `meta` names. */
  destroy(meta: StreamMeta | null): Promise<void>;
  facts(meta: StreamMeta): StreamFacts;
}

const conflict = (message: string): Result<never> => ({ ok: false, error: { code: "CONFLICT", message } });
const notFound = (topic: string): Result<never> => ({ ok: false, error: { code: "NOT_FOUND", message: `stream '${topic}' does not exist` } });

/**
 * PUT: the stream that exists answers for itself (200, or 409 for another config); a
 * new one is made, a fork after its source granted it. Runs in the lifecycle queue.
 */
export async function createStream(c: Creation, input: CreateStreamInput): Promise<Result<CreateStreamOutcome>> {
  let existing = c.store.meta();
  if (existing && (!existing.ready || !c.host.log.exists())) {
    // A creation that never finished: undo it and start over.
    await c.destroy(existing);
    existing = null;
  }
  if (existing) {
    await c.expireIfDue();
    existing = c.store.meta();
  }
  if (existing) {
    if (existing.deleted) return conflict("the stream was deleted while forks still read it; its path is free once they are gone");
    if (!sameStreamConfig(existing, input)) return conflict("the stream exists with a different configuration");
    return { ok: true, value: { created: false, stream: c.facts(existing) } };
  }
  if (c.host.log.exists()) return conflict(`'${input.topic}' is a topic that is not a Durable Stream`);
  let grant: ForkGrant | null = null;
  if (input.fork) {
    // A stream cannot be its own source (and this object would wait for itself).
    if (input.fork.sourceTopic === input.topic) return notFound(input.topic);
    const position = input.fork.offset === null ? null : parsePositionToken(input.fork.offset);
    if (input.fork.offset !== null && position === null) return { ok: false, error: { code: "BAD_REQUEST", message: "Stream-Fork-Offset is malformed" } };
    const granted: Result<ForkGrant> = await partitionStub(c.host.env, input.fork.sourceTopic, 0)
      .streamForkAcquire(input.fork.sourceTopic, { position, subOffset: input.fork.subOffset, contentType: input.contentType });
    if (!granted.ok) return granted;
    grant = granted.value;
  }
  const made = await make(c, input, grant);
  if (!made.ok && grant && input.fork) {
    // The fork was not made: the source must not keep counting it.
    await partitionStub(c.host.env, input.fork.sourceTopic, 0).streamForkRelease();
  }
  return made;
}

/** Writes a new stream: its row, its topic, then its initial data (which makes it ready). */
async function make(c: Creation, input: CreateStreamInput, grant: ForkGrant | null): Promise<Result<CreateStreamOutcome>> {
  const contentType = input.contentType ?? grant?.contentType ?? DEFAULT_CONTENT_TYPE;
  const expiry = grant ? forkExpiry(input, grant) : { ttlSeconds: input.ttlSeconds, expiresAt: input.expiresAt };
  const maxBytes = DEFAULT_TOPIC_CONFIG.maxMessageBytes;
  const entries: EncodedEntry[] = grant?.prefix ? encodeByteEntries(contentType, grant.prefix, maxBytes) : [];
  if (input.body && input.body.length > 0) {
    const body = encodeBody(contentType, input.body, maxBytes, true);
    if (!body.ok) return body;
    entries.push(...body.value);
  }
  const at = now();
  const deadline = expiry.ttlSeconds !== null ? at + expiry.ttlSeconds * 1000 : expiry.expiresAt;
  c.store.create({
    topic: input.topic, contentType, ...expiry, deadline, ready: false, closed: false, closedBy: null, lastSeq: null,
    fork: input.fork && grant ? { source: input.fork.sourceTopic, path: input.fork.sourcePath, offset: anchorToken(grant), subOffset: input.fork.subOffset } : null,
    base: grant?.position ?? 0, refs: 0, deleted: false, createdAt: at,
  });
  const topic = await c.host.ensureTopic(input.topic, STREAM_TOPIC_CONFIG);
  if (!topic.ok) {
    c.store.clear();
    return topic;
  }
  const r = await appendEntries(c.host.log, c.store, input.topic, entries, {
    hasBody: entries.length > 0, close: input.closed, streamSeq: null, producer: null, create: true,
  });
  if (!r.ok || r.value.admission.kind !== "write") {
    // createStream lets go of the fork source; this only removes what was made.
    await c.destroy(null);
    return r.ok ? conflict("the stream changed while it was being created; try again") : r;
  }
  if (deadline !== null) await c.host.hooks.alarmBy(deadline);
  const meta = c.store.meta()!;
  return { ok: true, value: { created: true, stream: c.facts(meta) } };
}
