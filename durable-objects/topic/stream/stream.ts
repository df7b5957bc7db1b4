/**
 * The Durable Streams module of a topic partition: a stream at `/v1/stream/<path>` is a
 * topic with one partition, and this module of its partition 0 keeps what the protocol
 * adds to the topic's log — content type, TTL or expiry, closure, `Stream-Seq`,
 * idempotent producers, fork origin and fork count (store.ts) — and serves the protocol's
 * operations: create (and fork: create.ts, fork.ts), append and close (append.ts with guard.ts, atomic with
 * the log's commit), reads and long-poll waits (read.ts), metadata, delete (soft while
 * forks read it) and expiry by alarm. Lifecycle changes (create, delete, expiry, fork
 * references) run one at a time; appends and reads do not wait for them.
 */
import type { Result } from "../../../protocol/errors";
import type { TopicConfigPatch } from "../../../protocol/topics";
import type { Env } from "../../env";
import { partitionStub } from "../../env";
import { now } from "../../shared/clock";
import { WakeList } from "../../shared/wake-list";
import type { TopicInfo } from "../config";
import type { TopicLog } from "../log/log";
import type { AppendAdmission } from "../log/schema";
import type { PartitionHooks, PartitionModule } from "../types";
import { appendEntries, appendOutcome, encodeBody, maxMessageBytesOf } from "./append";
import { createStream } from "./create";
import { grantFork } from "./fork";
import { offsetToken, parseOffset } from "./offsets";
import { mediaEssence, type EncodedEntry } from "./payload";
import { readChunk, READ_BYTES, renderChunk, startOf, tailOf, type ReadContext } from "./read";
import { StreamStore, type StreamMeta } from "./store";
import type {
  AppendStreamInput, AppendStreamOutcome, CreateStreamInput, CreateStreamOutcome, ForkAcquireInput, ForkGrant, InheritedChunk,
  ReadStreamInput, ReadStreamOutcome, StreamFacts,
} from "./types";

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
  readonly #waiters = new WakeList();
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
    this.#waiters.wake();
  }

  /** The object is being wiped: waiting reads answer now. */
  reset(): void {
    this.onAppend();
  }

  // ---- the protocol's operations (the object's RPC methods delegate here) ----

  /** PUT: creates the stream (maybe as a fork), or answers for the one that exists. */
  create(input: CreateStreamInput): Promise<Result<CreateStreamOutcome>> {
    return this.#serial(() => createStream({
      host: this.#host, store: this.store, expireIfDue: () => this.#expire(), destroy: (m) => this.#destroy(m), facts: (m) => this.#facts(m),
    }, input));
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
    return this.#waiters.wait(ms, settled);
  }

  /** Runs lifecycle changes one at a time. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lifecycle.then(fn, fn);
    this.#lifecycle = run.catch(() => undefined);
    return run;
  }
}
