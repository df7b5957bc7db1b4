/**
 * Server-Sent Events streams of a partition (`/events`).
 *
 * A stream is pull-based: the runtime asks for the next chunk only when the client has
 * taken the previous one, and each chunk is read from the log (or the shared frame cache)
 * at that moment. So a slow reader costs at most one chunk of memory and simply reads the
 * log at its own pace; nothing is queued for it. Because a client that drops a stream is
 * invisible to the object locally (no abort, writes do not fail), every stream ends after
 * a bounded lifetime; EventSource reconnects by itself with `Last-Event-ID`. Comment
 * heartbeats keep proxies from closing idle streams. `SseStreams` keeps a partition's open
 * streams and wakes them on appends.
 *
 * A stream opened with a token ends with it: at the token's expiry the stream sends
 * `event: error` with `{"code":"UNAUTHORIZED"}` and ends (EventSource then reconnects with
 * the expired token and gets 401, so a page fetches a new one). The check comes before
 * anything else in each chunk, so nothing is delivered after the expiry; a waiting stream
 * wakes at it by itself, and the partition's alarm wakes it too (`SseStreams.endExpired`).
 */
import { now } from "../../shared/clock";
import { WakeList } from "../../shared/wake-list";
import { sseGapEvent, sseMessageEvent, type CachedMessage } from "./frames";

export interface SseOptions {
  /** An idle stream sends a comment this often. */
  heartbeatMs: number;
  /** A stream ends this long after it started (the client reconnects with Last-Event-ID). */
  lifetimeMs: number;
  /** Upper bound of one chunk handed to the runtime. */
  chunkBytes: number;
  /** The reconnect delay the stream asks EventSource to use. */
  retryMs: number;
}

export const SSE_DEFAULTS: SseOptions = {
  heartbeatMs: 15_000,
  lifetimeMs: 5 * 60_000,
  chunkBytes: 64 * 1024,
  retryMs: 1_000,
};

const MESSAGES_PER_CHUNK = 100;

/** What a stream needs from its partition. */
export interface SseSource {
  first(): number;
  next(): number;
  /**
   * Messages from `offset` on (cached or read from the log), at most `max`; a relay may have
   * to fetch them from its partition first (a promise). Empty: nothing kept before `next()`.
   */
  readFrom(offset: number, max: number): CachedMessage[] | Promise<CachedMessage[]>;
  /** Resolves true on the next append, false after `ms`. */
  waitForAppend(ms: number): Promise<boolean>;
}

export interface SseHandle {
  stream: ReadableStream<Uint8Array>;
  /** Ends the stream at its next chunk (topic deleted). */
  end(): void;
  /** When the credential that opened the stream expires (objects' clock, ms), or null. */
  expiresAt: number | null;
}

/** The last event of a stream whose token expired. */
export const SSE_EXPIRED_EVENT = `event: error\ndata: ${JSON.stringify({ code: "UNAUTHORIZED" })}\n\n`;

/**
 * A stream starting at offset `next`; `gapFrom` (below the first kept offset) makes the
 * stream open with a `gap` event; it ends with an error event at `expiresAt` (null: its
 * credential does not expire). `onEnd` runs once, however the stream ends.
 */
