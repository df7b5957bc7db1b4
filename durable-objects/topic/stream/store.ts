/**
 * The stream module's tables and every statement on them. A partition object that serves
 * a Durable Stream keeps here what the topic log does not know: the stream's content type,
 * expiry, closure, `Stream-Seq`, fork origin and reference count (one row, `stream_meta`),
 * and the state of each idempotent producer (`stream_producers`). The log keeps the data.
 * Writes that go with an append run inside the log's commit transaction (guard.ts), so
 * they commit or roll back with it.
 */
import { migrate } from "../../shared/sql";

/** Numbered and additive: never edit one, append a new one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE stream_meta (
     id INTEGER PRIMARY KEY CHECK (id = 0),
     topic TEXT NOT NULL,
     content_type TEXT NOT NULL,
     ttl_seconds INTEGER,
     expires_at INTEGER,
     deadline INTEGER,
     ready INTEGER NOT NULL DEFAULT 0,
     closed INTEGER NOT NULL DEFAULT 0,
     closed_by TEXT,
     last_seq TEXT,
     fork_source TEXT,
     fork_path TEXT,
     fork_offset TEXT,
     fork_sub INTEGER NOT NULL DEFAULT 0,
     base INTEGER NOT NULL DEFAULT 0,
     refs INTEGER NOT NULL DEFAULT 0,
     deleted INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL
   )`,
  `CREATE TABLE stream_producers (
     id TEXT PRIMARY KEY,
     epoch INTEGER NOT NULL,
     last_seq INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   ) WITHOUT ROWID`,
];

/** Where a fork's inherited data comes from. */
export interface ForkOrigin {
  /** The source stream's topic. */
  source: string;
  /** The `Stream-Forked-From` path as the creator sent it (compared on a repeated PUT). */
  path: string;
  /** The `Stream-Fork-Offset` as sent, or null when the source's tail was taken. */
  offset: string | null;
  subOffset: number;
}

/** The tuple of the producer request that closed a stream (a retry of it is a duplicate). */
export interface ProducerTuple {
  id: string;
  epoch: number;
  seq: number;
}

export interface StreamMeta {
  topic: string;
  contentType: string;
  ttlSeconds: number | null;
  /** Absolute expiry (ms) set by `Stream-Expires-At`. */
  expiresAt: number | null;
  /** When the stream expires (TTL: last read or write + TTL; else `expiresAt`), or null. */
  deadline: number | null;
  /** False until the create request's initial body is written. */
  ready: boolean;
  closed: boolean;
  closedBy: ProducerTuple | null;
  lastSeq: string | null;
  fork: ForkOrigin | null;
  /** Stream position of the log's offset 0 (a fork's own data starts at its fork point). */
  base: number;
  /** Forks that read this stream's data. */
  refs: number;
  /** Deleted while forks still read it: 410 to clients, data kept for the forks. */
  deleted: boolean;
  createdAt: number;
}

export interface ProducerState {
  epoch: number;
  lastSeq: number;
}

interface MetaRow extends Record<string, SqlStorageValue> {
  topic: string;
  content_type: string;
  ttl_seconds: number | null;
  expires_at: number | null;
  deadline: number | null;
  ready: number;
  closed: number;
  closed_by: string | null;
  last_seq: string | null;
  fork_source: string | null;
  fork_path: string | null;
  fork_offset: string | null;
  fork_sub: number;
  base: number;
  refs: number;
  deleted: number;
  created_at: number;
}

export class StreamStore {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    migrate(this.sql, MIGRATIONS, "stream");
  }

  meta(): StreamMeta | null {
    const row = this.sql.exec<MetaRow>("SELECT * FROM stream_meta WHERE id = 0").toArray()[0];
    return row ? toMeta(row) : null;
  }

  /** Starts a stream's row (not ready until its initial body is written). */
  create(m: StreamMeta): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO stream_meta (id, topic, content_type, ttl_seconds, expires_at, deadline, ready, closed, closed_by,
         last_seq, fork_source, fork_path, fork_offset, fork_sub, base, refs, deleted, created_at)
       VALUES (0, ?, ?, ?, ?, ?, 0, 0, NULL, NULL, ?, ?, ?, ?, ?, 0, 0, ?)`,
      m.topic, m.contentType, m.ttlSeconds, m.expiresAt, m.deadline,
      m.fork?.source ?? null, m.fork?.path ?? null, m.fork?.offset ?? null, m.fork?.subOffset ?? 0, m.base, m.createdAt,
    );
  }

  /** The initial body is written (inside its commit): the stream exists for clients. */
  markReady(): void {
    this.sql.exec("UPDATE stream_meta SET ready = 1 WHERE id = 0");
  }

  /** Closes the stream; `by` is the producer request that did, if any. */
  close(by: ProducerTuple | null): void {
    this.sql.exec("UPDATE stream_meta SET closed = 1, closed_by = ? WHERE id = 0", by ? JSON.stringify(by) : null);
  }

  setLastSeq(seq: string): void {
    this.sql.exec("UPDATE stream_meta SET last_seq = ? WHERE id = 0", seq);
  }

  setDeadline(deadline: number | null): void {
    this.sql.exec("UPDATE stream_meta SET deadline = ? WHERE id = 0", deadline);
  }

  /** Adds `delta` to the fork count; returns the new count. */
  addRefs(delta: number): number {
    return this.sql.exec<{ refs: number }>("UPDATE stream_meta SET refs = MAX(0, refs + ?) WHERE id = 0 RETURNING refs", delta).one().refs;
  }

  softDelete(): void {
    this.sql.exec("UPDATE stream_meta SET deleted = 1, deadline = NULL WHERE id = 0");
  }

  /** Forgets the stream's row and producers (a leftover of a creation that never finished). */
  clear(): void {
    this.sql.exec("DELETE FROM stream_meta");
    this.sql.exec("DELETE FROM stream_producers");
  }

  producer(id: string): ProducerState | null {
    const row = this.sql
      .exec<{ epoch: number; last_seq: number }>("SELECT epoch, last_seq FROM stream_producers WHERE id = ?", id)
      .toArray()[0];
    return row ? { epoch: row.epoch, lastSeq: row.last_seq } : null;
  }

  putProducer(id: string, state: ProducerState, now: number): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO stream_producers (id, epoch, last_seq, updated_at) VALUES (?, ?, ?, ?)",
      id, state.epoch, state.lastSeq, now,
    );
  }
}

function toMeta(r: MetaRow): StreamMeta {
  return {
    topic: r.topic,
    contentType: r.content_type,
    ttlSeconds: r.ttl_seconds,
    expiresAt: r.expires_at,
    deadline: r.deadline,
    ready: r.ready === 1,
    closed: r.closed === 1,
    closedBy: r.closed_by ? (JSON.parse(r.closed_by) as ProducerTuple) : null,
    lastSeq: r.last_seq,
    fork: r.fork_source !== null
      ? { source: r.fork_source, path: r.fork_path ?? "", offset: r.fork_offset, subOffset: r.fork_sub }
      : null,
    base: r.base,
    refs: r.refs,
    deleted: r.deleted === 1,
    createdAt: r.created_at,
  };
}
