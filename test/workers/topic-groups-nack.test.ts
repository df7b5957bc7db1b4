// Consumer groups, round 2: `nack` hands a lease back (now or after a delay, counted as an
// attempt or not), and a deleted topic's groups are gone for good — including from a long
// poll that began before the delete and wakes after the topic was created again.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { advanceClock } from "../../durable-objects/shared/clock";
import type { TopicPartition } from "../../durable-objects/topic/object";
import { call, callJson, uniqueName } from "./helpers";
import { publishOk, putTopic, stub, topicStatus } from "./topic-log-helpers";

interface Polled { partition: number; offset: number; receipt: string; attempts: number }

const g = (t: string, group: string, rest = ""): string => `/v1/topics/${t}/groups/${group}${rest}`;

async function poll(t: string, group: string, body: Record<string, unknown> = {}): Promise<Polled[]> {
  const r = await callJson("POST", g(t, group, "/poll"), { body });
  if (r.status !== 200) throw new Error(`poll: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.messages as Polled[];
}

async function nack(t: string, group: string, body: Record<string, unknown>): Promise<{ status: number; body: any }> {
  return callJson("POST", g(t, group, "/nack"), { body });
}

/** The groups the partition object itself holds (not what a route says). */
function groupsInObject(t: string, partition = 0): Promise<string[]> {
  return runInDurableObject(stub(t, partition), (o: TopicPartition) => o.groups.list(partition).map((x) => x.name));
}

describe("groups - nack", () => {
  it("groups nack - hands a lease back at once: redelivered with the attempt counted; the old receipt is void", async () => {
    const t = uniqueName();
    await publishOk(t, [{ body: "a" }, { body: "b" }]);
    const [first] = await poll(t, "w");
    expect((await nack(t, "w", { receipts: [first!.receipt] })).body).toEqual({ nacked: 1, failed: [] });
    const again = await poll(t, "w", { max: 10 });
    expect(again.map((m) => [m.offset, m.attempts])).toEqual([[0, 2], [1, 1]]);
    const stale = await callJson("POST", g(t, "w", "/ack"), { body: { receipts: [first!.receipt] } });
    expect(stale.body).toEqual({ acked: 0, failed: [{ receipt: first!.receipt, code: "RECEIPT_INVALID" }] });
    // A second nack of the same receipt fails too.
    expect((await nack(t, "w", { receipts: [first!.receipt, "0.0.notalease00"] })).body.failed).toHaveLength(2);
  });

  it("groups nack - attempted: false does not count the delivery (a message taken and never run)", async () => {
    const t = uniqueName();
    await publishOk(t, [{ body: "a" }]);
    const [m] = await poll(t, "w");
    expect(m!.attempts).toBe(1);
    expect((await nack(t, "w", { receipts: [m!.receipt], attempted: false })).body.nacked).toBe(1);
    const [back] = await poll(t, "w");
    expect(back).toMatchObject({ offset: 0, attempts: 1 });
  });

  it("groups nack - with a delay the message stays away until the delay passes (alarm), then comes back", async () => {
    const t = uniqueName();
    await publishOk(t, [{ body: "a" }]);
    const [m] = await poll(t, "w");
    expect((await nack(t, "w", { receipts: [m!.receipt], delay: 60 })).body.nacked).toBe(1);
    expect(await poll(t, "w")).toEqual([]);
    advanceClock(61_000);
    await runDurableObjectAlarm(stub(t));
    expect((await poll(t, "w")).map((x) => [x.offset, x.attempts])).toEqual([[0, 2]]);
  });

  it("groups nack - past maxDeliveries a nacked message is dead-lettered like an expired one", async () => {
    const t = uniqueName();
    const dlq = uniqueName("dlq");
    expect((await call("PUT", g(t, "w"), { body: {} })).status).toBe(404); // the topic must exist first
    await putTopic(t);
    expect((await call("PUT", g(t, "w"), { body: { maxDeliveries: 1, deadLetterQueue: dlq } })).status).toBe(200);
    await publishOk(t, [{ body: "poison" }]);
    const [m] = await poll(t, "w");
    await nack(t, "w", { receipts: [m!.receipt] });
    await runDurableObjectAlarm(stub(t));
    expect(await poll(t, "w")).toEqual([]);
    const letters = await callJson("GET", `/v1/queues/${dlq}/messages?limit=10`);
    expect(letters.body.messages.map((x: { body: unknown }) => x.body)).toEqual(["poison"]);
  });

  it("groups nack - bad input changes nothing", async () => {
    const t = uniqueName();
    await publishOk(t, [{ body: "a" }]);
    const [m] = await poll(t, "w");
    expect((await nack(t, "w", { receipts: [] })).status).toBe(400);
    expect((await nack(t, "w", { receipts: [m!.receipt], delay: -1 })).status).toBe(400);
    expect((await nack(t, "w", { receipts: [m!.receipt], delay: 43_201 })).status).toBe(400);
    expect((await nack(uniqueName("never"), "w", { receipts: [m!.receipt] })).status).toBe(404);
    expect((await callJson("POST", g(t, "w", "/ack"), { body: { receipts: [m!.receipt] } })).body.acked).toBe(1);
  });
});

describe("groups - a deleted topic's groups are gone", () => {
  it("groups delete - deleting the topic removes its groups from every partition object; a new topic starts with none", async () => {
    const t = uniqueName();
    await putTopic(t, { partitions: 2 });
    await publishOk(t, [{ body: 1, key: "a" }, { body: 2, key: "b" }, { body: 3, key: "c" }]);
    await poll(t, "billing", { max: 10 });
    expect(await groupsInObject(t, 0)).toEqual(["billing"]);
    expect(await groupsInObject(t, 1)).toEqual(["billing"]);
    expect((await call("DELETE", `/v1/topics/${t}`)).status).toBe(204);
    await putTopic(t, { partitions: 2 });
    await publishOk(t, Array.from({ length: 20 }, (_, i) => ({ body: i })));
    expect(await groupsInObject(t, 0)).toEqual([]);
    expect(await groupsInObject(t, 1)).toEqual([]);
    expect((await topicStatus(t)).body.groups).toEqual([]);
    expect((await call("GET", g(t, "billing"))).status).toBe(404);
  });

  it("groups delete - a long poll that began before the delete takes nothing from the topic created again, and does not bring the group back", async () => {
    const t = uniqueName();
    await putTopic(t);
    await poll(t, "billing"); // creates the group; the topic is empty
    const pending = poll(t, "billing", { wait: 2 });
    // Let the poll find nothing and start waiting, then delete and re-create the topic under it.
    await new Promise((r) => setTimeout(r, 200));
    expect((await call("DELETE", `/v1/topics/${t}`)).status).toBe(204);
    await putTopic(t);
    await publishOk(t, Array.from({ length: 5 }, (_, i) => ({ body: i })));
    expect(await pending).toEqual([]);
    expect(await groupsInObject(t)).toEqual([]);
    expect((await topicStatus(t)).body.groups).toEqual([]);
    // A new poll is a new member of a new group: it starts at the beginning of the new topic.
    expect((await poll(t, "billing", { max: 10 })).map((m) => [m.offset, m.attempts])).toEqual([[0, 1], [1, 1], [2, 1], [3, 1], [4, 1]]);
  });
});
