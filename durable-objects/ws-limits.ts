/**
 * Limits on WebSocket use, shared by queue consumers and topic subscribers, with the close
 * codes clients see. A breach closes that one socket with a documented code and reason;
 * nothing stored is touched and other sockets carry on.
 */

/** Largest client → server frame accepted (bytes). */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Sustained client → server frames per second per socket, and the burst allowed above it. */
export const FRAMES_PER_SECOND = 50;
export const FRAME_BURST = 200;
/** Most open sockets one object accepts; further upgrades get `429 RATE_LIMITED`. */
export const MAX_SOCKETS_PER_OBJECT = 5000;

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
  /** The queue or topic was deleted. */
  GONE: 4004,
} as const;

/** Token-bucket state kept in the socket attachment so it survives hibernation. */
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

/** Byte size of a frame as received (string frames are UTF-8 on the wire). */
export function frameBytes(message: string | ArrayBuffer): number {
  return typeof message === "string" ? new TextEncoder().encode(message).byteLength : message.byteLength;
}
