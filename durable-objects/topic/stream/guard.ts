/**
 * The admission check of a stream append, run inside the log's commit transaction (the
 * log's AppendAdmission hook, log/schema.ts): closure, idempotent producers
 * (`Producer-Id/Epoch/Seq`: dedup, epoch fencing, gap detection) and `Stream-Seq`, in the
 * protocol's order of precedence. Because requests are judged one after another in commit
 * order and read the state the previous one wrote, checks and appends for a producer are
 * serialised, and a producer's new state, the closed flag and the data commit together or
 * not at all: a retry after a crash can never be appended twice.
 */
import { now } from "../../shared/clock";
import type { AppendAdmission } from "../log/schema";
import type { ProducerTuple, StreamMeta, StreamStore } from "./store";

/** What an append asks for. */
export interface AppendIntent {
  /** The request carries data (a close-only request carries none). */
  hasBody: boolean;
  close: boolean;
  streamSeq: string | null;
  producer: ProducerTuple | null;
  /** The stream's create request: its initial body makes the stream exist. */
  create?: boolean;
}

/** The decision, kept by the caller after the commit. */
export type Admission =
  /** Written (or, close-only, closed); `producer` is the state to echo. */
  | { kind: "write"; producer: { epoch: number; seq: number } | null }
  /** A producer's retry of a request already written: nothing written, 204. */
  | { kind: "duplicate"; producer: { epoch: number; seq: number } }
  /** Close-only on a stream already closed: nothing to do, 204. */
  | { kind: "already-closed" }
  /** Data for a closed stream: 409 with `Stream-Closed`. */
  | { kind: "closed" }
  /** The producer's epoch is older than the stream's: 403 with the current epoch. */
  | { kind: "stale-epoch"; epoch: number }
  /** A new epoch must start at seq 0: 400. */
  | { kind: "epoch-needs-seq-0" }
  /** A sequence number was skipped: 409 with the expected and received numbers. */
  | { kind: "seq-gap"; expected: number; received: number }
  /** `Stream-Seq` not greater than the last one: 409. */
  | { kind: "seq-regression"; last: string }
  /** The stream went away before the commit (deleted or expired). */
  | { kind: "gone" };

/**
 * The hook for one append. `onDecision` receives the decision made inside the
 * transaction and the log offset the request's first entry gets (or would have got).
 */
export function streamAdmission(store: StreamStore, intent: AppendIntent, onDecision: (a: Admission, firstOffset: number) => void): AppendAdmission {
  return (firstOffset) => {
    const decision = decide(store, intent);
    onDecision(decision, firstOffset);
    return decision.kind === "write" ? "write" : "skip";
  };
}

/** Judges the append against the stored state and, when it is admitted, records it. */
export function decide(store: StreamStore, intent: AppendIntent): Admission {
  const meta = store.meta();
  if (!meta || meta.deleted || (!meta.ready && !intent.create)) return { kind: "gone" };
  if (meta.closed) return closedAnswer(store, meta, intent);
  const p = intent.producer;
  let producer: { epoch: number; seq: number } | null = null;
  if (p) {
    const state = store.producer(p.id);
    if (state === null) {
      if (p.seq !== 0) return { kind: "seq-gap", expected: 0, received: p.seq };
    } else if (p.epoch < state.epoch) {
      return { kind: "stale-epoch", epoch: state.epoch };
    } else if (p.epoch > state.epoch) {
      if (p.seq !== 0) return { kind: "epoch-needs-seq-0" };
    } else if (p.seq <= state.lastSeq) {
      // Dedup comes before Stream-Seq: a retry carries the Stream-Seq it had the first time.
      return { kind: "duplicate", producer: { epoch: state.epoch, seq: state.lastSeq } };
    } else if (p.seq > state.lastSeq + 1) {
      return { kind: "seq-gap", expected: state.lastSeq + 1, received: p.seq };
    }
    producer = { epoch: p.epoch, seq: p.seq };
  }
  // Byte-wise comparison: header values are byte strings, so code units are bytes.
  if (intent.streamSeq !== null && meta.lastSeq !== null && intent.streamSeq <= meta.lastSeq) {
    return { kind: "seq-regression", last: meta.lastSeq };
  }
  const at = now();
  if (p && producer) store.putProducer(p.id, { epoch: producer.epoch, lastSeq: producer.seq }, at);
  if (intent.streamSeq !== null) store.setLastSeq(intent.streamSeq);
  if (intent.close) store.close(p);
  if (intent.create) store.markReady();
  if (meta.ttlSeconds !== null) store.setDeadline(at + meta.ttlSeconds * 1000);
  return { kind: "write", producer };
}

/**
 * A closed stream takes nothing more. The exact retry of the producer request that closed
 * it is a duplicate; a close-only request is idempotent; anything else is a conflict.
 */
function closedAnswer(store: StreamStore, meta: StreamMeta, intent: AppendIntent): Admission {
  const p = intent.producer;
  const by = meta.closedBy;
  if (p && by && by.id === p.id && by.epoch === p.epoch && by.seq === p.seq) {
    return { kind: "duplicate", producer: { epoch: p.epoch, seq: store.producer(p.id)?.lastSeq ?? p.seq } };
  }
  if (!intent.hasBody) return { kind: "already-closed" };
  return { kind: "closed" };
}
