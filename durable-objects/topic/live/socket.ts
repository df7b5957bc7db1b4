/**
 * Per-socket state of a live WebSocket subscriber, kept in the socket's attachment so it
 * survives hibernation and eviction, and the flow-control window that bounds what the
 * object hands the runtime for one socket.
 *
 * Why a window with client acks: workerd offers no `bufferedAmount` (checked on the
 * runtime this project pins), so the object cannot see what a socket has not yet
 * flushed. It counts instead what it sent and the client has not confirmed with an
 * `{"type":"ack","offset":n}` frame. A socket never has more than `window` messages or
 * bytes unconfirmed. When a message does not fit, the socket is paused: nothing more is
 * sent, and it reads on from the log, at its own pace, as its acks free the window. A
 * socket that stays paused for `SLOW_GRACE_MS` without an ack that frees anything (a
 * stalled client, or one that never acks) is closed with `CloseCodes.SLOW_SUBSCRIBER` and
 * the offset to resume from: the pause is recorded in store.ts (`live_slow`), the alarm
 * finds it there and `closeSlow` below closes the socket. `sendFrom` is how anything
 * reaches a socket: in offset order, gaps announced, within the window.
 */
import { SLOW_GRACE_MS, SUBSCRIBER_WINDOW as PROTOCOL_WINDOW } from "../../../protocol/limits";
import { closeFor, CloseCodes, newSocketLimits, type SocketLimits } from "../../shared/socket-limits";
import { wsGapFrame, wsMessageFrame, type CachedMessage } from "./frames";

/** The most a socket may have sent and unconfirmed. */
export interface Window {
  messages: number;
  bytes: number;
}

export const SUBSCRIBER_WINDOW: Window = { ...PROTOCOL_WINDOW };

/** How long a paused socket may go without a freeing ack before it is closed (alarm). */
export { SLOW_GRACE_MS };

/** Messages sent as one unit of confirmation (acks free the window a chunk at a time). */
export const SEND_CHUNK_MESSAGES = 100;

/** Extra bytes a `message` frame adds to the message JSON. */
const FRAME_OVERHEAD = 16;

/** Tag of every subscriber socket (`ctx.getWebSockets(SUBSCRIBER_TAG)`). */
export const SUBSCRIBER_TAG = "sub";

const MAX_MARKS = 24;

export interface SubscriberState {
  v: 1;
  /** Random id, also a socket tag: how an alarm finds the socket whose credential expired. */
  id: string;
  partition: number;
  /** The next offset to deliver; every kept offset below it was delivered. */
  next: number;
  /** Messages and bytes sent so far, and how much of that the client confirmed. */
  sentCount: number;
  sentBytes: number;
  confirmedCount: number;
  confirmedBytes: number;
  /** Flat triples `[endOffset, sentCount, sentBytes]` after each unconfirmed chunk. */
  marks: number[];
  /** When the window filled (ms), while paused; null while messages flow. */
  pausedAt: number | null;
  /** The credential may also publish (decided by the Worker at upgrade). */
  canPublish: boolean;
  /** Frame budget and credential expiry (shared/socket-limits.ts). */
  limits: SocketLimits;
}

export function newSubscriber(partition: number, next: number, canPublish: boolean, expiresAt: number | null, now: number): SubscriberState {
  return {
    v: 1, id: crypto.randomUUID(), partition, next,
    sentCount: 0, sentBytes: 0, confirmedCount: 0, confirmedBytes: 0, marks: [],
    pausedAt: null, canPublish, limits: newSocketLimits(now, expiresAt),
  };
}

/**
 * Whether `count` more messages of `bytes` in all still fit the window. A lone message
 * always fits an empty window, so one larger than the window cannot wedge a socket.
 */
export function fits(s: SubscriberState, count: number, bytes: number, window: Window): boolean {
  const pending = s.sentCount - s.confirmedCount;
  if (pending === 0 && count === 1) return true;
  return pending + count <= window.messages && s.sentBytes - s.confirmedBytes + bytes <= window.bytes;
}

/** Records one sent chunk ending before `endOffset`. */
export function recordSent(s: SubscriberState, endOffset: number, count: number, bytes: number): void {
  s.next = endOffset;
  if (count === 0) return;
  s.sentCount += count;
  s.sentBytes += bytes;
  s.marks.push(endOffset, s.sentCount, s.sentBytes);
  // Too many chunks outstanding: forget the oldest boundary. Its chunk is then confirmed
  // only with the next one, which over-counts what is unconfirmed: the safe direction.
  if (s.marks.length > MAX_MARKS * 3) s.marks.splice(0, 3);
}

