// The WebSocket limit rules themselves (durable-objects/ws-limits.ts), with time passed in:
// frame size, frame rate with burst and refill, token expiry, the socket cap's answer.
import { describe, expect, it } from "vitest";
import {
  checkFrame, CloseCodes, FRAME_BURST, FRAMES_PER_SECOND, MAX_FRAME_BYTES, MAX_SOCKETS_PER_OBJECT,
  maxSockets, newSocketLimits, socketLimitResponse, truncateReason,
} from "../../durable-objects/shared/socket-limits";
import { errorCode } from "./helpers";

const T0 = 1_800_000_000_000;

describe("limits - websocket frames", () => {
  it("limits - a frame over MAX_FRAME_BYTES is refused with 1009, one at the limit passes", () => {
    const limits = newSocketLimits(T0, null);
    expect(checkFrame("x".repeat(MAX_FRAME_BYTES), limits, T0)).toEqual({ ok: true });
    const verdict = checkFrame("x".repeat(MAX_FRAME_BYTES + 1), limits, T0);
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.code).toBe(CloseCodes.FRAME_TOO_LARGE);
    expect(checkFrame(new ArrayBuffer(MAX_FRAME_BYTES + 1), limits, T0).ok).toBe(false);
  });

  it("limits - frame size counts UTF-8 bytes, not characters", () => {
    const limits = newSocketLimits(T0, null);
    const threeByteChars = "€".repeat(Math.floor(MAX_FRAME_BYTES / 3) + 1);
    expect(threeByteChars.length).toBeLessThan(MAX_FRAME_BYTES);
    expect(checkFrame(threeByteChars, limits, T0).ok).toBe(false);
  });

  it("limits - a socket may burst FRAME_BURST frames, then is closed with 4029", () => {
    const limits = newSocketLimits(T0, null);
    for (let i = 0; i < FRAME_BURST; i++) expect(checkFrame("{}", limits, T0).ok, `frame ${i}`).toBe(true);
    const verdict = checkFrame("{}", limits, T0);
    expect(verdict).toMatchObject({ ok: false, code: CloseCodes.RATE_LIMITED });
  });

  it("limits - the budget refills at FRAMES_PER_SECOND and never above the burst", () => {
    const limits = newSocketLimits(T0, null);
    for (let i = 0; i < FRAME_BURST; i++) checkFrame("{}", limits, T0);
    expect(checkFrame("{}", limits, T0).ok).toBe(false);
    // One second later exactly FRAMES_PER_SECOND more frames are allowed.
    let allowed = 0;
    while (checkFrame("{}", limits, T0 + 1000).ok) allowed++;
    expect(allowed).toBe(FRAMES_PER_SECOND);
    // A long idle period refills only up to the burst.
    const idle = newSocketLimits(T0, null);
    let afterIdle = 0;
    while (checkFrame("{}", idle, T0 + 3_600_000).ok) afterIdle++;
    expect(afterIdle).toBe(FRAME_BURST);
  });

  it("limits - a socket opened with a token is closed with 4001 once the token expires", () => {
    const limits = newSocketLimits(T0, T0 + 60_000);
    expect(checkFrame("{}", limits, T0 + 59_999).ok).toBe(true);
    expect(checkFrame("{}", limits, T0 + 60_000)).toMatchObject({ ok: false, code: CloseCodes.EXPIRED });
    expect(checkFrame("{}", newSocketLimits(T0, null), T0 + 10 * 86_400_000).ok).toBe(true);
  });

  it("limits - close reasons are cut to 123 bytes without splitting a character", () => {
    const cut = truncateReason("€".repeat(100));
    expect(new TextEncoder().encode(cut).byteLength).toBeLessThanOrEqual(123);
    expect(cut).toBe("€".repeat(41));
    expect(truncateReason("short")).toBe("short");
  });
});

describe("limits - sockets per object", () => {
  it("limits - the socket cap defaults to MAX_SOCKETS_PER_OBJECT and SPOOL_MAX_SOCKETS_PER_OBJECT lowers it", () => {
    expect(maxSockets({})).toBe(MAX_SOCKETS_PER_OBJECT);
    expect(maxSockets({ SPOOL_MAX_SOCKETS_PER_OBJECT: "3" })).toBe(3);
    for (const bad of ["0", "-1", "x", "1.5"]) expect(maxSockets({ SPOOL_MAX_SOCKETS_PER_OBJECT: bad })).toBe(MAX_SOCKETS_PER_OBJECT);
  });

  it("limits - an upgrade over the cap is 429 RATE_LIMITED in the API's error shape", async () => {
    const res = socketLimitResponse({ SPOOL_MAX_SOCKETS_PER_OBJECT: "7" });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("5");
    const body = (await res.json()) as { error: { details: { limit: number } } };
    expect(errorCode(body)).toBe("RATE_LIMITED");
    expect(body.error.details.limit).toBe(7);
  });
});
