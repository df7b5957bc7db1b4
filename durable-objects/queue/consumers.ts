/**
 * WebSocket consumers (`GET /v1/queues/{q}/consume`) on the Hibernation API.
 *
 * Flow control is by credit: a socket may hold at most `credit` unacked messages (0 until
 * it sends one). How many it holds is not counted in memory but read from SQL (messages in
 * flight with `consumer = <socket id>`), so acks, nacks, lease expiry, retention and purge
 * free slots by themselves and nothing is lost on hibernation or eviction. Per-socket state
 * (id, credit, frame budget, credential expiry) lives in the attachment. In at-most-once
 * mode nothing stays unacked, so each pushed message uses up one unit of credit instead,
 * and the next `credit` frame sets the allowance again. A leased message's frame carries
 * `visibilityTimeout`, its lease in seconds, so a consumer extends from the server's figure.
 *
 * A socket ends with its credential: the object's alarm is armed at the earliest expiry of
 * an open socket (`nextDeadline`, read from the attachments of `ctx.getWebSockets()`, so a
 * socket that is gone never keeps it armed), `closeExpired` closes those with 4001 and
 * frees their messages, and `pump` never sends to an expired socket, however late the alarm.
 * An `{"type":"auth","token"}` frame swaps the credential (a token with `receive` on the
 * queue, verified here: shared/token-verify.ts) and its expiry; any other token closes 4003.
 */
import type { ErrorCode, ErrorValue } from "../../protocol/errors";
import type { Result } from "../../protocol/errors";
import { LIMITS } from "./config";
import type { QueueContext } from "./context";
import { ack, extend, heldBy, nack, releaseConsumer, takeMessages } from "./leases";
import type { Env } from "../env";
import { now } from "../shared/clock";
import {
  AUTH_REFUSED_REASON, CloseCodes, checkFrame, closeFor, credentialExpired, credentialExpiresAt, EXPIRED_REASON, hasSocketRoom,
  newSocketLimits, socketLimitResponse, type SocketLimits,
} from "../shared/socket-limits";
import { errorFrame, refusal } from "../shared/refusals";
import { AUTH_RESULT, MAX_TOKEN_CHARS, swapCredential } from "../shared/token-verify";

interface Attachment {
  id: string;
  credit: number;
  limits: SocketLimits;
}

/** What the consumers need from their object (its private transaction and settle steps). */
export interface ConsumerHost {
  transact<T>(fn: (q: QueueContext) => Result<T>): Result<T>;
  settle(): Promise<void>;
  /** The queue's name, which a swapped-in token must cover. */
  name(): string;
}

type Frame =
  | { type: "credit"; n: number }
  | { type: "ack"; receipts: string[] }
  | { type: "nack"; receipts: string[]; delay: number; attempted: boolean }
  | { type: "extend"; receipts: string[]; visibilityTimeout: number }
  | { type: "auth"; token: string };

const ok = <T>(value: T): Result<T> => ({ ok: true, value });

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
}

/** Validates a client frame; a string is the validation message. */
function parseFrame(data: Record<string, unknown>): Frame | string {
  const receipts = data.receipts;
  const receiptsOk = Array.isArray(receipts) && receipts.length >= 1 && receipts.length <= LIMITS.maxReceipts && receipts.every((r) => typeof r === "string");
  switch (data.type) {
    case "credit":
      return isInt(data.n, 0, LIMITS.maxCredit) ? { type: "credit", n: data.n } : `credit.n must be an integer in 0..${LIMITS.maxCredit}`;
    case "ack":
      return receiptsOk ? { type: "ack", receipts: receipts as string[] } : `receipts must be 1..${LIMITS.maxReceipts} strings`;
    case "nack": {
      if (!receiptsOk) return `receipts must be 1..${LIMITS.maxReceipts} strings`;
      const delay = data.delay ?? 0;
      const attempted = data.attempted ?? true;
      if (typeof attempted !== "boolean") return "attempted must be a boolean";
      return isInt(delay, 0, LIMITS.maxLeaseSeconds) ? { type: "nack", receipts: receipts as string[], delay, attempted } : `delay must be an integer in 0..${LIMITS.maxLeaseSeconds}`;
    }
    case "extend":
      if (!receiptsOk) return `receipts must be 1..${LIMITS.maxReceipts} strings`;
      return isInt(data.visibilityTimeout, 0, LIMITS.maxLeaseSeconds)
        ? { type: "extend", receipts: receipts as string[], visibilityTimeout: data.visibilityTimeout }
        : `visibilityTimeout must be an integer in 0..${LIMITS.maxLeaseSeconds}`;
    case "auth":
      return typeof data.token === "string" && data.token.length > 0 && data.token.length <= MAX_TOKEN_CHARS
        ? { type: "auth", token: data.token }
        : `token must be a string of 1..${MAX_TOKEN_CHARS} characters`;
    default:
      return "";
  }
}