/** Moves `next` past offsets that are gone or absent, without sending anything. */
export function skipTo(s: SubscriberState, offset: number): void {
  if (offset > s.next) s.next = offset;
}

/**
 * The client confirms it received everything up to and including `offset`. Returns
 * whether that freed any of the window.
 */
export function confirm(s: SubscriberState, offset: number): boolean {
  const through = offset + 1;
  const before = s.confirmedCount;
  if (through >= s.next) {
    s.confirmedCount = s.sentCount;
    s.confirmedBytes = s.sentBytes;
    s.marks = [];
  } else {
    while (s.marks.length >= 3 && s.marks[0]! <= through) {
      s.confirmedCount = s.marks[1]!;
      s.confirmedBytes = s.marks[2]!;
      s.marks.splice(0, 3);
    }
  }
  return s.confirmedCount > before;
}

/** Unconfirmed messages and bytes, for stats and tests. */
export function unconfirmed(s: SubscriberState): { messages: number; bytes: number } {
  return { messages: s.sentCount - s.confirmedCount, bytes: s.sentBytes - s.confirmedBytes };
}

/** The close reason of a slow subscriber: where to reconnect from (fits the 123-byte limit). */
export function slowReason(s: SubscriberState): string {
  return JSON.stringify({ resumeFrom: s.next, lastOffset: s.next - 1 });
}

/**
 * The window is full: the socket pauses (nothing more is sent until an ack frees room).
 * Returns when it is closed unless such an ack comes (`graceMs` from `now`), or null when
 * it was already paused (its deadline stands).
 */
export function pause(s: SubscriberState, now: number, graceMs: number): number | null {
  if (s.pausedAt !== null) return null;
  s.pausedAt = now;
  return now + graceMs;
}

/**
 * Closes a socket still paused when its grace period ran out (the alarm calls this):
 * `CloseCodes.SLOW_SUBSCRIBER` (4000), with the offset to resume from as the reason.
 */
export function closeSlow(ws: WebSocket, s: SubscriberState): void {
  if (s.pausedAt !== null) closeFor(ws, { code: CloseCodes.SLOW_SUBSCRIBER, reason: slowReason(s) });
}

/** What sending to a socket reads from its partition. */
export interface SendSource {
  /** Lowest kept offset. */
  first(): number;
  /** Offset the next message will get. */
  next(): number;
  /** Messages from `offset` on (cached or read from the log), at most `max`. */
  readFrom(offset: number, max: number): CachedMessage[];
}

/**
 * Sends `s.next` onwards as far as `window` allows: a `gap` frame for offsets retention
 * removed, then messages in offset order. A message that does not fit pauses the socket
 * until an ack frees the window; `closeAt` is then when the alarm closes it unless such an
 * ack comes (null when it did not pause now). `changed`: the state moved (store it again).
 */
export function sendFrom(ws: WebSocket, s: SubscriberState, source: SendSource, window: Window, graceMs: number, now: number): { changed: boolean; closeAt: number | null } {
  const before = s.next;
  const sentBefore = s.sentCount;
  const pausedBefore = s.pausedAt;
  let closeAt: number | null = null;
  for (;;) {
    const first = source.first();
    if (s.next < first) {
      ws.send(wsGapFrame(s.next, first));
      skipTo(s, first);
    }
    const end = source.next();
    if (s.next >= end) break;
    const batch = source.readFrom(s.next, SEND_CHUNK_MESSAGES);
    if (batch.length === 0) {
      skipTo(s, end); // the rest was compacted away
      break;
    }
    let count = 0;
    let bytes = 0;
    let full = false;
    for (const m of batch) {
      const size = m.bytes + FRAME_OVERHEAD;
      if (!fits(s, count + 1, bytes + size, window)) {
        full = true;
        break;
      }
      ws.send((m.frame ??= wsMessageFrame(m.json)));
      count++;
      bytes += size;
      s.next = m.offset + 1;
    }
    recordSent(s, s.next, count, bytes);
    if (full) {
      closeAt = pause(s, now, graceMs);
      break;
    }
  }
  return { changed: s.next !== before || s.sentCount !== sentBefore || s.pausedAt !== pausedBefore, closeAt };
}
