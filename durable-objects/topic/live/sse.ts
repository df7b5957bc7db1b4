/**
 * Server-Sent Events streams of a partition (`/events`).
 *
 * A stream is pull-based: the runtime asks for the next chunk only when the client has
 * taken the previous one, and each chunk is read from the log (or the shared frame cache)
 * at that moment. So a slow reader costs at most one chunk of memory and simply reads the
 * log at its own pace; nothing is queued for it. Because a client that drops a stream is
 * invisible to the object locally (no abort, writes do not fail), every stream ends after
 * a bounded lifetime; EventSource reconnects by itself with `Last-Event-ID`. Comment
 * heartbeats keep proxies from closing idle streams.
 */
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
  /** Messages from `offset` on (cached or read from the log), at most `max`. */
  readFrom(offset: number, max: number): CachedMessage[];
  /** Resolves true on the next append, false after `ms`. */
  waitForAppend(ms: number): Promise<boolean>;
}

export interface SseHandle {
  stream: ReadableStream<Uint8Array>;
  /** Ends the stream at its next chunk (topic deleted). */
  end(): void;
}

/**
 * A stream starting at offset `next`; `gapFrom` (below the first kept offset) makes the
 * stream open with a `gap` event. `onEnd` runs once, however the stream ends.
 */
export function openSseStream(source: SseSource, next: number, gapFrom: number | null, options: SseOptions, onEnd: () => void): SseHandle {
  const encoder = new TextEncoder();
  const endAt = Date.now() + options.lifetimeMs;
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
          if (ended || Date.now() >= endAt) {
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
            const messages = source.readFrom(next, MESSAGES_PER_CHUNK);
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
          const appended = await source.waitForAppend(Math.max(0, Math.min(options.heartbeatMs, endAt - Date.now())));
          if (!appended && !ended && Date.now() < endAt) {
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
  return { stream, end: () => { ended = true; } };
}
