/**
 * The Durable Streams module of a topic partition: a stream at `/v1/stream/<path>` is a
 * topic with one partition, and this module of its partition 0 keeps what the protocol
 * adds to the topic's log — content type, TTL or expiry, closure, `Stream-Seq`,
 * idempotent producers, fork origin and fork count (store.ts) — and serves the protocol's
 * operations: create (and fork), append and close (append.ts with guard.ts, atomic with
 * the log's commit), reads and long-poll waits (read.ts), metadata, delete (soft while
 * forks read it) and expiry by alarm. Lifecycle changes (create, delete, expiry, fork
 * references) run one at a time; appends and reads do not wait for them.
 */
import type { Result } from "../../../protocol/errors";
import type { TopicConfigPatch } from "../../../protocol/topics";
import type { Env } from "../../env";
import { partitionStub } from "../../env";
import { now } from "../../shared/clock";
import type { TopicInfo } from "../config";
import type { TopicLog } from "../log/log";
import type { AppendAdmission } from "../log/schema";
import type { PartitionHooks, PartitionModule } from "../types";
import { appendEntries, encodeBody, maxMessageBytesOf } from "./append";
import { anchorToken, forkExpiry, grantFork, sameStreamConfig } from "./fork";
import type { Admission } from "./guard";
import { offsetToken, parseOffset, parsePositionToken } from "./offsets";
import { DEFAULT_CONTENT_TYPE, encodeByteEntries, mediaEssence, type EncodedEntry } from "./payload";
import { readChunk, READ_BYTES, renderChunk, startOf, tailOf, type ReadContext } from "./read";
import { StreamStore, type StreamMeta } from "./store";
import type {
  AppendStreamInput, AppendStreamOutcome, CreateStreamInput, CreateStreamOutcome, ForkAcquireInput, ForkGrant, InheritedChunk,
  ReadStreamInput, ReadStreamOutcome, StreamFacts,
} from "./types";
import { DEFAULT_TOPIC_CONFIG } from "../../../protocol/topics";

/** What the module needs of its partition object. */
export interface StreamHost {
  ctx: DurableObjectState;
  env: Env;
  log: TopicLog;
  hooks: PartitionHooks;
  /** Creates the topic, this object being its home, unless it exists. */
  ensureTopic(topic: string, patch: TopicConfigPatch): Promise<Result<TopicInfo>>;
  /** Deletes the topic in every partition, this object's state included. */
  destroyTopic(topic: string): Promise<Result<null>>;
}

/** A stream's topic keeps its messages until the stream is deleted or expires (PROTOCOL.md §4). */
const STREAM_TOPIC_CONFIG: TopicConfigPatch = { retention: 0 };

type Lookup = Result<StreamMeta> | "expired";

const notFound = (topic: string): Result<never> => ({ ok: false, error: { code: "NOT_FOUND", message: `stream '${topic}' does not exist` } });
const gone = (topic: string): Result<never> => ({
  ok: false,
  error: { code: "GONE", message: `stream '${topic}' was deleted; its data is kept only for the forks that read it` },
});
const conflict = (message: string): Result<never> => ({ ok: false, error: { code: "CONFLICT", message } });

export class StreamModule implements PartitionModule {
  readonly store: StreamStore;
  readonly #host: StreamHost;
  readonly #rc: ReadContext;
  /** Long-poll reads waiting for an append or a close. */
  #waiters = new Set<() => void>();
  /** The tail of the lifecycle queue: create, delete, expiry and fork references run one at a time. */
  #lifecycle: Promise<unknown> = Promise.resolve();

  constructor(host: StreamHost) {
    this.#host = host;
    this.store = new StreamStore(host.ctx.storage.sql);
    this.#rc = { env: host.env, log: host.log };
  }

  // ---- PartitionModule ----

  migrate(): void {
    this.store.migrate();
  }

  nextDeadline(): number | null {
    const m = this.store.meta();
    return m && m.ready && !m.deleted ? m.deadline : null;
  }

  async onAlarm(at: number): Promise<void> {
    const m = this.store.meta();
    if (m && m.ready && !m.deleted && m.deadline !== null && m.deadline <= at) await this.#serial(() => this.#expire());
  }

