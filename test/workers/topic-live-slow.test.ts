// Slow subscribers never make the object buffer without bound: what a socket may have
// unconfirmed is capped (SUBSCRIBER_WINDOW); a full window pauses the socket (nothing
// more is sent, it reads on from the log as acks come); a socket paused past the grace
// period is closed by the alarm with 4000 and its resume offset; a fast subscriber beside
// a stalled one gets everything. Proved by counts, never by timing: the grace period passes
// by moving the objects' clock (advanceClock) and firing the alarm. Every test runs with
// subscribers served by their partition and by relays (topic-live-modes.ts).
import { describe, expect, it } from "vitest";
import { SLOW_GRACE_MS, SUBSCRIBER_TAG, SUBSCRIBER_WINDOW, unconfirmed, type SubscriberState } from "../../durable-objects/topic/live/socket";
import { advanceClock } from "../../durable-objects/shared/clock";
import { CloseCodes } from "../../durable-objects/shared/socket-limits";
import { uniqueName } from "./helpers";
import { publishOk, putTopic } from "./topic-log-helpers";
import { subscribe, type Subscriber } from "./topic-live-helpers";
import { evictPath, fireHolderAlarm, LIVE_MODES, useLiveMode, type LiveMode } from "./topic-live-modes";

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
const W = SUBSCRIBER_WINDOW.messages;

/** Publishes `n` small messages in batches of 500. */
async function publishMany(t: string, n: number, from = 0): Promise<void> {
  for (let i = from; i < from + n; i += 500) {
    await publishOk(t, range(i, Math.min(i + 500, from + n)).map((k) => ({ body: k })));
  }
}

/** What the object holding the subscribers keeps for each socket. */
async function sockets(mode: LiveMode, t: string): Promise<SubscriberState[]> {
  return mode.inHub(t, (_hub, state) => state.getWebSockets(SUBSCRIBER_TAG).map((ws) => ws.deserializeAttachment() as SubscriberState));
}

/** The grace period passes: every pause deadline is due; then the alarm runs. */
async function graceExpires(mode: LiveMode, t: string): Promise<void> {
  advanceClock(SLOW_GRACE_MS);
  await fireHolderAlarm(mode, t);
}

/** A client catching up after a stall: acks all it has, takes the window that frees, repeats. */
async function catchUp(sub: Subscriber, n: number): Promise<void> {
  while (sub.offsets().length < n) {
    const seen = sub.offsets().length;
    sub.ack(sub.offsets().at(-1)!);
    await sub.until(() => sub.offsets().length >= Math.min(seen + W, n), "a window after an ack");
  }
}

