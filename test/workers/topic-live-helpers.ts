/** Helpers for live-subscription tests: a WebSocket subscriber that records its frames, and SSE reading. */
import { exports } from "cloudflare:workers";
import { ADMIN_KEY, BASE } from "./helpers";

export interface Frame {
  type: string;
  [k: string]: unknown;
}

/** A subscriber socket as a client holds it: every frame it got, in order, and how it closed. */
export class Subscriber {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | null = null;
  private listeners = new Set<() => void>();

  constructor(readonly ws: WebSocket, private readonly autoAck: number | null) {
    ws.addEventListener("message", (e) => {
      const f = JSON.parse(String(e.data)) as Frame;
      this.frames.push(f);
      if (this.autoAck !== null && f.type === "message" && this.offsets().length % this.autoAck === 0) this.ack(f.offset as number);
      this.notify();
    });
    ws.addEventListener("close", (e) => {
      this.closed = { code: e.code, reason: e.reason };
      this.notify();
    });
  }

  /** Offsets of the `message` frames, in arrival order. */
  offsets(): number[] {
    return this.frames.filter((f) => f.type === "message").map((f) => f.offset as number);
  }

  ofType(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  ack(offset: number): void {
    this.ws.send(JSON.stringify({ type: "ack", offset }));
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Resolves when `done()` holds; rejects after `ms` (a hang, not a timing assertion). */
  until(done: () => boolean, what = "condition", ms = 15_000): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        const last = this.frames.at(-1);
        const summary = `${this.offsets().length} messages, last frame ${last ? JSON.stringify(last).slice(0, 200) : "none"}`;
        reject(new Error(`timed out waiting for ${what}; ${summary}; closed: ${JSON.stringify(this.closed)}`));
      }, ms);
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve();
      };
      this.listeners.add(check);
    });
  }

  untilOffsets(n: number): Promise<void> {
    return this.until(() => this.offsets().length >= n, `${n} messages`);
  }

  untilClosed(): Promise<void> {
    return this.until(() => this.closed !== null, "close");
  }

  close(): void {
    try {
      this.ws.close(1000, "bye");
    } catch {
      // already closed
    }
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}

export interface SubscribeOptions {
  /** Bearer credential (header); defaults to the admin key. */
  auth?: string | null;
  /** Ack every N messages (null: never ack, the stalled client). Default 100. */
  autoAck?: number | null;
}

/** Upgrade request to `/subscribe`; returns the raw response (for error cases). */
export function upgrade(topic: string, query: string, auth: string | null = ADMIN_KEY): Promise<Response> {
  const headers: Record<string, string> = { upgrade: "websocket" };
  if (auth !== null) headers.authorization = `Bearer ${auth}`;
  return exports.default.fetch(new Request(`${BASE}/v1/topics/${topic}/subscribe${query ? `?${query}` : ""}`, { headers }));
}

export async function subscribe(topic: string, query = "", options: SubscribeOptions = {}): Promise<Subscriber> {
  const res = await upgrade(topic, query, options.auth === undefined ? ADMIN_KEY : options.auth);
  if (res.status !== 101 || !res.webSocket) throw new Error(`subscribe failed: ${res.status} ${await res.text()}`);
  res.webSocket.accept();
  return new Subscriber(res.webSocket, options.autoAck === undefined ? 100 : options.autoAck);
}

export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** Reads an SSE response incrementally, parsing events (and comments) as they come. */
export class SseReader {
  readonly events: SseEvent[] = [];
  done = false;
  private buffer = "";
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();

  constructor(res: Response) {
    this.reader = res.body!.getReader();
  }

  /** Messages (events with data and no `event:` name) as parsed objects. */
  messages(): { id: string; data: Record<string, unknown> }[] {
    return this.events.filter((e) => e.data !== undefined && e.event === undefined)
      .map((e) => ({ id: e.id!, data: JSON.parse(e.data!) as Record<string, unknown> }));
  }

  /** Reads until `done()` holds or the stream ends. */
  async until(done: () => boolean): Promise<void> {
    while (!done() && !this.done) {
      const { value, done: end } = await this.reader.read();
      if (end) {
        this.done = true;
        break;
      }
      this.buffer += this.decoder.decode(value, { stream: true });
      let at: number;
      while ((at = this.buffer.indexOf("\n\n")) >= 0) {
        const block = this.buffer.slice(0, at);
        this.buffer = this.buffer.slice(at + 2);
        const ev: SseEvent = {};
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) ev.comment = line.slice(1).trim();
          else {
            const i = line.indexOf(":");
            const field = line.slice(0, i);
            const v = line.slice(i + 1).replace(/^ /, "");
            if (field === "id" || field === "event" || field === "data") ev[field] = v;
          }
        }
        this.events.push(ev);
      }
    }
  }

  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => undefined);
  }
}

export async function events(topic: string, query = "", headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(new Request(`${BASE}/v1/topics/${topic}/events${query ? `?${query}` : ""}`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...headers },
  }));
}
