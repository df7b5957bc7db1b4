/**
 * Acks, nacks and extends a queue consumer sends over its socket, coalesced into as few
 * frames as the server's per-socket frame rate allows: sent at once while the budget
 * lasts, batched when it runs low, so a fast consumer is never closed for flooding
 * (close code 4029). Uses the server's own limits and token bucket (protocol/sockets.ts).
 *
 * The server answers every ack, nack and extend frame, in order, with a `result` frame
 * (or an `error` frame when it refused it), so the outbox remembers what each frame
 * carried and tells its owner, receipt by receipt, what became of it: that is how the
 * consumer learns which leases an extend kept and which it lost.
 */
import { FRAME_BURST, FRAMES_PER_SECOND } from "../protocol/limits.js";
import { newFrameBudget, spendFrame } from "../protocol/sockets.js";
import type { Frame, Socket } from "./socket.js";

/** Most receipts in one frame (keeps frames far below the 1 MiB frame limit). */
export const RECEIPTS_PER_FRAME = 500;

export type ReceiptOp = "ack" | "nack" | "extend";

/** The `arg` of a pending nack that hands a message back unstarted (`attempted: false`); never a real delay. */
const HAND_BACK = -1;
type Op = ReceiptOp | "credit";

/** An ack, nack or extend frame that went out. */
export interface SentFrame {
  op: ReceiptOp;
  receipts: string[];
  /** `delay` of a nack, `visibilityTimeout` of an extend. */
  arg: number | undefined;
  /** When it was sent (ms, this machine's clock): an extend's lease runs from no earlier than this. */
  sentAt: number;
}

/** What became of a sent frame: the receipts the server failed, or the frame's refusal. */
export type AnswerListener = (sent: SentFrame, failed: ReadonlySet<string>, refused: Frame | undefined) => void;

interface Pending {
  op: Op;
  arg: number | undefined;
  receipts: string[];
}

export class Outbox {
  private readonly pending = new Map<string, Pending>();
  private readonly budget = newFrameBudget(Date.now());
  private timer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;
  /** Frames sent whose answer has not come back yet, oldest first. */
  private readonly unanswered: SentFrame[] = [];

  constructor(private readonly socket: Socket, private readonly onAnswer: AnswerListener = () => {}) {}

  ack(receipt: string): void {
    this.add("ack", undefined, receipt);
  }

  nack(receipt: string, delay: number): void {
    this.add("nack", delay, receipt);
  }

  /** Hands back a message the consumer never started: visible at once, the delivery not counted. */
  handBack(receipt: string): void {
    this.add("nack", HAND_BACK, receipt);
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

  /** The server answered the oldest unanswered frame with this `result` or `error` frame. */
  answered(frame: Frame): void {
    const sent = this.unanswered.shift();
    if (!sent) return;
    if (frame.type === "error") return this.onAnswer(sent, new Set(), frame);
    const failed = new Set<string>();
    if (Array.isArray(frame.failed)) {
      for (const f of frame.failed as unknown[]) {
        const receipt = (f as { receipt?: unknown } | null)?.receipt;
        if (typeof receipt === "string") failed.add(receipt);
      }
    }
    this.onAnswer(sent, failed, undefined);
  }

  /**
   * Resolves once every frame was sent and answered (so closing now cannot overtake an ack),
   * or after `timeoutMs`, or when the outbox is disposed.
   */
  async settled(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.pending.size > 0 || this.unanswered.length > 0) && !this.disposed && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.ceil(1000 / FRAMES_PER_SECOND)));
    }
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.timer);
    this.pending.clear();
    this.unanswered.length = 0;
  }

  private add(op: ReceiptOp, arg: number | undefined, receipt: string): void {
    if (this.disposed) return;
    const key = `${op}:${arg ?? ""}`;
    let entry = this.pending.get(key);
    if (!entry) this.pending.set(key, (entry = { op, arg, receipts: [] }));
    entry.receipts.push(receipt);
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
      if (entry.op === "credit") {
        this.socket.send({ type: "credit", n: entry.arg });
        continue;
      }
      const frame: Record<string, unknown> = { type: entry.op, receipts };
      if (entry.op === "nack") {
        frame.delay = entry.arg === HAND_BACK ? 0 : entry.arg;
        if (entry.arg === HAND_BACK) frame.attempted = false;
      }
      if (entry.op === "extend") frame.visibilityTimeout = entry.arg;
      if (this.socket.send(frame)) this.unanswered.push({ op: entry.op, receipts, arg: entry.arg, sentAt: now });
    }
    if (this.pending.size > 0) this.timer = setTimeout(() => this.flush(), Math.ceil(1000 / FRAMES_PER_SECOND));
  }
}
