/**
 * A session on workerd's inspector (Chrome DevTools protocol) for one isolate: commands by id,
 * answers matched back. The CPU profiler (profile.ts) and the soak's heap readings use it.
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

export class Inspector {
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

  /** Connects to an isolate, e.g. `core:user:<worker>` (a Worker and all its objects share one). */
  static async connect(port: number, target: string): Promise<Inspector> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/${target}`, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return new Inspector(ws);
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
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

  /**
   * The heap after a full collection. Beside the process's RSS it tells a leak in JavaScript
   * (this grows) from memory the runtime holds natively (this stays flat while RSS grows).
   */
  async heapUsage(): Promise<HeapUsage> {
    await this.send("HeapProfiler.collectGarbage");
    const r = (await this.send("Runtime.getHeapUsage")) as { usedSize: number; totalSize: number; backingStorageSize?: number };
    return { usedBytes: r.usedSize, totalBytes: r.totalSize, backingStoreBytes: r.backingStorageSize ?? 0 };
  }

  close(): void {
    this.#ws.close();
  }
}
