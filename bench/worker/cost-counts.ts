/**
 * What the cost meter (meter.ts) reports: plain data, shared by the bench Worker, the load
 * generator that reads it over HTTP (bench/load/cost.ts) and test/workers/cost.test.ts.
 */

/** What the meter counted between `start` and `stop`. */
export interface CostCounts {
  /** Billed requests: RPC method calls, `fetch` (HTTP and WebSocket upgrades) and alarms. */
  requests: number;
  /** Incoming WebSocket messages (billed as requests at 20:1). */
  wsMessages: number;
  rowsRead: number;
  /** SQL rows written plus alarm writes. */
  rowsWritten: number;
  /** `setAlarm` and `deleteAlarm` calls (each billed as one row written, included in rowsWritten). */
  alarmWrites: number;
  statements: number;
  /** Requests by `Class.method`, to see where they come from. */
  calls: Record<string, number>;
}

/** Cost per message of `counts` for `messages` messages (requests billed with WebSocket messages at 20:1). */
export function perMessage(counts: CostCounts, messages: number): { requests: number; rowsRead: number; rowsWritten: number } {
  return {
    requests: (counts.requests + counts.wsMessages / 20) / messages,
    rowsRead: counts.rowsRead / messages,
    rowsWritten: counts.rowsWritten / messages,
  };
}
