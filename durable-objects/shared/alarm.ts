/**
 * The one alarm of an object, armed at the earliest deadline any of its parts needs.
 * An object has a single alarm (Durable Objects allow one), so after every state change the
 * object asks its parts for their next deadline and calls `arm`; the scheduler remembers
 * what storage holds and writes only when that changes (a setAlarm is a storage write).
 *
 * Usage, in an object:
 *   readonly alarm = new AlarmScheduler(ctx.storage);
 *   await this.alarm.arm(earliestOf(this.store.nextDeadline(), this.live.nextDeadline()));
 * and in `wipe`: `await this.alarm.clear()`.
 */
import { clockOffset, toRealTime } from "./clock";

export class AlarmScheduler {
  /** What storage holds (ms on the objects' clock), null for none, undefined before it was read. */
  #armed: number | null | undefined = undefined;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Sets the alarm to `deadline` (ms on the objects' clock), or clears it for null. */
  async arm(deadline: number | null): Promise<void> {
    if (this.#armed === undefined) {
      const stored = await this.storage.getAlarm();
      // A stored alarm is in real time; compare on the same footing.
      if (stored !== null && deadline !== null && toRealTime(deadline) === stored) {
        this.#armed = deadline;
        return;
      }
      this.#armed = stored === null ? null : stored + clockOffset();
    }
    if (deadline === this.#armed) return;
    if (deadline === null) await this.storage.deleteAlarm();
    else await this.storage.setAlarm(toRealTime(deadline));
    this.#armed = deadline;
  }

  /**
   * Makes the alarm fire no later than `deadline` (ms on the objects' clock): arms it when
   * none is set or the one set is later, and leaves an earlier one alone. Needs no other
   * deadline, so a hot path (a publish, a lease) can call it without asking every part.
   */
  async armBy(deadline: number): Promise<void> {
    if (this.#armed === undefined) {
      const stored = await this.storage.getAlarm();
      // A stored alarm is in real time: when it fires on the objects' clock.
      this.#armed = stored === null ? null : stored + clockOffset();
    }
    if (this.#armed !== null && this.#armed <= deadline) return;
    await this.storage.setAlarm(toRealTime(deadline));
    this.#armed = deadline;
  }

  /** The deadline the alarm is set for (ms on the objects' clock), null for none, undefined before storage was read. */
  get deadline(): number | null | undefined {
    return this.#armed;
  }

  /**
   * Sets the alarm for `deadline` whatever is remembered: after the objects' clock moved
   * (the test kit's advanceTime) the real time stored for a deadline is no longer the right
   * one. Writes only when storage holds another time.
   */
  async rearm(deadline: number | null): Promise<void> {
    const stored = await this.storage.getAlarm();
    const wanted = deadline === null ? null : toRealTime(deadline);
    if (wanted === null && stored !== null) await this.storage.deleteAlarm();
    else if (wanted !== null && wanted !== stored) await this.storage.setAlarm(wanted);
    this.#armed = deadline;
  }

  /**
   * Before running the alarm's work outside an alarm (the test kit's `runDue`): a stored
   * alarm that is due in real time too would run the same work at once, so it is removed;
   * a later one is left (the work re-arms the alarm anyway), saving a storage write.
   */
  async takeOver(): Promise<void> {
    const stored = await this.storage.getAlarm();
    if (stored !== null && stored <= Date.now()) await this.storage.deleteAlarm();
  }

  /** Forgets what storage holds: call when the alarm has just fired (storage cleared it). */
  fired(): void {
    this.#armed = null;
  }

  /** Deletes the alarm (the object is being wiped). */
  async clear(): Promise<void> {
    await this.storage.deleteAlarm();
    this.#armed = null;
  }
}

/** The earliest of several deadlines, ignoring nulls; null when there is none. */
export function earliestOf(...deadlines: Array<number | null | undefined>): number | null {
  let out: number | null = null;
  for (const d of deadlines) if (d !== null && d !== undefined && (out === null || d < out)) out = d;
  return out;
}
