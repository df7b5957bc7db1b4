// Consumer groups: every group sees every message, members compete with leases, acks are
// definitive, expired leases redeliver (alarm), committed/lag numbers, seek, ordered keys,
// dead-lettering, long polls, and bad input that changes nothing. Leases run out by moving
// the objects' clock (advanceClock) and firing the alarm, never by rewriting deadlines.
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { advanceClock } from "../../durable-objects/shared/clock";
import { DEFAULT_GROUP_CONFIG } from "../../durable-objects/topic/groups/types";
import { callJson, errorCode, uniqueName } from "./helpers";
import { publishOk, putTopic, stub, topicStatus } from "./topic-log-helpers";

interface Polled { partition: number; offset: number; id: string; key: string | null; body: unknown; receipt: string; attempts: number }

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
const bodies = (n: number): { body: number }[] => range(0, n).map((i) => ({ body: i }));
const g = (t: string, group: string, rest = ""): string => `/v1/topics/${t}/groups/${group}${rest}`;

async function poll(t: string, group: string, body: Record<string, unknown> = {}): Promise<Polled[]> {
  const r = await callJson("POST", g(t, group, "/poll"), { body });
  if (r.status !== 200) throw new Error(`poll: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.messages as Polled[];
}

async function ack(t: string, group: string, receipts: string[]): Promise<{ acked: number; failed: { receipt: string; code: string }[] }> {
  const r = await callJson("POST", g(t, group, "/ack"), { body: { receipts } });
  expect(r.status).toBe(200);
  return r.body;
}

async function status(t: string, group: string): Promise<{ partition: number; committed: number; lag: number; inFlight: number }[]> {
  const r = await callJson("GET", g(t, group));
  expect(r.status).toBe(200);
  return r.body.partitions;
}

/** Time passes by `ms` (default: a whole default lease, so every lease runs out); then the alarm runs. */
async function leasesExpire(t: string, partition = 0, ms = DEFAULT_GROUP_CONFIG.visibilityTimeout * 1000): Promise<void> {
  advanceClock(ms);
  await runDurableObjectAlarm(stub(t, partition));
}

describe("consumer groups", () => {
  it("groups - two groups each see every message", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(7));
    const a = await poll(t, "a", { max: 100 });
    const b = await poll(t, "b", { max: 100 });
    expect(a.map((m) => m.offset)).toEqual(range(0, 7));
    expect(b.map((m) => m.offset)).toEqual(range(0, 7));
    expect(a[2]).toMatchObject({ partition: 0, offset: 2, body: 2, key: null, attempts: 1, headers: {} });
    expect(typeof a[2]!.receipt).toBe("string");
  });

  it("groups - members of one group never hold the same message at once", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(30));
    const polls = await Promise.all(range(0, 8).map(() => poll(t, "workers", { max: 5 })));
    const offsets = polls.flat().map((m) => m.offset);
    expect(offsets.length).toBe(30);
    expect(new Set(offsets).size).toBe(30);
    expect(await poll(t, "workers", { max: 100 })).toEqual([]);
    expect((await status(t, "workers"))[0]).toMatchObject({ committed: 0, lag: 30, inFlight: 30 });
  });

  it("groups - committed is the lowest unacked offset and lag is next - committed; acks are definitive", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(5));
    const got = await poll(t, "c", { max: 3 });
    expect((await ack(t, "c", [got[0]!.receipt, got[2]!.receipt])).acked).toBe(2);
    expect((await status(t, "c"))[0]).toEqual({ partition: 0, committed: 1, lag: 4, inFlight: 1 });
    await ack(t, "c", [got[1]!.receipt]);
    expect((await status(t, "c"))[0]).toEqual({ partition: 0, committed: 3, lag: 2, inFlight: 0 });
    // An ack that succeeded is never followed by a redelivery, and a second ack fails.
    const again = await ack(t, "c", [got[1]!.receipt]);
    expect(again).toEqual({ acked: 0, failed: [{ receipt: got[1]!.receipt, code: "RECEIPT_INVALID" }] });
    await leasesExpire(t);
    expect((await poll(t, "c", { max: 10 })).map((m) => m.offset)).toEqual([3, 4]);
  });

  it("groups - an expired lease redelivers after the alarm, and its old receipt no longer acks", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(2));
    const [first] = await poll(t, "r", { max: 1, visibilityTimeout: 1 });
    expect(await poll(t, "r", { max: 1 })).toMatchObject([{ offset: 1 }]);
    // Offset 0's one-second lease runs out; offset 1's 30-second lease does not.
    await leasesExpire(t, 0, 1000);
    const [redelivered] = await poll(t, "r", { max: 5 });
    expect(redelivered).toMatchObject({ offset: 0, attempts: 2 });
    expect(redelivered!.receipt).not.toBe(first!.receipt);
    expect((await ack(t, "r", [first!.receipt])).failed).toHaveLength(1);
    expect((await ack(t, "r", [redelivered!.receipt])).acked).toBe(1);
  });

  it("groups - seek replays and skips: earliest, latest, an offset, a time", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(3));
    advanceClock(100_000); // offsets 3-5 are written 100 s after 0-2
    await publishOk(t, range(3, 6).map((i) => ({ body: i })));
    const all = await poll(t, "s", { max: 100 });
    await ack(t, "s", all.map((m) => m.receipt));
    expect((await status(t, "s"))[0]).toMatchObject({ committed: 6, lag: 0 });

    const seek = (body: unknown) => callJson("POST", g(t, "s", "/seek"), { body });
    expect((await seek({ to: "earliest" })).status).toBe(200);
    expect((await poll(t, "s", { max: 100 })).map((m) => m.offset)).toEqual(range(0, 6));
    const r = await seek({ to: 4, partition: 0 });
    expect(r.body.partitions).toEqual([{ partition: 0, committed: 4, lag: 2, inFlight: 0 }]);
    const replay = await poll(t, "s", { max: 100 });
    expect(replay.map((m) => m.offset)).toEqual([4, 5]);
    await seek({ to: "latest" });
    expect(await poll(t, "s", { max: 100 })).toEqual([]);
    expect((await ack(t, "s", [replay[0]!.receipt])).failed).toHaveLength(1); // seek voided the leases
    const ts = (await callJson("GET", `/v1/topics/${t}/messages?from=3&limit=1`)).body.messages[0].timestamp as number;
    expect((await seek({ since: ts })).body.partitions[0].committed).toBe(3);
    expect((await poll(t, "s", { max: 100 })).map((m) => m.offset)).toEqual([3, 4, 5]);
  });

  it("groups - lag numbers across partitions, and GET /v1/topics/{t} lists groups with lag", async () => {
    const t = uniqueName();
    await putTopic(t, { partitions: 3 });
    const published = await publishOk(t, range(0, 30).map((i) => ({ body: i, key: `k${i}` })));
    const perPartition = range(0, 3).map((p) => published.filter((m) => m.partition === p).length);
    const got = await poll(t, "lagging", { max: 10 });
    await ack(t, "lagging", got.map((m) => m.receipt));
    const st = await status(t, "lagging");
    expect(st.map((s) => s.partition)).toEqual([0, 1, 2]);
    const totalLag = st.reduce((n, s) => n + s.lag, 0);
    expect(st.every((s, p) => s.lag === perPartition[p]! - s.committed)).toBe(true);
    expect(totalLag).toBe(30 - st.reduce((n, s) => n + s.committed, 0));
    await poll(t, "fresh", { max: 1, partition: 2 });
    const { body } = await topicStatus(t);
    expect(body.groups).toEqual([{ name: "fresh", lag: 30 }, { name: "lagging", lag: totalLag }]);
  });

  it("groups - poll without a partition takes from any partition", async () => {
    const t = uniqueName();
    await putTopic(t, { partitions: 4 });
    const published = await publishOk(t, range(0, 40).map((i) => ({ body: i, key: `key-${i}` })));
    const seen: Polled[] = [];
    for (let i = 0; i < 10 && seen.length < 40; i++) seen.push(...(await poll(t, "any", { max: 7 })));
    expect(seen).toHaveLength(40);
    const key = (m: { partition: number; offset: number }) => `${m.partition}/${m.offset}`;
    expect(new Set(seen.map(key))).toEqual(new Set(published.map(key)));
    expect((await ack(t, "any", seen.map((m) => m.receipt))).acked).toBe(40);
    expect((await status(t, "any")).every((s) => s.lag === 0 && s.inFlight === 0)).toBe(true);
  });

  it("groups - ordered keeps at most one message per key in flight, redelivering in order", async () => {
    const t = uniqueName();
    await putTopic(t, {});
    expect((await callJson("PUT", g(t, "o"), { body: { ordered: true } })).body.config.ordered).toBe(true);
    await publishOk(t, [
      { body: "a1", key: "a" }, { body: "a2", key: "a" }, { body: "b1", key: "b" }, { body: "n1" }, { body: "a3", key: "a" }, { body: "n2" },
    ]);
    const first = await poll(t, "o", { max: 10 });
    expect(first.map((m) => m.body)).toEqual(["a1", "b1", "n1", "n2"]);
    expect(await poll(t, "o", { max: 10 })).toEqual([]);
    await ack(t, "o", first.filter((m) => m.body !== "a1").map((m) => m.receipt));
    // a1's lease runs out (the only one left): a1 again, never a2 before it.
    await leasesExpire(t);
    const again = await poll(t, "o", { max: 10 });
    expect(again.map((m) => m.body)).toEqual(["a1"]);
    await ack(t, "o", [again[0]!.receipt]);
    expect((await poll(t, "o", { max: 10 })).map((m) => m.body)).toEqual(["a2"]);
  });

  it("groups - past maxDeliveries a message moves to the dead-letter queue and the group moves on", async () => {
    const t = uniqueName();
    const dlq = uniqueName("dlq");
    await publishOk(t, [{ body: "poison", id: "poison-1", headers: { h: "1" } }, { body: "fine" }]);
    const put = await callJson("PUT", g(t, "d"), { body: { maxDeliveries: 2, deadLetterQueue: dlq } });
    expect(put.body).toEqual({ name: "d", config: { visibilityTimeout: 30, maxDeliveries: 2, deadLetterQueue: dlq, ordered: false, start: "earliest" } });
    for (let attempt = 1; attempt <= 2; attempt++) {
      const got = await poll(t, "d", { max: 10 });
      expect(got.find((m) => m.offset === 0)).toMatchObject({ attempts: attempt });
      const fine = got.find((m) => m.offset === 1);
      if (fine) await ack(t, "d", [fine.receipt]);
      await leasesExpire(t);
    }
    expect(await poll(t, "d", { max: 10 })).toEqual([]);
    expect((await status(t, "d"))[0]).toMatchObject({ committed: 2, lag: 0, inFlight: 0 });
    const letters = await callJson("GET", `/v1/queues/${dlq}/messages?limit=10`);
    expect(letters.status).toBe(200);
    expect(letters.body.messages).toHaveLength(1);
    expect(letters.body.messages[0]).toMatchObject({ id: "poison-1", body: "poison", headers: { h: "1" }, attempts: 2 });
  });

  it("groups - a long poll returns as soon as a message is published", async () => {
    const t = uniqueName();
    await putTopic(t, { partitions: 2 });
    const waiting = poll(t, "long", { max: 5, wait: 10 });
    await publishOk(t, [{ body: "wake", key: "x" }]);
    const got = await waiting;
    expect(got.map((m) => m.body)).toEqual(["wake"]);
  });

  it("groups - PUT start latest skips what is already there; config changes keep the position", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(4));
    const put = await callJson("PUT", g(t, "late"), { body: { start: "latest", visibilityTimeout: 5 } });
    expect(put.status).toBe(200);
    expect((await status(t, "late"))[0]).toMatchObject({ committed: 4, lag: 0 });
    await publishOk(t, bodies(1));
    expect((await callJson("PUT", g(t, "late"), { body: { visibilityTimeout: 9 } })).body.config).toMatchObject({ visibilityTimeout: 9, start: "latest" });
    expect((await poll(t, "late", { max: 10 })).map((m) => m.offset)).toEqual([4]);
  });
});

describe("consumer groups - bad input", () => {
  it("groups - receipts of another group, of a group that does not exist, and garbage fail with RECEIPT_INVALID", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(2));
    const [m] = await poll(t, "mine", { max: 1 });
    await poll(t, "other", { max: 1 });
    const forged = m!.receipt.replace(/\.(\w+)$/, ".AAAAAAAAAAAAAAAAAAAAAAAA");
    for (const [group, receipts] of [["other", [m!.receipt]], ["nobody", [m!.receipt]], ["mine", ["bogus", forged, "9.0.abcdefghij"]]] as const) {
      const r = await ack(t, group, [...receipts]);
      expect(r.acked, group).toBe(0);
      expect(r.failed).toEqual(receipts.map((receipt) => ({ receipt, code: "RECEIPT_INVALID" })));
    }
    // Nothing changed: the real receipt still acks.
    expect((await status(t, "mine"))[0]).toMatchObject({ inFlight: 1 });
    expect((await ack(t, "mine", [m!.receipt])).acked).toBe(1);
  });

  it("groups - GET and seek of a group never created are 404; a missing topic is 404", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(1));
    for (const [method, path, body] of [
      ["GET", g(t, "ghost"), undefined],
      ["POST", g(t, "ghost", "/seek"), { to: "earliest" }],
      ["POST", g(uniqueName("none"), "x", "/poll"), {}],
      ["POST", g(uniqueName("none"), "x", "/ack"), { receipts: ["a"] }],
      ["PUT", g(uniqueName("none"), "x"), {}],
    ] as const) {
      const r = await callJson(method, path, { body });
      expect(r.status, path).toBe(404);
      expect(errorCode(r.body)).toBe("NOT_FOUND");
    }
    expect((await topicStatus(t)).body.groups).toEqual([]);
  });

  it("groups - invalid bodies and names are 400 and create nothing", async () => {
    const t = uniqueName();
    await putTopic(t, { partitions: 2 });
    await publishOk(t, bodies(3));
    const cases: [string, string, unknown, string][] = [
      ["POST", g(t, "v", "/poll"), { max: 0 }, "VALIDATION_FAILED"],
      ["POST", g(t, "v", "/poll"), { max: 101 }, "VALIDATION_FAILED"],
      ["POST", g(t, "v", "/poll"), { wait: 21 }, "VALIDATION_FAILED"],
      ["POST", g(t, "v", "/poll"), { partition: 2 }, "VALIDATION_FAILED"],
      ["POST", g(t, "v", "/poll"), { visibilityTimeout: 0 }, "VALIDATION_FAILED"],
      ["POST", g(t, "v", "/ack"), { receipts: [] }, "VALIDATION_FAILED"],
      ["PUT", g(t, "v"), { visibilityTimeout: 0 }, "VALIDATION_FAILED"],
      ["PUT", g(t, "v"), { start: "middle" }, "VALIDATION_FAILED"],
      ["PUT", g(t, "v"), { deadLetterQueue: "bad name" }, "VALIDATION_FAILED"],
      ["PUT", g(t, "v"), { surprise: true }, "VALIDATION_FAILED"],
      ["POST", g(t, "v", "/seek"), { to: 3 }, "VALIDATION_FAILED"],
      ["POST", g(t, "v", "/seek"), {}, "VALIDATION_FAILED"],
      ["POST", g(t, "v", "/seek"), { to: "earliest", since: 5 }, "VALIDATION_FAILED"],
      ["POST", g(t, "v", "/seek"), { to: 1, partition: 5 }, "VALIDATION_FAILED"],
      ["POST", g(t, "bad*name", "/poll"), {}, "INVALID_NAME"],
    ];
    for (const [method, path, body, code] of cases) {
      const r = await callJson(method, path, { body });
      expect(r.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(errorCode(r.body), JSON.stringify(body)).toBe(code);
    }
    expect((await callJson("GET", g(t, "v"))).status).toBe(404);
    expect((await topicStatus(t)).body.groups).toEqual([]);
  });
});
