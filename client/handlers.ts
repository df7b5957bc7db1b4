/**
 * What consumers have in common: the handler signature, and a runner that keeps at most
 * `concurrency` handlers going at once over a local buffer of delivered messages.
 */

/** What a handler is given beside its message. */
export interface HandlerContext {
  /**
   * Aborts when the message is no longer this handler's to finish: its lease was lost (an
   * extend failed or the lease ran out), the connection that delivered it dropped, or (for
   * group consumers) the consumer was closed. An aborted handler's message is not acked.
   */
  signal: AbortSignal;
  /**
   * Set by `idempotent()`: a key unique to this message (stable across redeliveries) to hand
   * to the effect itself (a payment API's idempotency key, a unique constraint), so that even
   * the one case the store cannot cover — a crash between the effect and its record — does
   * not repeat the effect.
   */
  idempotencyKey?: string | undefined;
}

/** Resolving acknowledges the message; throwing (or rejecting) hands it back for redelivery. */
export type MessageHandler<M> = (message: M, context: HandlerContext) => unknown;

/** Runs handlers over queued items, at most `concurrency` at a time. */
export class HandlerPool<M> {
  private readonly waiting: M[] = [];
  private readonly running = new Set<Promise<void>>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly run: (item: M) => Promise<void>,
  ) {}

  /** Items delivered and not yet started. */
  get pending(): number {
    return this.waiting.length;
  }

  get active(): number {
    return this.running.size;
  }

  add(item: M): void {
    this.waiting.push(item);
    this.pump();
  }

  /** Removes the items not yet started (those matching `which`, default all) and returns them. */
  drain(which: (item: M) => boolean = () => true): M[] {
    const taken = this.waiting.filter(which);
    const kept = this.waiting.filter((item) => !which(item));
    this.waiting.splice(0, this.waiting.length, ...kept);
    return taken;
  }

  /** Resolves once no handler is running. */
  idle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Resolves once a slot is free. */
  async slot(): Promise<void> {
    while (this.running.size >= this.concurrency) await Promise.race(this.running);
  }

  private pump(): void {
    while (this.running.size < this.concurrency && this.waiting.length > 0) {
      const item = this.waiting.shift()!;
      const p: Promise<void> = this.run(item)
        .catch(() => {})
        .finally(() => {
          this.running.delete(p);
          if (this.running.size === 0) for (const w of this.idleWaiters.splice(0)) w();
          this.pump();
        });
      this.running.add(p);
    }
  }
}

/** Runs a handler, turning a synchronous throw into a rejection. */
export async function invoke<M>(handler: MessageHandler<M>, message: M, context: HandlerContext): Promise<void> {
  await handler(message, context);
}

/** What queue consumers and group consumers share: counts, and a close that runs once. */
export abstract class ConsumerBase implements AsyncDisposable {
  /** Resolves when the consumer has stopped: undefined after `close()`, or the error that ended it. */
  abstract readonly closed: Promise<Error | undefined>;
  /** Messages whose handler resolved, whose handler threw, and whose lease was lost before they were settled. */
  readonly counts = { processed: 0, failed: 0, lost: 0 };
  private closing: Promise<void> | undefined;

  /** The graceful shutdown; called once, by the first `close()`. */
  protected abstract shutdown(): Promise<void>;

  protected get isStopping(): boolean {
    return this.closing !== undefined;
  }

  /** Stops taking messages, hands back what was not started, lets running handlers finish (and ack), then disconnects. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** @deprecated Use `close()` (or `await using`); kept for one release. */
  stop(): Promise<void> {
    return this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
