/**
 * The reconnect loop shared by topic subscriptions and queue consumers: connect, live until
 * the connection closes, decide from the close code whether to give up, reconnect at once
 * or back off (jittered, see backoff.ts), refresh the credential when it was the problem,
 * and report every step on the client's status stream.
 */
import { CloseCodes } from "../protocol/sockets.js";
import type { Credentials } from "./auth.js";
import { backoffDelay, RECONNECT_MAX_ATTEMPTS, sleep, type ReconnectOptions } from "./backoff.js";
import { ConnectionError, isTerminal, NotFoundError, SpoolError } from "./errors.js";
import type { ConnectionStatus, StreamRef } from "./status.js";

/** A connection that lasted this long (or delivered a message) resets the backoff. */
export const HEALTHY_CONNECTION_MS = 1_000;

/** How one connection ended. */
export interface Session {
  code: number;
  reason: string;
  /** It delivered something or lasted HEALTHY_CONNECTION_MS. */
  healthy: boolean;
  /** The last `error` frame the server sent on it. */
  error?: SpoolError | undefined;
  /** It closed because the server refused an in-place token swap (socket.ts). */
  swapRefused?: boolean | undefined;
}

export interface LoopSpec {
  stop: AbortSignal;
  reconnect?: ReconnectOptions | undefined;
  /** Where status events go (the client's StatusHub, or a stream's own recorder in front of it). */
  status: { emit(status: ConnectionStatus): void };
  /** What the stream is, for status events (a subscription may change transport). */
  stream: () => StreamRef;
  credentials: Credentials;
  /** Runs before each attempt (e.g. waiting for a slow reader). */
  prepare?(): Promise<void>;
  /** One connection from open to close; calls `opened` once the server accepted it. Throws when it cannot connect. */
  session(opened: () => void): Promise<Session>;
  /** A say in the verdict before the default rules (e.g. "quick" after pausing on purpose). */
  verdict?(session: Session): Error | "quick" | "backoff" | undefined;
  /** Errors that would end the stream but are to be waited out with backoff (a queue that does not exist yet). */
  tolerate?(error: Error): boolean;
}

/** Runs until `stop` aborts (resolves undefined) or an error ends the stream (resolves it). */
export async function connectionLoop(spec: LoopSpec): Promise<Error | undefined> {
  const maxAttempts = spec.reconnect?.maxAttempts ?? RECONNECT_MAX_ATTEMPTS;
  const { status } = spec;
  let attempt = 0;
  while (!spec.stop.aborted) {
    let error: Error | undefined;
    try {
      await spec.prepare?.();
      if (spec.stop.aborted) break;
      status.emit({ type: "connecting", stream: spec.stream(), attempt: attempt + 1 });
      const s = await spec.session(() => status.emit({ type: "connected", stream: spec.stream() }));
      if (spec.stop.aborted) break;
      status.emit({ type: "disconnected", stream: spec.stream(), code: s.code, reason: s.reason, error: s.error });
      if (s.healthy) attempt = 0;
      if (s.swapRefused) continue; // the server took no in-place token swap: reopen with the fresh token now
      const verdict = spec.verdict?.(s) ?? defaultVerdict(s, spec.stream());
      if (verdict instanceof Error && !spec.tolerate?.(verdict)) return verdict;
      if (s.code === CloseCodes.EXPIRED) await spec.credentials.refresh().catch(() => {});
      if (verdict === "quick" && s.healthy) continue;
      error = verdict instanceof Error ? verdict : s.error;
    } catch (err) {
      if (spec.stop.aborted) break;
      const unauthorized = err instanceof SpoolError && err.code === "UNAUTHORIZED";
      const tolerated = err instanceof Error && spec.tolerate?.(err) === true;
      if ((isTerminal(err) && !tolerated) || (unauthorized && !spec.credentials.canRefresh)) return err as Error;
      if (unauthorized) await spec.credentials.refresh().catch(() => {});
      error = err instanceof Error ? err : new ConnectionError({ code: "CONNECTION_FAILED", status: 0, message: String(err) });
    }
    attempt++;
    if (attempt > maxAttempts) {
      return new ConnectionError({ code: "CONNECTION_FAILED", status: 0, message: `gave up after ${maxAttempts} reconnect attempts`, cause: error });
    }
    const delayMs = backoffDelay(attempt, spec.reconnect);
    status.emit({ type: "reconnecting", stream: spec.stream(), attempt, delayMs, error });
    await sleep(delayMs, spec.stop);
  }
  return undefined;
}

/** Give up on what will not fix itself; reconnect at once after an orderly close; else back off. */
function defaultVerdict(s: Session, stream: StreamRef): Error | "quick" | "backoff" {
  // An error frame explains a close only when the server closed on purpose; a stray
  // VALIDATION_FAILED followed by a network drop must not end the stream.
  const deliberate = s.code === CloseCodes.NORMAL || s.code === CloseCodes.BAD_FRAME || s.code === CloseCodes.FRAME_TOO_LARGE || (s.code >= 4000 && s.code < 5000);
  if (deliberate && s.error && isTerminal(s.error)) return s.error;
  if (s.code === CloseCodes.GONE) {
    return new NotFoundError({ code: "NOT_FOUND", status: 404, message: `${stream.kind === "consume" ? "queue" : "topic"} ${stream.name} was deleted` });
  }
  if (s.code === CloseCodes.BAD_FRAME || s.code === CloseCodes.FRAME_TOO_LARGE) {
    return new ConnectionError({ code: "CONNECTION_FAILED", status: 0, message: `server closed the connection (${s.code} ${s.reason})` });
  }
  if (s.code === CloseCodes.NORMAL || s.code === CloseCodes.EXPIRED || s.code === CloseCodes.SLOW_SUBSCRIBER) return "quick";
  return "backoff";
}
