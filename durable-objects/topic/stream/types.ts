/**
 * What the Worker and a stream's partition object exchange over RPC for the Durable
 * Streams protocol (worker/routes/stream.ts ↔ object.ts ↔ stream.ts). Offsets travel as
 * the protocol's tokens (offsets.ts); HTTP headers and status codes are the Worker's
 * business: these are the facts it renders.
 */
import type { ProducerTuple } from "./store";

/** `PUT`: create (or ensure) a stream, maybe as a fork. */
export interface CreateStreamInput {
  topic: string;
  /** As sent; null when the request had none (default, or a fork's inherited type). */
  contentType: string | null;
  ttlSeconds: number | null;
  /** Absolute expiry, ms since the epoch. */
  expiresAt: number | null;
  closed: boolean;
  body: Uint8Array | null;
  fork: ForkRequest | null;
}

export interface ForkRequest {
  /** The source stream's topic and the `Stream-Forked-From` path as sent. */
  sourceTopic: string;
  sourcePath: string;
  /** `Stream-Fork-Offset` as sent (a token), or null: the source's tail. */
  offset: string | null;
  subOffset: number;
}

/** What every successful stream answer says about the stream. */
export interface StreamFacts {
  contentType: string;
  /** The tail offset token. */
  next: string;
  closed: boolean;
  ttlSeconds: number | null;
  expiresAt: number | null;
}

export interface CreateStreamOutcome {
  /** false: the stream existed with this config (idempotent PUT). */
  created: boolean;
  stream: StreamFacts;
}

/** `POST`: append, close, or both. */
export interface AppendStreamInput {
  topic: string;
  contentType: string | null;
  /** null or empty: a close-only request. */
  body: Uint8Array | null;
  close: boolean;
  streamSeq: string | null;
  producer: ProducerTuple | null;
}

/** How an append was decided (guard.ts `Admission`, plus the tail after it). */
export type AppendStreamOutcome =
  | { kind: "written"; next: string; closed: boolean; producer: { epoch: number; seq: number } | null }
  | { kind: "duplicate"; next: string; closed: boolean; producer: { epoch: number; seq: number } }
  | { kind: "already-closed"; next: string }
  | { kind: "closed"; next: string }
  | { kind: "stale-epoch"; epoch: number }
  | { kind: "epoch-needs-seq-0" }
  | { kind: "seq-gap"; expected: number; received: number }
  | { kind: "seq-regression" };

/** `GET`: a catch-up read, or a long-poll wait when `waitMs` > 0. */
export interface ReadStreamInput {
  topic: string;
  /** `-1`, `now` or a token (validated by the Worker). */
  offset: string;
  waitMs: number;
  /** Most payload bytes to return (at least one entry is returned when there is one). */
  maxBytes?: number;
}

export interface ReadStreamOutcome extends StreamFacts {
  /** The bytes of a byte stream, or a JSON array of the messages in JSON mode. */
  payload: Uint8Array;
  /** No entry in the answer. */
  empty: boolean;
  /** Where the read started and where to go on, as tokens. */
  start: string;
  /** Every entry up to the tail at the time of the read was returned. */
  upToDate: boolean;
  /** Identifies this incarnation of the stream in ETags. */
  streamId: string;
}

/** A source stream's answer to a fork: what the fork inherits. */
export interface ForkGrant {
  contentType: string;
  ttlSeconds: number | null;
  expiresAt: number | null;
  /** The fork offset asked for (the source's tail when none was), as a position. */
  anchor: number;
  /** The fork's first own position: entries below it are read from the source. */
  position: number;
  /** Bytes of the source entry at `position` the fork keeps as its own first data (a sub-offset inside an entry). */
  prefix: Uint8Array | null;
}

export interface ForkAcquireInput {
  /** The fork offset as a position, or null for the tail. */
  position: number | null;
  subOffset: number;
  /** The fork request's content type, checked against the source's. */
  contentType: string | null;
}

/** Entries a fork reads from its source, rendered. */
export interface InheritedChunk {
  /** JSON mode: each message's JSON text. */
  items: string[];
  /** Byte streams: the entries' bytes. */
  parts: Uint8Array[];
  /** Payload bytes in the chunk. */
  size: number;
  /** Position after the last entry returned. */
  next: number;
}
