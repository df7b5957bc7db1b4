/**
 * Waiting inside a Durable Object for "something changed" or a deadline, whichever comes
 * first (long polls, SSE streams waiting for the next append), without ever cancelling a timer.
 *
 * Why not one `setTimeout` per wait, cleared on wake: in workerd a timer cancelled with
 * `clearTimeout` inside a Durable Object keeps native memory until the object is evicted, and
 * a busy object is never evicted. Measured with `bench/soak/memory-probe.ts longpoll`
 * (16 long polls woken by a send every 5 ms): Spool's workerd grew ~2 MB/s, ~10 KB per long
 * poll, with the V8 heap flat at 7 MB; with timers left to fire it stayed flat. So a wait here
 * is woken by `wake()` without touching its timer, and timers are shared: one is armed for
 * the earliest deadline, and when it fires it ends every wait that is due and arms the next.
 */
interface Waiter {
  /** Real time (Date.now()) at which the wait ends with false. */
  deadline: number;
  resolve(woken: boolean): void;
  /** Only a wake at which this holds ends the wait (default: any wake). */
  ready?: () => boolean;
}

export class WakeList {
  readonly #waiters = new Set<Waiter>();
  /** When the earliest pending timer fires (real time), null when none is pending. */
  #timerAt: number | null = null;

  /**
   * Resolves true at the next `wake()` (for which `ready` holds, when given), false after
   * `ms` milliseconds.
   */
  wait(ms: number, ready?: () => boolean): Promise<boolean> {
    return new Promise((resolve) => {
      const deadline = Date.now() + Math.max(0, ms);
      this.#waiters.add({ deadline, resolve, ready });
      this.#armFor(deadline);
    });
  }

  /** Ends every wait whose `ready` holds (all without one) with true. */
  wake(): void {
    for (const w of [...this.#waiters]) {
      if (w.ready && !w.ready()) continue;
      this.#waiters.delete(w);
      w.resolve(true);
    }
  }

  /** Waits not yet ended. */
  get size(): number {
    return this.#waiters.size;
  }

  /** Makes sure a timer fires no later than `deadline`; an earlier pending one will re-arm. */
  #armFor(deadline: number): void {
    if (this.#timerAt !== null && this.#timerAt <= deadline) return;
    this.#timerAt = deadline;
    setTimeout(() => this.#fired(deadline), Math.max(0, deadline - Date.now()));
  }

  /** A timer fired: ends the waits that are due, then arms for the earliest one left. */
  #fired(armedFor: number): void {
    // A later-armed, earlier timer took over; this one's deadline is still served by that chain.
    if (this.#timerAt !== armedFor) return;
    this.#timerAt = null;
    const at = Date.now();
    let next: number | null = null;
    for (const w of [...this.#waiters]) {
      if (w.deadline <= at) {
        this.#waiters.delete(w);
        w.resolve(false);
      } else if (next === null || w.deadline < next) {
        next = w.deadline;
      }
    }
    if (next !== null) this.#armFor(next);
  }
}
