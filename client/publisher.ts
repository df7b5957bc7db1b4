/**
 * Automatic batching of single publishes: messages published within PUBLISH_LINGER_MS of
 * each other travel in one request (fewer round trips, one SQL transaction per partition).
 * Each caller still gets its own result. Because a topic batch is validated whole, a batch
 * the server rejects as invalid is retried message by message, so one caller's bad message
 * fails only that caller. Ids are set before batching, so every retry is deduplicated.
 */
import { InvalidRequestError } from "./errors.js";
import type { PublishResult, TopicMessageInput } from "./types.js";

/** How long a publish waits for company before its batch is sent. */
export const PUBLISH_LINGER_MS = 5;
/** Most messages per batch (the API's limit). */
export const PUBLISH_MAX_BATCH = 1000;
/** Most JSON bytes per batch, far below the request body limit. */
export const PUBLISH_MAX_BATCH_BYTES = 1_000_000;

export interface BatchOptions {
  /** Milliseconds to wait for more messages (PUBLISH_LINGER_MS); 0 sends on the next tick. */
  lingerMs?: number | undefined;
  maxMessages?: number | undefined;
  maxBytes?: number | undefined;
}

type SendBatch = (messages: TopicMessageInput[]) => Promise<PublishResult[]>;

interface Pending {
  message: TopicMessageInput;
  bytes: number;
  resolve: (r: PublishResult) => void;
  reject: (e: unknown) => void;
}

export class PublishBatcher {
  private pending: Pending[] = [];
  private bytes = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly linger: number;
  private readonly maxMessages: number;
  private readonly maxBytes: number;

  constructor(private readonly sendBatch: SendBatch, options: BatchOptions = {}) {
    this.linger = Math.max(0, options.lingerMs ?? PUBLISH_LINGER_MS);
    this.maxMessages = Math.min(PUBLISH_MAX_BATCH, Math.max(1, options.maxMessages ?? PUBLISH_MAX_BATCH));
    this.maxBytes = Math.max(1, options.maxBytes ?? PUBLISH_MAX_BATCH_BYTES);
  }

  add(message: TopicMessageInput): Promise<PublishResult> {
    return new Promise((resolve, reject) => {
      const bytes = JSON.stringify(message).length;
      if (this.pending.length > 0 && this.bytes + bytes > this.maxBytes) this.flushNow();
      this.pending.push({ message, bytes, resolve, reject });
      this.bytes += bytes;
      if (this.pending.length >= this.maxMessages) this.flushNow();
      else this.timer ??= setTimeout(() => this.flushNow(), this.linger);
    });
  }

  /** Sends what is waiting and resolves when every batch sent so far has been answered. */
  async flush(): Promise<void> {
    this.flushNow();
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  private flushNow(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.bytes = 0;
    const p = this.deliver(batch).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  private async deliver(batch: Pending[]): Promise<void> {
    try {
      const results = await this.sendBatch(batch.map((p) => p.message));
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (err) {
      if (batch.length > 1 && err instanceof InvalidRequestError) {
        await Promise.all(batch.map((p) => this.deliver([p])));
      } else {
        for (const p of batch) p.reject(err);
      }
    }
  }
}
