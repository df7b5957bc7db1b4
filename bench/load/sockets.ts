/**
 * Opening many WebSocket subscribers from one generator process, a bounded number at a
 * time, and closing them all. Used by the fan-out and memory scenarios.
 */
import WebSocket from "ws";

export interface Subscriber {
  ws: WebSocket;
  index: number;
  frames: number;
  closedEarly: boolean;
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
      const sub: Subscriber = { ws, index, frames: 0, closedEarly: false };
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
        onFrame(sub, data);
      });
      ws.on("close", () => {
        sub.closedEarly = true;
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
