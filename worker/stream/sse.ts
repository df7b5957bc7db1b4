/**
 * A Durable Stream read as Server-Sent Events (`?live=sse`, PROTOCOL.md §5.8). The Worker
 * holds the connection and pulls from the stream's partition object with long-poll reads,
 * so the object keeps no per-connection state: each `data` event (JSON mode: one array of
 * messages; text: its lines; any other type: base64, with `Stream-SSE-Data-Encoding:
 * base64` on the response) is followed by a `control` event with the next offset, the
 * cursor and `upToDate`, or `streamClosed` once a closed stream is read to its end, after
 * which the connection ends. An idle connection gets a `control` event every wait, and
 * every connection ends after about a minute (clients reconnect from the last offset).
 * Payload lines never begin an event of their own: a CR, LF or CRLF inside the data
 * starts another `data:` line of the same event.
 */
import type { Result } from "../../protocol/errors";
import { isJsonType, isTextType, toBase64 } from "../../durable-objects/topic/stream/payload";
import type { ReadStreamOutcome } from "../../durable-objects/topic/stream/types";
import { H } from "./headers";

export interface SseOptions {
  /** A connection ends this long after it opened (the protocol asks for about 60 s). */
  lifetimeMs: number;
  /** How long one read waits at the tail before an idle `control` event. */
  waitMs: number;
}

export const SSE_DEFAULTS: SseOptions = { lifetimeMs: 55_000, waitMs: 15_000 };

/** Binary streams are base64 in SSE; text and JSON streams are UTF-8 text. */
export function sseUsesBase64(contentType: string): boolean {
  return !isJsonType(contentType) && !isTextType(contentType);
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function dataEvent(contentType: string, payload: Uint8Array): string {
  const text = sseUsesBase64(contentType) ? toBase64(payload) : decoder.decode(payload);
  return `event: data\n${text.split(/\r\n|\r|\n/).map((line) => `data:${line}`).join("\n")}\n\n`;
}

function controlEvent(r: ReadStreamOutcome, cursor: string): string {
  const control: Record<string, unknown> = { streamNextOffset: r.next };
  if (r.closed && r.upToDate) {
    // No reconnect follows a closed stream, so no cursor.
    control.streamClosed = true;
    control.upToDate = true;
  } else {
    control.streamCursor = cursor;
    if (r.upToDate) control.upToDate = true;
  }
  return `event: control\ndata:${JSON.stringify(control)}\n\n`;
}

/** The events for one read: its data (if any), then its control event. */
function eventsFor(r: ReadStreamOutcome, cursor: string): string {
  return (r.empty ? "" : dataEvent(r.contentType, r.payload)) + controlEvent(r, cursor);
}

/**
 * The `text/event-stream` response, starting from `first` (the catch-up read the request
 * made, so errors were answered with a status before any event). `read` reads on from an
 * offset, waiting at the tail up to `waitMs`.
 */
export function sseResponse(
  first: ReadStreamOutcome,
  read: (offset: string, waitMs: number) => Promise<Result<ReadStreamOutcome>>,
  cursor: () => string,
  options: SseOptions = SSE_DEFAULTS,
): Response {
  const endAt = Date.now() + options.lifetimeMs;
  let current: ReadStreamOutcome | null = null;
  let cancelled = false;
  const finished = (r: ReadStreamOutcome): boolean => r.closed && r.upToDate;

  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (current === null) {
          current = first;
        } else {
          const remaining = endAt - Date.now();
          if (cancelled || remaining <= 0) {
            controller.close();
            return;
          }
          const r = await read(current.next, current.upToDate ? Math.min(options.waitMs, remaining) : 0);
          if (cancelled) return;
          if (!r.ok) {
            // Deleted or expired meanwhile: the reconnect learns why.
            controller.close();
            return;
          }
          current = r.value;
        }
        controller.enqueue(encoder.encode(eventsFor(current, cursor())));
        if (finished(current)) controller.close();
      },
      cancel() {
        cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  const headers: Record<string, string> = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache, no-transform",
  };
  if (sseUsesBase64(first.contentType)) headers[H.sseEncoding] = "base64";
  return new Response(body, { status: 200, headers });
}
