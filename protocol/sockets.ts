/**
 * WebSocket close codes clients see, and the per-socket frame budget (a token bucket) that
 * both the server enforces and the client's outbox respects so it is never closed for rate.
 */
import { FRAME_BURST, FRAMES_PER_SECOND } from "./limits.js";

/** Close codes (4000–4999 are the application's own). */
export const CloseCodes = {
  /** Normal close by the server (object deleted, stream ended). */
  NORMAL: 1000,
  /** A frame that is not JSON or not a known message type. */
  BAD_FRAME: 1003,
  /** A frame over MAX_FRAME_BYTES. */
  FRAME_TOO_LARGE: 1009,
  /** More frames than the per-socket rate allows. */
  RATE_LIMITED: 4029,
  /** The subscriber fell too far behind; reason carries `{"resumeFrom": <offset>}` to reconnect with. */
  SLOW_SUBSCRIBER: 4000,
  /** The credential behind the socket expired. */
  EXPIRED: 4001,
  /** An `{"type":"auth","token"}` frame whose token does not verify or does not cover the stream. */
  AUTH_REFUSED: 4003,
  /** The queue or topic was deleted. */
  GONE: 4004,
} as const;

export type CloseCode = (typeof CloseCodes)[keyof typeof CloseCodes];

/** Token-bucket state (kept in the socket attachment on the server, so it survives hibernation). */
export interface FrameBudget {
  tokens: number;
  at: number;
}

export function newFrameBudget(now: number): FrameBudget {
  return { tokens: FRAME_BURST, at: now };
}

/** Spends one frame from the budget; false when the socket is over its rate. Mutates `budget`. */
export function spendFrame(budget: FrameBudget, now: number): boolean {
  const refill = ((now - budget.at) / 1000) * FRAMES_PER_SECOND;
  budget.tokens = Math.min(FRAME_BURST, budget.tokens + refill);
  budget.at = now;
  if (budget.tokens < 1) return false;
  budget.tokens -= 1;
  return true;
}