export class Consumers {
  /** Sockets being closed right now: getWebSockets() may still list them, so pump must skip them. */
  private readonly closing = new Set<string>();
  /**
   * The earliest credential expiry of an open socket (null: none expires), cached because
   * every settle asks; undefined when it must be read from the attachments again (after
   * hibernation, or when the socket that had it went away or swapped its credential).
   */
  private earliestExpiry: number | null | undefined = undefined;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly host: ConsumerHost,
  ) {}

  count(): number {
    return this.ctx.getWebSockets().length;
  }

  /**
   * Accepts an upgrade forwarded by the Worker. A refusal is a Response in the API's error
   * shape, which the route turns back into an ApiError.
   */
  async accept(request: Request): Promise<Response> {
    const exists = this.host.transact(() => ok(null));
    if (!exists.ok) return refusal(exists.error);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return refusal({ code: "UPGRADE_REQUIRED", message: "this endpoint needs a WebSocket upgrade" });
    }
    if (!hasSocketRoom(this.ctx, this.env)) return socketLimitResponse(this.env);
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, ["consumer"]);
    const att: Attachment = { id: crypto.randomUUID(), credit: 0, limits: newSocketLimits(now(), credentialExpiresAt(request)) };
    server.serializeAttachment(att);
    this.expiryChanged(null, att.limits.expiresAt);
    await this.host.settle(); // arms the alarm for the new socket's expiry
    return new Response(null, { status: 101, webSocket: client });
  }

  /** When the alarm must next close a socket whose credential expires (ms), or null. */
  nextDeadline(): number | null {
    if (this.earliestExpiry === undefined) {
      let earliest: number | null = null;
      for (const ws of this.ctx.getWebSockets()) {
        const att = ws.deserializeAttachment() as Attachment | null;
        const at = att?.limits.expiresAt ?? null;
        if (at !== null && ws.readyState === WebSocket.OPEN && (earliest === null || at < earliest)) earliest = at;
      }
      this.earliestExpiry = earliest;
    }
    return this.earliestExpiry;
  }

  /**
   * Closes every open socket whose credential expired with 4001 and frees its messages
   * (synchronous; the caller settles). Costs nothing until the earliest expiry is due.
   */
  closeExpired(): void {
    const at = now();
    const due = this.nextDeadline();
    if (due === null || due > at) return;
    for (const ws of this.ctx.getWebSockets()) {
      const att = ws.deserializeAttachment() as Attachment | null;
      if (att && ws.readyState === WebSocket.OPEN && credentialExpired(att.limits, at)) this.expire(ws, att);
    }
    this.earliestExpiry = undefined;
  }

  async onMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const att = ws.deserializeAttachment() as Attachment;
    const verdict = checkFrame(message, att.limits, now());
    if (!verdict.ok) return this.drop(ws, verdict.code, verdict.reason);
    ws.serializeAttachment(att); // the frame budget moved
    let data: unknown;
    try {
      data = typeof message === "string" ? JSON.parse(message) : undefined;
    } catch {
      data = undefined;
    }
    const frame = data && typeof data === "object" && !Array.isArray(data) ? parseFrame(data as Record<string, unknown>) : "";
    if (frame === "") {
      sendError(ws, "BAD_REQUEST", "frames are JSON objects of type credit, ack, nack, extend or auth");
      return this.drop(ws, CloseCodes.BAD_FRAME, "bad frame");
    }
    if (typeof frame === "string") return sendError(ws, "VALIDATION_FAILED", frame);

    if (frame.type === "auth") return this.swap(ws, frame.token);
    if (frame.type === "credit") {
      att.credit = frame.n;
      ws.serializeAttachment(att);
    } else {
      const r = this.host.transact<Record<string, unknown>>((q) => {
        if (frame.type === "ack") return ok({ type: "result", op: "ack", ...ack(q, frame.receipts) });
        if (frame.type === "nack") return ok({ type: "result", op: "nack", ...nack(q, frame.receipts, frame.delay, frame.attempted) });
        return ok({ type: "result", op: "extend", ...extend(q, frame.receipts, frame.visibilityTimeout) });
      });
      if (!r.ok) {
        sendError(ws, r.error.code, r.error.message);
        return close(ws, CloseCodes.GONE, "queue deleted");
      }
      trySend(ws, r.value);
    }
    await this.host.settle();
  }

  /** The socket closed: its unacked messages are visible again at once. */
  async onClose(ws: WebSocket): Promise<void> {
    await this.drop(ws, CloseCodes.NORMAL, "closed");
  }

  /**
   * `{"type":"auth","token"}`: the socket goes on under `token` when it verifies and grants
   * `receive` on this queue (its expiry replaces the old one), else it is closed with 4003.
   */
  private async swap(ws: WebSocket, token: string): Promise<void> {
    const claims = await swapCredential(token, this.env, "queues", "receive", this.host.name(), now());
    if (ws.readyState !== WebSocket.OPEN) return; // closed (or expired) while verifying
    if (!claims) return this.drop(ws, CloseCodes.AUTH_REFUSED, AUTH_REFUSED_REASON);
    // Read again: frames handled while the token was verified may have changed the attachment.
    const att = ws.deserializeAttachment() as Attachment;
    this.expiryChanged(att.limits.expiresAt, claims.expiresAt);
    att.limits.expiresAt = claims.expiresAt;
    ws.serializeAttachment(att);
    trySend(ws, AUTH_RESULT);
    await this.host.settle(); // the alarm moves to the new earliest expiry
  }

  /** Closes a socket and ends its leases (the server may close first; do not wait for the peer). */
  private async drop(ws: WebSocket, code: number, reason: string): Promise<void> {
    close(ws, code, reason);
    const att = ws.deserializeAttachment() as Attachment | null;
    if (!att) return;
    this.expiryChanged(att.limits.expiresAt, null);
    this.closing.add(att.id);
    try {
      const r = this.host.transact((q) => ok(releaseConsumer(q, att.id)));
      if (r.ok) await this.host.settle();
    } finally {
      this.closing.delete(att.id);
    }
  }

  /**
   * Pushes visible messages to sockets with free credit. Each socket's leases are one
   * transaction; the caller sets the alarm afterwards, so pushed leases expire like others.
   */
  pump(): void {
    const at = now();
    for (const ws of this.ctx.getWebSockets()) {
      const att = ws.deserializeAttachment() as Attachment | null;
      if (!att || att.credit === 0 || ws.readyState !== WebSocket.OPEN || this.closing.has(att.id)) continue;
      if (credentialExpired(att.limits, at)) {
        // Nothing goes out after the expiry, even when the alarm is late.
        this.expire(ws, att);
        continue;
      }
      let exhausted = false;
      let atMostOnce = false;
      let leaseSeconds = 0;
      const r = this.host.transact((q) => {
        atMostOnce = q.config.delivery === "at-most-once";
        const free = atMostOnce ? att.credit : att.credit - heldBy(q, att.id);
        if (free <= 0) return ok([]);
        leaseSeconds = q.config.visibilityTimeout;
        const taken = takeMessages(q, free, leaseSeconds, att.id);
        exhausted = taken.length < free;
        return ok(taken);
      });
      if (!r.ok) return;
      // A leased message says how long its lease is, so the consumer extends from the server's figure.
      for (const m of r.value) trySend(ws, m.receipt === undefined ? { type: "message", ...m } : { type: "message", ...m, visibilityTimeout: leaseSeconds });
      if (atMostOnce && r.value.length > 0) {
        att.credit -= r.value.length;
        ws.serializeAttachment(att);
      }
      if (exhausted) return; // nothing more is deliverable for the other sockets either
    }
  }

  /** The queue was deleted: close every consumer. */
  closeAll(): void {
    for (const ws of this.ctx.getWebSockets()) close(ws, CloseCodes.GONE, "queue deleted");
    this.earliestExpiry = undefined;
  }

  /**
   * Keeps the cached earliest expiry right when one socket's expiry goes from `before` to
   * `after` (null: none, or the socket is gone), reading every attachment again only when
   * that socket may have been the earliest: a connection storm costs no rescan per socket.
   */
  private expiryChanged(before: number | null, after: number | null): void {
    if (this.earliestExpiry === undefined) return;
    if (before !== null && before === this.earliestExpiry) this.earliestExpiry = undefined;
    else if (after !== null && (this.earliestExpiry === null || after < this.earliestExpiry)) this.earliestExpiry = after;
  }

  /** Closes a socket whose credential expired (4001) and makes its unacked messages visible again. */
  private expire(ws: WebSocket, att: Attachment): void {
    close(ws, CloseCodes.EXPIRED, EXPIRED_REASON);
    this.expiryChanged(att.limits.expiresAt, null);
    // A deleted queue has nothing to release (the result is then NOT_FOUND).
    this.host.transact((q) => ok(releaseConsumer(q, att.id)));
  }
}

function trySend(ws: WebSocket, frame: unknown): void {
  try {
    ws.send(JSON.stringify(frame));
  } catch {
    // The socket is closing; its leases are released by webSocketClose.
  }
}

function sendError(ws: WebSocket, code: ErrorCode, message: string): void {
  try {
    ws.send(errorFrame(code, message));
  } catch {
    // The socket is closing; its leases are released by webSocketClose.
  }
}

function close(ws: WebSocket, code: number, reason: string): void {
  closeFor(ws, { code, reason });
}
