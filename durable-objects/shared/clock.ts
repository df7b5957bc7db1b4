/**
 * The objects' clock. Every deadline (leases, delays, dedup windows, retention, forwarding
 * retries, token expiry on sockets) is computed from `now()`, never from `Date.now()`
 * directly, so a test — or the test kit — can move time forward and fire what became due.
 *
 * The clock is per isolate and starts at real time. Only code loaded in the same isolate
 * can move it (vitest's workerd pool runs tests beside the objects); a deployed Worker has
 * no route that reaches `advanceClock`, so production time is always real time.
 */

let offsetMs = 0;

/** Milliseconds since the Unix epoch, as the objects see them. */
export function now(): number {
  return Date.now() + offsetMs;
}

/** Moves the clock forward by `ms` (never backward: deadlines must not un-expire). */
export function advanceClock(ms: number): void {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError("the clock only moves forward");
  offsetMs += ms;
}

/** How far the clock is ahead of real time (0 outside tests). */
export function clockOffset(): number {
  return offsetMs;
}

/**
 * A moved clock's deadline as a real-time alarm: `storage.setAlarm` takes real epoch ms,
 * so an alarm for a deadline already passed on the moved clock fires at once.
 */
export function toRealTime(deadline: number): number {
  return deadline - offsetMs;
}

/**
 * What an object's `runDue()` answers (the test kit's `advanceTime`, worker/test-control.ts):
 * whether its alarm work ran because its deadline had come on the moved clock, and its
 * next deadline afterwards (ms on the objects' clock), null for none.
 */
export interface DueReport {
  ran: boolean;
  next: number | null;
}

export interface RunDueOptions {
  /** Also set the alarm for the moved clock when nothing is due (default true; the last pass of an advance). */
  rearm?: boolean;
}
