/**
 * What consumers have in common: the handler signature, and a runner that keeps at most
 * `concurrency` handlers going at once over a local buffer of delivered messages.
 */

/** Context given to a handler: `signal` aborts when its delivery is no longer ours (a queue consumer's connection dropped) or its consumer is stopping. */
export interface HandlerContext {
  signal: AbortSignal;
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

/** What queue consumers and group consumers share: counts, and a stop that runs once. */
export abstract class ConsumerBase implements AsyncDisposable {
  /** Resolves when the consumer has stopped: undefined after `stop()`, or the error that ended it. */
  abstract readonly closed: Promise<Error | undefined>;
  /** Messages whose handler resolved, and whose handler threw. */
  readonly counts = { processed: 0, failed: 0 };
  private stopping: Promise<void> | undefined;

  /** The graceful shutdown; called once, by the first `stop()`. */
  protected abstract shutdown(): Promise<void>;

  protected get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** Stops taking messages, lets running handlers finish (and ack), then disconnects. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  close(): Promise<void> {
    return this.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
