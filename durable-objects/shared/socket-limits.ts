/**
 * Limits on WebSocket use, shared by queue consumers and topic subscribers, with the close
 * codes clients see. A breach closes that one socket with a documented code and reason;
 * nothing stored is touched and other sockets carry on.
 *
 * How a socket handler uses this (state lives in the attachment, so it survives hibernation):
 *
 *   // on upgrade, in the object's fetch:
 *   if (!hasSocketRoom(ctx, env)) return socketLimitResponse(env);
 *   ws.serializeAttachment({ ...mine, limits: newSocketLimits(now(), credentialExpiresAt(request)) });
 *   // first thing in webSocketMessage:
 *   const att = ws.deserializeAttachment();
 *   const verdict = checkFrame(message, att.limits, now());
 *   if (!verdict.ok) return closeFor(ws, verdict);
 *   ws.serializeAttachment(att); // the budget moved
 */
import { refusal } from "./refusals";
import { FRAME_BURST, FRAMES_PER_SECOND, MAX_FRAME_BYTES, MAX_SOCKETS_PER_OBJECT } from "../../protocol/limits";
import { CloseCodes, newFrameBudget, spendFrame, type CloseCode, type FrameBudget } from "../../protocol/sockets";

/** WebSocket close reasons are at most 123 bytes of UTF-8. */
const MAX_REASON_BYTES = 123;

/** The close reason of `CloseCodes.EXPIRED`. */
export const EXPIRED_REASON = "token expired; reconnect with a fresh token";
/** The close reason of `CloseCodes.AUTH_REFUSED`. */
export const AUTH_REFUSED_REASON = "the token does not verify or does not cover this stream";

export { CloseCodes, newFrameBudget, spendFrame, type CloseCode, type FrameBudget } from "../../protocol/sockets";
export { FRAME_BURST, FRAMES_PER_SECOND, MAX_FRAME_BYTES, MAX_SOCKETS_PER_OBJECT } from "../../protocol/limits";

/** Byte size of a frame as received (string frames are UTF-8 on the wire). */
export function frameBytes(message: string | ArrayBuffer): number {
  return typeof message === "string" ? new TextEncoder().encode(message).byteLength : message.byteLength;
}

/**
 * The header on which the Worker tells an object when the credential that opened a socket
 * or stream expires (ms epoch; absent for credentials that do not expire). The Worker builds
 * the request the object sees, so a client cannot set it itself.
 */
export const CREDENTIAL_EXPIRES_HEADER = "x-spool-credential-expires";

/** The credential expiry a request carries (`CREDENTIAL_EXPIRES_HEADER`), or null for none. */
export function credentialExpiresAt(request: Request): number | null {
  const value = request.headers.get(CREDENTIAL_EXPIRES_HEADER) ?? "";
  return /^\d{1,16}$/.test(value) ? Number(value) : null;
}

/** Whether the credential behind a socket has expired at `now` (nothing may be sent to it then). */
export function credentialExpired(limits: SocketLimits, now: number): boolean {
  return limits.expiresAt !== null && now >= limits.expiresAt;
}

/** Per-socket limit state for the attachment: the frame budget and the credential's expiry. */
export interface SocketLimits {
  budget: FrameBudget;
  /** ms epoch when the token behind the socket expires; null for the admin key. */
  expiresAt: number | null;
}

export function newSocketLimits(now: number, expiresAt: number | null): SocketLimits {
  return { budget: newFrameBudget(now), expiresAt };
}

export type FrameVerdict = { ok: true } | { ok: false; code: CloseCode; reason: string };

/**
 * The verdict on one incoming frame, checked before it is parsed: the credential has not
 * expired, the frame fits MAX_FRAME_BYTES, and the socket is within its rate. Spends from
 * `limits.budget` (store the attachment again afterwards).
 */
export function checkFrame(message: string | ArrayBuffer, limits: SocketLimits, now: number): FrameVerdict {
  if (credentialExpired(limits, now)) {
    return { ok: false, code: CloseCodes.EXPIRED, reason: EXPIRED_REASON };
  }
  const size = typeof message === "string" && message.length * 3 <= MAX_FRAME_BYTES ? 0 : frameBytes(message);
  if (size > MAX_FRAME_BYTES) {
    return { ok: false, code: CloseCodes.FRAME_TOO_LARGE, reason: `frame exceeds ${MAX_FRAME_BYTES} bytes` };
  }
  if (!spendFrame(limits.budget, now)) {
    return { ok: false, code: CloseCodes.RATE_LIMITED, reason: `more than ${FRAMES_PER_SECOND} frames/s (burst ${FRAME_BURST})` };
  }
  return { ok: true };
}

/** Closes a socket for a breach. A socket that is already closing throws; that is fine. */
export function closeFor(ws: WebSocket, verdict: { code: number; reason: string }): void {
  try {
    ws.close(verdict.code, truncateReason(verdict.reason));
  } catch {
    // already closed or closing: the client has its answer
  }
}

/** Cuts a close reason to the protocol's 123 bytes without splitting a character. */
export function truncateReason(reason: string): string {
  let out = reason;
  while (new TextEncoder().encode(out).byteLength > MAX_REASON_BYTES) out = out.slice(0, -1);
  return out;
}

/** The socket cap in force: `SPOOL_MAX_SOCKETS_PER_OBJECT` if set (tests lower it), else the default. */
export function maxSockets(env: { SPOOL_MAX_SOCKETS_PER_OBJECT?: string }): number {
  const n = Number(env.SPOOL_MAX_SOCKETS_PER_OBJECT);
  return Number.isInteger(n) && n > 0 ? n : MAX_SOCKETS_PER_OBJECT;
}

/** Whether the object may accept one more socket. */
export function hasSocketRoom(ctx: { getWebSockets(): unknown[] }, env: { SPOOL_MAX_SOCKETS_PER_OBJECT?: string }): boolean {
  return ctx.getWebSockets().length < maxSockets(env);
}

/**
 * The answer to an upgrade over the socket cap: `429 RATE_LIMITED` with `Retry-After`, in the
 * API's error shape (an object's fetch has no Hono context to render it; the Worker route
 * returns this Response as is).
 */
export function socketLimitResponse(env: { SPOOL_MAX_SOCKETS_PER_OBJECT?: string }): Response {
  const limit = maxSockets(env);
  return refusal({ code: "RATE_LIMITED", message: `this object already has ${limit} open sockets`, details: { limit }, retryAfter: 5 });
}
