/**
 * Server-Sent Events read with `fetch`, for networks that block WebSockets. `fetch` rather
 * than `EventSource` because it runs the same in browsers, Workers and Node (which has no
 * EventSource), sends the Authorization header, and lets the subscription own reconnects
 * and positions exactly as it does for WebSockets.
 */
import { ConnectionError } from "./errors.js";
import type { Http, Query } from "./http.js";
import type { CloseInfo } from "./socket.js";

/** A stream that sends nothing (not even a heartbeat comment) this long is presumed dead. */
export const SSE_IDLE_TIMEOUT_MS = 60_000;

export interface ServerSentEvent {
  /** The `event:` field; "message" when absent. */
  event: string;
  data: string;
  id?: string | undefined;
}

export interface EventStream {
  readonly closed: Promise<CloseInfo>;
  close(): void;
}

/** Opens the stream; resolves once the server answered 200 (errors are typed API errors). */
export async function openEventStream(http: Http, path: string, query: Query, onEvent: (event: ServerSentEvent) => void, signal?: AbortSignal): Promise<EventStream> {
  const ctrl = new AbortController();
  const onAbort = (): void => ctrl.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const res = await http.send("GET", path, { query, headers: { accept: "text/event-stream" }, signal: ctrl.signal, idempotent: true });
  if (!res.body) throw new ConnectionError({ code: "CONNECTION_FAILED", status: 0, message: "event stream has no body" });
  const reader = res.body.getReader();
  const closed = pump(reader, onEvent, ctrl).finally(() => signal?.removeEventListener("abort", onAbort));
  return { closed, close: () => ctrl.abort() };
}

async function pump(reader: ReadableStreamDefaultReader<Uint8Array>, onEvent: (e: ServerSentEvent) => void, ctrl: AbortController): Promise<CloseInfo> {
  const decoder = new TextDecoder();
  const parser = new EventParser(onEvent);
  let idle: ReturnType<typeof setTimeout> | undefined;
  const watchdog = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => ctrl.abort(), SSE_IDLE_TIMEOUT_MS);
  };
  ctrl.signal.addEventListener("abort", () => void reader.cancel().catch(() => {}), { once: true });
  try {
    watchdog();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      watchdog();
      parser.feed(decoder.decode(value, { stream: true }));
    }
    return { code: 1000, reason: "stream ended" };
  } catch {
    return { code: 1006, reason: ctrl.signal.aborted ? "aborted" : "stream failed" };
  } finally {
    clearTimeout(idle);
  }
}

/** The text/event-stream format: `field: value` lines, events separated by a blank line. */
export class EventParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private id: string | undefined;

  constructor(private readonly onEvent: (e: ServerSentEvent) => void) {}

  feed(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      if (nl === this.buffer.length - 1 && this.buffer.endsWith("\r")) break; // maybe half of \r\n
      const line = this.buffer.slice(0, nl);
      const sepLen = this.buffer.startsWith("\r\n", nl) ? 2 : 1;
      this.buffer = this.buffer.slice(nl + sepLen);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return; // comment: heartbeat
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
  }

  private dispatch(): void {
    if (this.data.length > 0) this.onEvent({ event: this.event || "message", data: this.data.join("\n"), id: this.id });
    this.data = [];
    this.event = "";
  }
}
