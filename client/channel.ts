/**
 * A push-to-pull bridge: producers `push` items, one consumer pulls them with
 * `for await`. It ends cleanly (`end`) or with an error (`fail`) once what was pushed
 * before has been taken, and tells its owner when the consumer stops early (`return`) or
 * takes items (so a stream can apply backpressure).
 */
export interface ChannelHooks<T> {
  /** The consumer left the loop early (`break`, `return`, a throw in the loop body). */
  onReturn?: (() => void) | undefined;
  /** An item was taken; `size` is what remains buffered. */
  onTake?: ((item: T, size: number) => void) | undefined;
}

export class Channel<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private readonly waiters: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }[] = [];
  private done = false;
  private failure: { error: unknown } | undefined;

  constructor(private readonly hooks: ChannelHooks<T> = {}) {}

  /** Items buffered and not yet taken. */
  get size(): number {
    return this.items.length;
  }

  /** True once `end`, `fail` or `return` was called. */
  get finished(): boolean {
    return this.done;
  }

  push(item: T): void {
    if (this.done) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.resolve({ value: item, done: false });
      this.hooks.onTake?.(item, 0);
    } else this.items.push(item);
  }

  /** No more items: the consumer's loop ends after the buffered ones. */
  end(): void {
    if (this.done) return;
    this.done = true;
    for (const w of this.waiters.splice(0)) w.resolve({ value: undefined, done: true });
  }

  /** The consumer's loop throws `error` after the buffered items. */
  fail(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.failure = { error };
    for (const w of this.waiters.splice(0)) w.reject(error);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) {
      const value = this.items.shift()!;
      this.hooks.onTake?.(value, this.items.length);
      return Promise.resolve({ value, done: false });
    }
    if (this.failure) {
      const { error } = this.failure;
      this.failure = undefined; // thrown once; later calls see the end
      return Promise.reject(error);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.items.length = 0;
    this.failure = undefined;
    if (!this.done) {
      this.end();
      this.hooks.onReturn?.();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
