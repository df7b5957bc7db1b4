/**
 * Acks, nacks and extends a queue consumer sends over its socket, coalesced into as few
 * frames as the server's per-socket frame rate allows: sent at once while the budget
 * lasts, batched when it runs low, so a fast consumer is never closed for flooding
 * (close code 4029). Uses the server's own limits and token bucket (protocol/sockets.ts).
 */
import { FRAME_BURST, FRAMES_PER_SECOND } from "../protocol/limits";
import { newFrameBudget, spendFrame } from "../protocol/sockets";
import type { Socket } from "./socket";

/** Most receipts in one frame (keeps frames far below the 1 MiB frame limit). */
export const RECEIPTS_PER_FRAME = 500;

type Op = "ack" | "nack" | "extend" | "credit";

export class Outbox {
  private readonly pending = new Map<string, { op: Op; arg?: number; receipts: string[] }>();
  private readonly budget = newFrameBudget(Date.now());
  private timer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;
  /** Frames sent whose `result` has not come back yet. */
  private unanswered = 0;

  constructor(private readonly socket: Socket) {}

  ack(receipt: string): void {
    this.add("ack", undefined, receipt);
  }

  nack(receipt: string, delay: number): void {
    this.add("nack", delay, receipt);
  }

  extend(receipt: string, visibilityTimeout: number): void {
    this.add("extend", visibilityTimeout, receipt);
  }

  /** Sets the credit window; only the latest value waiting is sent. */
  credit(n: number): void {
    this.pending.set("credit", { op: "credit", arg: n, receipts: [] });
    this.flush();
  }

  /** Sends a frame at once (the first credit, the last one on stop), spending from the same budget. */
  sendNow(frame: Record<string, unknown>): boolean {
    spendFrame(this.budget, Date.now());
    return this.socket.send(frame);
  }

  /** The server answered one ack, nack or extend frame (with a `result` frame). */
  answered(): void {
    if (this.unanswered > 0) this.unanswered--;
  }

  /**
   * Resolves once every frame was sent and answered (so closing now cannot overtake an ack),
   * or after `timeoutMs`, or when the outbox is disposed.
   */
  async settled(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.pending.size > 0 || this.unanswered > 0) && !this.disposed && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.ceil(1000 / FRAMES_PER_SECOND)));
    }
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.timer);
    this.pending.clear();
  }

  private add(op: Op, arg: number | undefined, receipt: string): void {
    const key = `${op}:${arg ?? ""}`;
    const entry = this.pending.get(key) ?? { op, arg, receipts: [] };
    entry.receipts.push(receipt);
    this.pending.set(key, entry);
    this.flush();
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const [key, entry] of this.pending) {
      // Keep a token in reserve for credit frames and for the server's clock running behind ours.
      const now = Date.now();
      const tokens = Math.min(FRAME_BURST, this.budget.tokens + ((now - this.budget.at) / 1000) * FRAMES_PER_SECOND);
      if (tokens < 2) break;
      spendFrame(this.budget, now);
      const receipts = entry.receipts.splice(0, RECEIPTS_PER_FRAME);
      if (entry.receipts.length === 0) this.pending.delete(key);
      const frame: Record<string, unknown> = entry.op === "credit" ? { type: "credit", n: entry.arg } : { type: entry.op, receipts };
      if (entry.op === "nack") frame.delay = entry.arg;
      if (entry.op === "extend") frame.visibilityTimeout = entry.arg;
      if (this.socket.send(frame) && entry.op !== "credit") this.unanswered++;
    }
    if (this.pending.size > 0) this.timer = setTimeout(() => this.flush(), Math.ceil(1000 / FRAMES_PER_SECOND));
  }
}