export function openSseStream(
  source: SseSource, next: number, gapFrom: number | null, expiresAt: number | null, options: SseOptions, onEnd: () => void,
): SseHandle {
  const encoder = new TextEncoder();
  const endAt = now() + options.lifetimeMs;
  let opened = false;
  let ended = false;
  const finish = (): void => {
    if (ended) return;
    ended = true;
    onEnd();
  };

  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let text = "";
        if (!opened) {
          // Sent at once so the response starts flowing (and EventSource learns `retry`).
          opened = true;
          text += `retry: ${options.retryMs}\n: subscribed\n\n`;
          if (gapFrom !== null) text += sseGapEvent(gapFrom, next);
        }
        for (;;) {
          const at = now();
          const expired = expiresAt !== null && at >= expiresAt;
          if (ended || at >= endAt || expired) {
            // `text` holds only what was read before this check: nothing read after the expiry.
            if (expired) text += SSE_EXPIRED_EVENT;
            if (text) controller.enqueue(encoder.encode(text));
            controller.close();
            finish();
            return;
          }
          const first = source.first();
          if (next < first) {
            text += sseGapEvent(next, first);
            next = first;
          }
          if (next < source.next()) {
            const read = source.readFrom(next, MESSAGES_PER_CHUNK);
            const messages = Array.isArray(read) ? read : await read;
            // A fetch took time: the credential may have expired meanwhile (checked above).
            if (read !== messages && expiresAt !== null && now() >= expiresAt) continue;
            if (messages.length === 0) next = source.next(); // the rest was compacted away
            for (const m of messages) {
              text += (m.sse ??= sseMessageEvent(m.offset, m.json));
              next = m.offset + 1;
              if (text.length >= options.chunkBytes) break;
            }
          }
          if (text) {
            controller.enqueue(encoder.encode(text));
            return;
          }
          const until = Math.min(endAt, expiresAt ?? Infinity);
          const appended = await source.waitForAppend(Math.max(0, Math.min(options.heartbeatMs, until - now())));
          if (!appended && !ended && now() < until) {
            controller.enqueue(encoder.encode(": heartbeat\n\n"));
            return;
          }
        }
      },
      cancel() {
        finish();
      },
    },
    { highWaterMark: 1 },
  );
  return { stream, end: () => { ended = true; }, expiresAt };
}

/**
 * A partition's open SSE streams (in memory: a stream dies with the instance) and the
 * appends they wait for.
 */
export class SseStreams {
  private readonly open = new Set<SseHandle>();
  private readonly waiters = new WakeList();

  /**
   * `options` is read at each stream's start, so a test may change it in place; `onChange`
   * runs when a stream opens or ends (a relay registers and unregisters on it).
   */
  constructor(private readonly options: SseOptions, private readonly onChange: () => void = () => {}) {}

  get count(): number {
    return this.open.size;
  }

  /** The earliest credential expiry of an open stream (ms), or null. */
  nextExpiry(): number | null {
    let earliest: number | null = null;
    for (const s of this.open) if (s.expiresAt !== null && (earliest === null || s.expiresAt < earliest)) earliest = s.expiresAt;
    return earliest;
  }

  /** Wakes the streams when one's credential expired by `now`: it sends its error event and ends. */
  endExpired(now: number): void {
    for (const s of this.open) {
      if (s.expiresAt !== null && s.expiresAt <= now) return this.wake();
    }
  }

  /** The `text/event-stream` response of a stream starting at `next` (`gapFrom`, `expiresAt`: see openSseStream). */
  respond(source: Omit<SseSource, "waitForAppend">, next: number, gapFrom: number | null, expiresAt: number | null): Response {
    // The stream may end (and call back) before openSseStream has even returned.
    let ended = false;
    let handle: SseHandle | null = null;
    handle = openSseStream({ ...source, waitForAppend: (ms) => this.waitForAppend(ms) }, next, gapFrom, expiresAt, this.options, () => {
      ended = true;
      if (handle && this.open.delete(handle)) this.onChange();
    });
    if (!ended) {
      this.open.add(handle);
      this.onChange();
    }
    return new Response(handle.stream, {
      headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache, no-transform" },
    });
  }

  /** Something was appended (or the topic is going away): every waiting stream looks again. */
  wake(): void {
    this.waiters.wake();
  }

  /** Ends every stream at its next chunk (topic deleted). */
  endAll(): void {
    for (const s of this.open) s.end();
    this.wake();
  }

  private waitForAppend(ms: number): Promise<boolean> {
    return this.waiters.wait(ms);
  }
}
