/**
 * The V8 heap of Spool's isolate, read over workerd's inspector (Chrome DevTools protocol)
 * after a full collection: what JavaScript holds, and the ArrayBuffer backing stores it keeps
 * outside the heap. Beside the process's RSS it tells a leak in Spool's code (these grow)
 * from memory the runtime holds natively (they stay flat while RSS grows).
 */
import WebSocket from "ws";

export interface HeapUsage {
  /** Live JavaScript objects after a full GC. */
  usedBytes: number;
  /** The heap's committed size. */
  totalBytes: number;
  /** ArrayBuffer backing stores (outside the heap; 0 when the runtime does not report them). */
  backingStoreBytes: number;
}

export class HeapInspector {
  #nextId = 1;
  readonly #pending = new Map<number, (result: unknown) => void>();
  readonly #ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on("message", (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as { id?: number; result?: unknown };
      if (msg.id !== undefined) this.#pending.get(msg.id)?.(msg.result);
    });
  }

  static async connect(port: number, target: string): Promise<HeapInspector> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/${target}`, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return new HeapInspector(ws);
  }

  #send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${method}: inspector did not answer`)), 60_000);
      this.#pending.set(id, (r) => {
        clearTimeout(timer);
        this.#pending.delete(id);
        resolve(r);
      });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async usage(): Promise<HeapUsage> {
    await this.#send("HeapProfiler.collectGarbage");
    const r = (await this.#send("Runtime.getHeapUsage")) as { usedSize: number; totalSize: number; backingStorageSize?: number };
    return { usedBytes: r.usedSize, totalBytes: r.totalSize, backingStoreBytes: r.backingStorageSize ?? 0 };
  }

  close(): void {
    this.#ws.close();
  }
}
