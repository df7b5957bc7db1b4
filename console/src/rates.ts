/**
 * Per-second rates from counters the page samples while it is open (queue `sent`/`acked`
 * counters, topic next offsets): each sample is kept for RATE_WINDOW_MS and a rate is the
 * difference of two neighbouring samples over the time between them. Nothing is kept
 * anywhere but in this page's memory.
 */

/** How far back the charts reach. */
export const RATE_WINDOW_MS = 10 * 60_000;
/** How often views sample while open. */
export const SAMPLE_INTERVAL_MS = 3_000;

interface Sample {
  at: number;
  counters: Record<string, number>;
}

export class Rates {
  readonly #series = new Map<string, Sample[]>();

  /** Records the counters of `key` (a queue or topic) at time `at`. */
  add(key: string, counters: Record<string, number>, at = Date.now()): void {
    const list = this.#series.get(key) ?? [];
    list.push({ at, counters });
    while (list.length > 0 && list[0]!.at < at - RATE_WINDOW_MS) list.shift();
    this.#series.set(key, list);
  }

  /** Per-second rates of `counter` between neighbouring samples, oldest first. */
  of(key: string, counter: string): number[] {
    const list = this.#series.get(key) ?? [];
    const out: number[] = [];
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1]!;
      const b = list[i]!;
      const seconds = (b.at - a.at) / 1000;
      const delta = (b.counters[counter] ?? 0) - (a.counters[counter] ?? 0);
      // A counter that went down (queue recreated) restarts: no negative rate.
      out.push(seconds > 0 ? Math.max(0, delta) / seconds : 0);
    }
    return out;
  }
}

/** One store for the whole page, so a chart keeps its history when its view is left and reopened. */
export const rates = new Rates();
