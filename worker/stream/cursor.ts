/**
 * `Stream-Cursor` (PROTOCOL.md §10.1): the number of the 20-second interval since
 * 2024-10-09T00:00:00Z, so a CDN's collapsed long-poll key changes as time passes. A client
 * that echoes a cursor at or past the current interval gets a strictly greater one (its own
 * plus 1–3600 s of random jitter), so cursors never go backwards and no cache loops.
 */
const EPOCH_MS = Date.UTC(2024, 9, 9);
const INTERVAL_MS = 20_000;
const MAX_JITTER_SECONDS = 3600;

/** The cursor to answer a live read with, given the `cursor` the client echoed (or null). */
export function responseCursor(clientCursor: string | null, nowMs: number = Date.now()): string {
  const current = Math.floor((nowMs - EPOCH_MS) / INTERVAL_MS);
  const client = clientCursor !== null && /^\d{1,15}$/.test(clientCursor) ? Number(clientCursor) : Number.NaN;
  if (!(client >= current)) return String(current);
  const jitterSeconds = 1 + Math.floor(Math.random() * MAX_JITTER_SECONDS);
  return String(client + Math.max(1, Math.ceil((jitterSeconds * 1000) / INTERVAL_MS)));
}
