/**
 * Token refresh on an open WebSocket without dropping it: shortly before the socket's token
 * is due, the client asks `getToken` for a fresh one and sends `{"type":"auth","token"}`
 * (API.md, *Streams end with their credential*). The server answers `{"type":"result",
 * "op":"auth"}`; a token that does not cover the stream closes the socket with 4003.
 * A server that predates auth frames refuses the frame (an `error` frame, or close 1003):
 * the socket is then closed and reopened with the fresh token, and this client stops
 * sending auth frames. The token travels only in the frame, never in a log line or an error.
 */
import { CloseCodes } from "../protocol/sockets.js";
import type { Credentials } from "./auth.js";
import type { Frame } from "./socket.js";

/** When a refresh fails, try again this much later (the server closes the socket at expiry anyway). */
export const SWAP_RETRY_MS = 5_000;

export interface SwapTarget {
  send(frame: Frame): boolean;
  close(code?: number, reason?: string): void;
}

export class CredentialSwap {
  /** An auth frame was sent and not yet answered. */
  private pending = false;
  /** The server refused the auth frame: the socket is being reopened with the fresh token. */
  private refused = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(private readonly credentials: Credentials, private readonly socket: SwapTarget, private token: string) {
    this.schedule();
  }

  /** Frames answering our auth frame are consumed here (true); anything else is the caller's. */
  intercept(frame: Frame): boolean {
    if (!this.pending) return false;
    if (frame.type === "result" && frame.op === "auth") {
      this.pending = false;
      this.schedule();
      return true;
    }
    if (frame.type === "error") {
      // The server does not take auth frames (or not this token): reconnect with it instead.
      this.pending = false;
      this.refuse(frame.code === "BAD_REQUEST");
      return true;
    }
    return false;
  }

  /**
   * How the socket's close relates to a swap: true when it closed because a swap was refused
   * (reconnect at once with the fresh token; this is not a failure of the stream).
   */
  closedBySwap(code: number): boolean {
    this.stop();
    if (this.refused) return true;
    if (this.pending && code === CloseCodes.BAD_FRAME) {
      this.credentials.socketSwap = false; // an older server: it closed on the unknown frame
      return true;
    }
    return false;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private refuse(unsupported: boolean): void {
    if (unsupported) this.credentials.socketSwap = false;
    this.refused = true;
    this.stop();
    this.socket.close(1000, "reconnecting with a fresh token");
  }

  private schedule(): void {
    clearTimeout(this.timer);
    const at = this.credentials.refreshAt;
    if (this.stopped || at === undefined || !this.credentials.socketSwap) return;
    // +1: timers may fire a millisecond early. setTimeout holds 32-bit delays only; a longer wait is re-armed when it fires.
    this.timer = setTimeout(() => void this.swap(), Math.min(2 ** 31 - 1, Math.max(0, Math.ceil(at - Date.now()) + 1)));
  }

  private async swap(): Promise<void> {
    let fresh: string;
    try {
      fresh = await this.credentials.get();
    } catch {
      if (!this.stopped) this.timer = setTimeout(() => void this.swap(), SWAP_RETRY_MS);
      return;
    }
    if (this.stopped) return;
    if (fresh === this.token) {
      const at = this.credentials.refreshAt;
      if (at !== undefined && at > Date.now()) return this.schedule(); // not due yet after all
      this.timer = setTimeout(() => void this.swap(), SWAP_RETRY_MS); // the source had nothing fresher yet
      return;
    }
    this.token = fresh;
    this.pending = this.socket.send({ type: "auth", token: fresh });
    if (!this.pending) this.stop();
  }
}