describe.each(LIVE_MODES)("slow subscribers ($name)", (mode) => {
  useLiveMode(mode);

  it("slow - a stalled socket gets one window and no more, a fast one beside it gets everything, and the alarm closes the stalled one with 4000 and resumeFrom", async () => {
    const t = uniqueName();
    await publishOk(t, [{ body: "first" }]);
    const stalled = await subscribe(t, "from=earliest", { autoAck: null });
    const fast = await subscribe(t, "from=earliest", { autoAck: 100 });
    const total = 1 + W * 3;
    await publishMany(t, total - 1, 1);
    await fast.untilOffsets(total);
    await stalled.untilOffsets(W);
    expect(fast.offsets()).toEqual(range(0, total));
    // The stalled socket was handed exactly its window; the object counts no more for it.
    const held = (await sockets(mode, t)).map(unconfirmed);
    expect(Math.max(...held.map((u) => u.messages))).toBe(W);
    expect(held.every((u) => u.messages <= W && u.bytes <= SUBSCRIBER_WINDOW.bytes)).toBe(true);
    expect((await sockets(mode, t)).filter((s) => s.pausedAt !== null)).toHaveLength(1);
    expect(stalled.closed).toBeNull();
    await graceExpires(mode, t);
    await stalled.untilClosed();
    expect(stalled.offsets()).toEqual(range(0, W));
    expect(stalled.closed?.code).toBe(CloseCodes.SLOW_SUBSCRIBER);
    expect(JSON.parse(stalled.closed!.reason)).toEqual({ resumeFrom: W, lastOffset: W - 1 });
    expect(fast.closed).toBeNull();
    // Reconnecting where the close said: the rest, with no gap and no duplicate.
    const resumed = await subscribe(t, `from=${JSON.parse(stalled.closed!.reason).resumeFrom}`, { autoAck: 100 });
    await resumed.untilOffsets(total - W);
    expect([...stalled.offsets(), ...resumed.offsets()]).toEqual(range(0, total));
    fast.close();
    resumed.close();
  });

  it("slow - a paused socket reads on from the log as its acks free the window, in order, and is not closed", async () => {
    const t = uniqueName();
    await publishOk(t, [{ body: 0 }]);
    const slow = await subscribe(t, "from=earliest", { autoAck: null });
    const total = 1 + W * 3;
    await publishMany(t, total - 1, 1);
    await slow.untilOffsets(W);
    expect((await sockets(mode, t))[0]!.pausedAt).not.toBeNull();
    await catchUp(slow, total);
    expect(slow.offsets()).toEqual(range(0, total));
    // Acks un-paused it each time: the grace deadline is gone and the alarm closes nothing.
    expect((await sockets(mode, t))[0]!.pausedAt).toBeNull();
    await graceExpires(mode, t);
    await publishOk(t, [{ body: "still here" }]);
    await slow.untilOffsets(total + 1);
    expect(slow.closed).toBeNull();
    slow.close();
  });

  it("slow - a paused socket stays paused at the right offset across eviction", async () => {
    const t = uniqueName();
    await publishOk(t, [{ body: 0 }]);
    const slow = await subscribe(t, "from=earliest", { autoAck: null });
    await publishMany(t, W + 49, 1);
    await slow.untilOffsets(W);
    await evictPath(mode, t);
    await publishOk(t, [{ body: "after eviction" }]);
    expect((await sockets(mode, t))[0]).toMatchObject({ next: W });
    await catchUp(slow, W + 51);
    expect(slow.offsets()).toEqual(range(0, W + 51));
    slow.close();
  });

  it("slow - the window is bounded in bytes too: big messages stop at about 1 MiB unconfirmed", async () => {
    const t = uniqueName();
    await putTopic(t, { maxMessageBytes: 200_000 });
    const stalled = await subscribe(t, "from=earliest", { autoAck: null });
    const fast = await subscribe(t, "from=earliest", { autoAck: 1 });
    const big = "x".repeat(150_000);
    for (let i = 0; i < 12; i++) await publishOk(t, [{ body: big }]);
    await fast.untilOffsets(12);
    await stalled.untilOffsets(1);
    const mine = (await sockets(mode, t)).find((s) => s.pausedAt !== null)!;
    expect(unconfirmed(mine).bytes).toBeLessThanOrEqual(SUBSCRIBER_WINDOW.bytes);
    await graceExpires(mode, t);
    await stalled.untilClosed();
    const got = stalled.offsets().length;
    expect(got).toBe(mine.next);
    expect(got * 150_000).toBeLessThanOrEqual(SUBSCRIBER_WINDOW.bytes);
    expect(JSON.parse(stalled.closed!.reason).resumeFrom).toBe(got);
    expect(fast.offsets()).toEqual(range(0, 12));
    fast.close();
  });

  it("slow - a message larger than the whole window still goes to an empty window", async () => {
    const t = uniqueName();
    await putTopic(t, { maxMessageBytes: 1_048_576 });
    const sub = await subscribe(t, "", { autoAck: 1 });
    await publishOk(t, [{ body: "y".repeat(SUBSCRIBER_WINDOW.bytes - 100) }, { body: "small" }]);
    await sub.untilOffsets(2);
    expect(sub.offsets()).toEqual([0, 1]);
    sub.close();
  });

  it("slow - history longer than the window is sent a window at a time, as acks come", async () => {
    const t = uniqueName();
    const total = W * 2 + 5;
    await publishMany(t, total);
    const sub = await subscribe(t, "from=earliest", { autoAck: 100 });
    await sub.untilOffsets(total);
    expect(sub.offsets()).toEqual(range(0, total));
    sub.close();
  });
});
