/**
 * Opening many WebSocket subscribers from one generator process, a bounded number at a
 * time, and closing them all. Used by the fan-out and memory scenarios.
 */
import WebSocket from "ws";

export interface Subscriber {
  ws: WebSocket;
  index: number;
  frames: number;
  /** Highest message offset seen, and the last one confirmed to the server. */
  offset: number;
  confirmed: number;
  /** Set when the server closed the socket before the bench did: `code reason`. */
  closedEarly: string | null;
}

/** Where the offset sits in a message frame (`{"type":"message","partition":0,"offset":12,...`). */
const OFFSET_KEY = '"offset":';

/** The offset of a message frame without parsing the whole frame, or -1. */
export function frameOffset(data: Buffer): number {
  const text = data.toString("latin1", 0, Math.min(data.length, 96));
  const at = text.indexOf(OFFSET_KEY);
  return at < 0 ? -1 : parseInt(text.slice(at + OFFSET_KEY.length), 10);
}

/**
 * Confirms every subscriber's progress every `intervalMs`, as Spool's client SDK does
 * (`{"type":"ack","offset":n}`): Spool's flow control pauses a subscriber that never
 * confirms. Returns a stop function.
 */
export function confirmProgress(subs: Subscriber[], intervalMs = 50): () => void {
  const timer = setInterval(() => {
    for (const s of subs) {
      if (s.offset > s.confirmed && s.ws.readyState === WebSocket.OPEN) {
        s.ws.send(`{"type":"ack","offset":${s.offset}}`);
        s.confirmed = s.offset;
      }
    }
  }, intervalMs);
  return () => clearInterval(timer);
}

/** Opens `count` sockets to `url` (50 at a time); `onFrame` sees every frame of every socket. */
export async function openSubscribers(
  url: string,
  headers: Record<string, string>,
  count: number,
  onFrame: (sub: Subscriber, data: Buffer) => void,
  timeoutMs = 60_000,
): Promise<Subscriber[]> {
  const subs: Subscriber[] = [];
  const deadline = Date.now() + timeoutMs;
  for (let start = 0; start < count; start += 50) {
    const batch = Array.from({ length: Math.min(50, count - start) }, (_, k) => start + k);
    await Promise.all(batch.map((index) => new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url, { headers, perMessageDeflate: false });
      const sub: Subscriber = { ws, index, frames: 0, offset: -1, confirmed: -1, closedEarly: null };
      const timer = setTimeout(() => reject(new Error(`socket ${index} did not open`)), Math.max(1000, deadline - Date.now()));
      ws.once("open", () => {
        clearTimeout(timer);
        subs.push(sub);
        resolve();
      });
      ws.once("unexpected-response", (_req, res) => {
        clearTimeout(timer);
        reject(new Error(`socket ${index}: HTTP ${res.statusCode} on upgrade`));
      });
      ws.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      ws.on("message", (data: Buffer) => {
        sub.frames++;
        const offset = frameOffset(data);
        if (offset > sub.offset) sub.offset = offset;
        onFrame(sub, data);
      });
      ws.on("close", (code: number, reason: Buffer) => {
        sub.closedEarly = `${code} ${reason.toString().slice(0, 80)}`;
      });
    })));
  }
  return subs.sort((a, b) => a.index - b.index);
}

/** Closes every socket and waits (at most `timeoutMs`) for the closes to finish. */
export async function closeSubscribers(subs: Subscriber[], timeoutMs = 5_000): Promise<void> {
  for (const s of subs) s.ws.removeAllListeners("close");
  await Promise.race([
    Promise.all(subs.map((s) => new Promise<void>((resolve) => {
      if (s.ws.readyState === WebSocket.CLOSED) return resolve();
      s.ws.once("close", () => resolve());
      s.ws.close(1000, "bench done");
    }))),
    new Promise((r) => setTimeout(r, timeoutMs)),
  ]);
  for (const s of subs) s.ws.terminate();
}

/** The ws:// form of an http:// URL. */
export function wsUrl(httpUrl: string, path: string): string {
  return `${httpUrl.replace(/^http/, "ws")}${path}`;
}