  /** Something was appended (through the stream or `/v1/topics`): long-polls look again. */
  onAppend(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  /** The object is being wiped: waiting reads answer now. */
  reset(): void {
    this.onAppend();
  }

  // ---- the protocol's operations (the object's RPC methods delegate here) ----

  /** PUT: creates the stream (maybe as a fork), or answers for the one that exists. */
  create(input: CreateStreamInput): Promise<Result<CreateStreamOutcome>> {
    return this.#serial(() => this.#create(input));
  }

  /** POST: appends, closes, or both. */
  async append(input: AppendStreamInput): Promise<Result<AppendStreamOutcome>> {
    const open = await this.#open(input.topic);
    if (!open.ok) return open;
    const meta = open.value;
    const hasBody = input.body !== null && input.body.length > 0;
    let entries: EncodedEntry[] = [];
    // A closed stream answers for itself in the admission check (closure comes first).
    if (hasBody && !meta.closed) {
      if (input.contentType === null || mediaEssence(input.contentType) !== mediaEssence(meta.contentType)) {
        return conflict(`the stream's content type is ${meta.contentType}`);
      }
      const encoded = encodeBody(meta.contentType, input.body!, maxMessageBytesOf(this.#host.log), false);
      if (!encoded.ok) return encoded;
      entries = encoded.value;
    }
    const r = await appendEntries(this.#host.log, this.store, input.topic, entries, {
      hasBody, close: input.close, streamSeq: input.streamSeq, producer: input.producer,
    });
    this.onAppend(); // a close writes no entry, and waiting reads must see it too
    if (!r.ok) return r;
    const next = offsetToken(meta.base + r.value.firstOffset + r.value.count);
    return appendOutcome(r.value.admission, next, this.store.meta()?.closed ?? false, input.topic);
  }

  /** GET: a catch-up read, or a long-poll that waits up to `waitMs` for data at the tail. */
  async read(input: ReadStreamInput): Promise<Result<ReadStreamOutcome>> {
    const open = await this.#open(input.topic);
    if (!open.ok) return open;
    this.#renew(open.value);
    const parsed = parseOffset(input.offset);
    if (!parsed) return { ok: false, error: { code: "BAD_REQUEST", message: "offset is not an offset this server issued" } };
    const before = open.value;
    const tail = tailOf(this.#rc, before);
    const position = parsed.kind === "start" ? startOf(this.#rc, before) : parsed.kind === "now" ? tail : parsed.position;
    if (position > tail) return { ok: false, error: { code: "BAD_REQUEST", message: "offset is past the stream's tail" } };
    if (input.waitMs > 0 && position >= tail && !before.closed) await this.#waitFor(position, input.waitMs);
    const meta = this.store.meta();
    if (!meta || !meta.ready || meta.deleted || !this.#host.log.exists()) return notFound(input.topic);
    const chunk = await readChunk(this.#rc, meta, position, null, input.maxBytes ?? READ_BYTES);
    if (!chunk.ok) return chunk;
    // Closure and the tail after the read: a close is atomic with its last data.
    const after = this.store.meta() ?? meta;
    const upToDate = chunk.value.next >= tailOf(this.#rc, after);
    return {
      ok: true,
      value: {
        ...this.#facts(after),
        payload: renderChunk(meta.contentType, chunk.value),
        empty: chunk.value.items.length === 0 && chunk.value.parts.length === 0,
        start: offsetToken(position),
        next: offsetToken(chunk.value.next),
        upToDate,
        streamId: this.#host.log.incarnation() ?? "",
      },
    };
  }

  /** HEAD: the stream's metadata. Does not count as a read for its TTL. */
  async head(topic: string): Promise<Result<StreamFacts>> {
    const open = await this.#open(topic);
    return open.ok ? { ok: true, value: this.#facts(open.value) } : open;
  }

  /** DELETE: removes the stream, or soft-deletes it while forks read its data. */
  remove(topic: string): Promise<Result<null>> {
    return this.#serial(async () => {
      const found = await this.#lookupSerial(topic);
      if (!found.ok) return found;
      if (found.value.refs > 0) this.store.softDelete();
      else await this.#destroy(found.value);
      return { ok: true, value: null };
    });
  }

  /** On a source: grants a fork and counts it. */
  forkAcquire(topic: string, input: ForkAcquireInput): Promise<Result<ForkGrant>> {
    return this.#serial(async () => {
      const found = await this.#lookupSerial(topic);
      if (!found.ok) {
        return found.error.code === "GONE" ? conflict(`source stream '${topic}' was deleted and cannot be forked`) : notFound(topic);
      }
      const grant = await grantFork(this.#rc, found.value, input);
      if (grant.ok) this.store.addRefs(1);
      return grant;
    });
  }

  /** On a source: a fork is gone; the last fork of a deleted source takes the source with it. */
  forkRelease(): Promise<void> {
    return this.#serial(async () => {
      const meta = this.store.meta();
      if (!meta) return;
      if (this.store.addRefs(-1) === 0 && meta.deleted) await this.#destroy(meta);
    });
  }

  /** On a source: entries a fork inherits (deleted or not, and not a read for the TTL). */
  async readInherited(from: number, cap: number, maxBytes: number): Promise<Result<InheritedChunk>> {
    const meta = this.store.meta();
    if (!meta || !meta.ready || !this.#host.log.exists()) return notFound(meta?.topic ?? "source");
    return readChunk(this.#rc, meta, from, cap, maxBytes);
  }

  /**
   * The admission check for messages published through `/v1/topics` to a stream's topic:
   * a closed stream takes none (atomically with its close), and a publish is a write for
   * the stream's TTL. Undefined when this partition holds no stream.
   */
  publishAdmission(): AppendAdmission | undefined {
    if (!this.store.meta()) return undefined;
    return () => {
      const m = this.store.meta();
      if (!m || !m.ready) return "write";
      if (m.closed) return { code: "CONFLICT", message: "the topic is a closed Durable Stream and takes no more messages" };
      if (m.ttlSeconds !== null) this.store.setDeadline(now() + m.ttlSeconds * 1000);
      return "write";
    };
  }

  /** The topic is being deleted through `/v1/topics`: a fork lets go of its source. */
  async beforeTopicDelete(): Promise<void> {
    const meta = this.store.meta();
    if (meta?.fork) await this.#releaseSource(meta);
  }

  // ---- lifecycle ----

  async #create(input: CreateStreamInput): Promise<Result<CreateStreamOutcome>> {
    let existing = this.store.meta();
    if (existing && (!existing.ready || !this.#host.log.exists())) {
      // A creation that never finished: undo it and start over.
      await this.#destroy(existing);
      existing = null;
    }
    if (existing && this.#expired(existing)) {
      await this.#expire();
      existing = this.store.meta();
    }
    if (existing) {
      if (existing.deleted) return conflict("the stream was deleted while forks still read it; its path is free once they are gone");
      if (!sameStreamConfig(existing, input)) return conflict("the stream exists with a different configuration");
      return { ok: true, value: { created: false, stream: this.#facts(existing) } };
    }
    if (this.#host.log.exists()) return conflict(`'${input.topic}' is a topic that is not a Durable Stream`);
    let grant: ForkGrant | null = null;
    if (input.fork) {
      // A stream cannot be its own source (and this object would wait for itself).
      if (input.fork.sourceTopic === input.topic) return notFound(input.topic);
      const position = input.fork.offset === null ? null : parsePositionToken(input.fork.offset);
      if (input.fork.offset !== null && position === null) return { ok: false, error: { code: "BAD_REQUEST", message: "Stream-Fork-Offset is malformed" } };
      const granted: Result<ForkGrant> = await partitionStub(this.#host.env, input.fork.sourceTopic, 0)
        .streamForkAcquire(input.fork.sourceTopic, { position, subOffset: input.fork.subOffset, contentType: input.contentType });
      if (!granted.ok) return granted;
      grant = granted.value;
    }
    const made = await this.#make(input, grant);
    if (!made.ok && grant && input.fork) {
      // The fork was not made: the source must not keep counting it.
      await partitionStub(this.#host.env, input.fork.sourceTopic, 0).streamForkRelease();
    }
    return made;
  }

  /** Writes a new stream: its row, its topic, then its initial data (which makes it ready). */
  async #make(input: CreateStreamInput, grant: ForkGrant | null): Promise<Result<CreateStreamOutcome>> {
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
    this.store.create({
      topic: input.topic, contentType, ...expiry, deadline, ready: false, closed: false, closedBy: null, lastSeq: null,
      fork: input.fork && grant ? { source: input.fork.sourceTopic, path: input.fork.sourcePath, offset: anchorToken(grant), subOffset: input.fork.subOffset } : null,
      base: grant?.position ?? 0, refs: 0, deleted: false, createdAt: at,
    });
    const topic = await this.#host.ensureTopic(input.topic, STREAM_TOPIC_CONFIG);
    if (!topic.ok) {
      this.store.clear();
      return topic;
    }
    const r = await appendEntries(this.#host.log, this.store, input.topic, entries, {
      hasBody: entries.length > 0, close: input.closed, streamSeq: null, producer: null, create: true,
    });
    if (!r.ok || r.value.admission.kind !== "write") {
      // #create lets go of the fork source; this only removes what was made.
      await this.#destroy(null);
      return r.ok ? conflict("the stream changed while it was being created; try again") : r;
    }
    if (deadline !== null) await this.#host.hooks.alarmBy(deadline);
    const meta = this.store.meta()!;
    return { ok: true, value: { created: true, stream: this.#facts(meta) } };
  }

  /** The stream's time is up: gone, or soft-deleted while forks read it. Inside #serial. */
  async #expire(): Promise<void> {
    const meta = this.store.meta();
    if (!meta || meta.deleted || !this.#expired(meta)) return;
    if (meta.refs > 0) this.store.softDelete();
    else await this.#destroy(meta);
  }

  /** Deletes the stream's topic (every module's state) after letting go of its fork source, if `meta` names one. */
  async #destroy(meta: StreamMeta | null): Promise<void> {
    if (meta?.fork) await this.#releaseSource(meta);
    if (this.#host.log.exists()) {
      const name = this.#host.log.info()!.name;
      const r = await this.#host.destroyTopic(name);
      if (!r.ok && r.error.code !== "NOT_FOUND") throw new Error(`deleting stream '${name}' failed: ${r.error.message}`);
    }
    this.store.clear();
    this.onAppend();
  }

  async #releaseSource(meta: StreamMeta): Promise<void> {
    if (!meta.fork) return;
    await partitionStub(this.#host.env, meta.fork.source, 0).streamForkRelease();
  }

  // ---- helpers ----

  /** The stream as clients may use it, expiring it first when its time is up. */
  async #open(topic: string): Promise<Result<StreamMeta>> {
    const found = this.#lookup(topic);
    if (found !== "expired") return found;
    await this.#serial(() => this.#expire());
    const again = this.#lookup(topic);
    return again === "expired" ? notFound(topic) : again;
  }

  /** `#open` for code already running inside #serial. */
  async #lookupSerial(topic: string): Promise<Result<StreamMeta>> {
    const found = this.#lookup(topic);
    if (found !== "expired") return found;
    await this.#expire();
    const again = this.#lookup(topic);
    return again === "expired" ? notFound(topic) : again;
  }

  #lookup(topic: string): Lookup {
    const meta = this.store.meta();
    if (!meta || !meta.ready || !this.#host.log.exists()) return notFound(topic);
    if (meta.deleted) return gone(topic);
    return this.#expired(meta) ? "expired" : { ok: true, value: meta };
  }

  #expired(meta: StreamMeta): boolean {
    return meta.deadline !== null && meta.deadline <= now();
  }

  /**
   * A read or write restarts a TTL's countdown. Stored only when it moves by a tenth of
   * the TTL (at most a second), so a busy stream does not write on every read.
   */
  #renew(meta: StreamMeta): void {
    if (meta.ttlSeconds === null) return;
    const target = now() + meta.ttlSeconds * 1000;
    if (meta.deadline === null || target - meta.deadline >= Math.min(1000, meta.ttlSeconds * 100)) this.store.setDeadline(target);
  }

  #facts(meta: StreamMeta): StreamFacts {
    return {
      contentType: meta.contentType,
      next: offsetToken(tailOf(this.#rc, meta)),
      closed: meta.closed,
      ttlSeconds: meta.ttlSeconds,
      expiresAt: meta.expiresAt,
    };
  }

  /** Resolves true once the tail passes `position`, the stream closes or goes; false after `ms`. */
  #waitFor(position: number, ms: number): Promise<boolean> {
    const settled = (): boolean => {
      const m = this.store.meta();
      return !m || m.closed || m.deleted || !this.#host.log.exists() || tailOf(this.#rc, m) > position;
    };
    if (settled()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = (): void => {
        if (!settled()) return;
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        resolve(false);
      }, ms);
      this.#waiters.add(wake);
    });
  }

  /** Runs lifecycle changes one at a time. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lifecycle.then(fn, fn);
    this.#lifecycle = run.catch(() => undefined);
    return run;
  }
}

/** The admission's decision as the append's outcome. */
function appendOutcome(a: Admission, next: string, closed: boolean, topic: string): Result<AppendStreamOutcome> {
  switch (a.kind) {
    case "write": return { ok: true, value: { kind: "written", next, closed, producer: a.producer } };
    case "duplicate": return { ok: true, value: { kind: "duplicate", next, closed, producer: a.producer } };
    case "already-closed": return { ok: true, value: { kind: "already-closed", next } };
    case "closed": return { ok: true, value: { kind: "closed", next } };
    case "stale-epoch": return { ok: true, value: { kind: "stale-epoch", epoch: a.epoch } };
    case "epoch-needs-seq-0": return { ok: true, value: { kind: "epoch-needs-seq-0" } };
    case "seq-gap": return { ok: true, value: { kind: "seq-gap", expected: a.expected, received: a.received } };
    case "seq-regression": return { ok: true, value: { kind: "seq-regression" } };
    case "gone": return notFound(topic);
  }
}
