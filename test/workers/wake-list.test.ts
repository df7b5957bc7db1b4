// WakeList: waits inside a Durable Object that end at a wake or a deadline without ever
// cancelling a timer (a timer cleared with clearTimeout keeps native memory in a Durable
// Object until it is evicted: see durable-objects/shared/wake-list.ts and
// bench/soak/memory-probe.ts). And the objects' long polls use it: woken by a change, they
// leave no cancelled timer behind.
import { afterEach, describe, expect, it, vi } from "vitest";
import { WakeList } from "../../durable-objects/shared/wake-list";
import { stub, value } from "./queue-helpers";

afterEach(() => vi.restoreAllMocks());

describe("WakeList", () => {
  it("wake-list - a wake ends every wait with true, before its deadline", async () => {
    const list = new WakeList();
    const waits = [list.wait(60_000), list.wait(60_000), list.wait(30_000)];
    expect(list.size).toBe(3);
    list.wake();
    expect(await Promise.all(waits)).toEqual([true, true, true]);
    expect(list.size).toBe(0);
  });

  it("wake-list - a wait nobody wakes ends with false at its deadline, the earlier one first", async () => {
    const list = new WakeList();
    const ended: string[] = [];
    const late = list.wait(60).then((r) => ended.push(`late:${r}`));
    const early = list.wait(10).then((r) => ended.push(`early:${r}`));
    await Promise.all([late, early]);
    expect(ended).toEqual(["early:false", "late:false"]);
    expect(list.size).toBe(0);
  });

  it("wake-list - a wait with a condition stays through wakes at which it does not hold", async () => {
    const list = new WakeList();
    let ready = false;
    const conditional = list.wait(60_000, () => ready);
    const plain = list.wait(60_000);
    list.wake();
    expect(await plain).toBe(true);
    expect(list.size).toBe(1);
    ready = true;
    list.wake();
    expect(await conditional).toBe(true);
  });

  it("wake-list - waits share timers and none is ever cleared", async () => {
    const set = vi.spyOn(globalThis, "setTimeout");
    const clear = vi.spyOn(globalThis, "clearTimeout");
    const list = new WakeList();
    // 100 rounds of 10 waits with the same deadline, each round woken: one timer serves them all.
    for (let round = 0; round < 100; round++) {
      const waits = Array.from({ length: 10 }, () => list.wait(5_000));
      list.wake();
      await Promise.all(waits);
    }
    expect(clear).not.toHaveBeenCalled();
    expect(set.mock.calls.length).toBeLessThanOrEqual(2);
    // A shorter deadline than the pending timer's gets its own, earlier timer, and still ends on time.
    expect(await list.wait(5)).toBe(false);
  });
});

describe("long polls leave no cancelled timer", () => {
  it("wake-list - a queue's long poll woken by a send clears no timer", async () => {
    const q = "wake-list-poll";
    const queue = stub(q);
    await value(queue.send([{ body: "creates the queue" }]));
    await value(queue.receive({ max: 1 }));
    const clear = vi.spyOn(globalThis, "clearTimeout");
    const polls = Array.from({ length: 5 }, () => queue.receive({ max: 1, wait: 20 }));
    // Each send wakes the waiting polls; the one that takes the message returns, the others wait again.
    for (let i = 0; i < 5; i++) await value(queue.send([{ body: i }]));
    const got = await Promise.all(polls.map((p) => value<{ messages: unknown[] }>(p)));
    expect(got.map((r) => r.messages.length)).toEqual([1, 1, 1, 1, 1]);
    expect(clear).not.toHaveBeenCalled();
  });
});
