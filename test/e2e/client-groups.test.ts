// The client against a real server: consumer groups — poll/ack/seek/info and group(g).consume.
import { afterAll, describe, expect, it } from "vitest";
import { NotFoundError, type GroupMessage } from "../../client";
import { adminClient, unique, until } from "./client-support";

const spool = adminClient();
afterAll(() => spool.close());

describe("client groups", () => {
  it("client group - poll leases to one member, ack commits, info shows committed and lag", async () => {
    const topic = spool.topic<string>(unique("t"));
    await topic.publish([{ body: "a" }, { body: "b" }, { body: "c" }]);
    const g = topic.group("workers");
    const created = await g.configure({ visibilityTimeout: 30 });
    expect(created).toMatchObject({ name: "workers", config: { visibilityTimeout: 30, start: "earliest" } });
    const first = await g.poll({ max: 2 });
    expect(first.map((m) => [m.offset, m.body, m.attempts])).toEqual([[0, "a", 1], [1, "b", 1]]);
    expect((await g.poll({ max: 10 })).map((m) => m.body)).toEqual(["c"]); // another member gets the rest
    expect(await g.ack(first)).toEqual({ acked: 2, failed: [] });
    const info = await g.info();
    expect(info.partitions[0]).toMatchObject({ partition: 0, committed: 2, lag: 1, inFlight: 1 });
    expect((await topic.info()).groups).toEqual([{ name: "workers", lag: 1 }]);
  });

  it("client group - seek replays from an offset; receipts of another group fail", async () => {
    const topic = spool.topic<number>(unique("t"));
    await topic.publish([0, 1, 2].map((n) => ({ body: n })));
    const g = topic.group("g1");
    const all = await g.poll({ max: 10 });
    await g.ack(all);
    expect(await g.poll()).toEqual([]);
    await g.seek({ to: 1, partition: 0 });
    expect((await g.poll({ max: 10 })).map((m) => m.body)).toEqual([1, 2]);
    const other = await topic.group("g2").ack(all[0]!);
    expect(other.failed).toEqual([{ receipt: all[0]!.receipt, code: "RECEIPT_INVALID" }]);
    await g.seek({ to: "latest" });
    expect(await g.poll()).toEqual([]);
    await expect(topic.group(unique("never")).info()).rejects.toBeInstanceOf(NotFoundError);
  });

  it("client group - two groups each consume every message; members of one group share them", async () => {
    const topic = spool.topic<number>(unique("t"));
    await topic.configure({ partitions: 2 });
    const count = 20;
    await topic.publish(Array.from({ length: count }, (_, n) => ({ body: n })));
    const seenA1: number[] = [];
    const seenA2: number[] = [];
    const seenB: number[] = [];
    const a1 = topic.group("a").consume(async (m) => void seenA1.push(m.body), { wait: 1 });
    const a2 = topic.group("a").consume(async (m) => void seenA2.push(m.body), { wait: 1 });
    const b = topic.group("b").consume(async (m) => void seenB.push(m.body), { concurrency: 4, wait: 1 });
    await until(() => seenA1.length + seenA2.length === count && seenB.length === count, "both groups to see every message");
    await Promise.all([a1.stop(), a2.stop(), b.stop()]);
    expect([...seenA1, ...seenA2].sort((x, y) => x - y)).toEqual(Array.from({ length: count }, (_, n) => n));
    expect(seenB.sort((x, y) => x - y)).toEqual(Array.from({ length: count }, (_, n) => n));
    await until(async () => (await topic.group("a").info()).partitions.every((p) => p.lag === 0), "group a committed");
    expect(a1.counts.processed + a2.counts.processed).toBe(count);
  });

  it("client group - a handler that throws nacks the message; it is redelivered after the nack delay", async () => {
    const topic = spool.topic<string>(unique("t"));
    await topic.publish({ body: "retry me" });
    const deliveries: GroupMessage<string>[] = [];
    const errors: unknown[] = [];
    const consumer = topic.group("g").consume(async (m) => {
      deliveries.push(m);
      if (m.attempts === 1) throw new Error("first try fails");
    }, { visibilityTimeout: 1, wait: 1, onError: (e) => errors.push(e) });
    await until(() => consumer.counts.processed === 1, "the redelivery to succeed");
    await consumer.stop();
    expect(deliveries.map((m) => [m.offset, m.attempts])).toEqual([[0, 1], [0, 2]]);
    expect(errors).toHaveLength(1);
    expect(await consumer.closed).toBeUndefined();
    expect((await topic.group("g").info()).partitions[0]).toMatchObject({ committed: 1, lag: 0 });
  });

  it("client group - an ack after the lease ended reports RECEIPT_INVALID (as data, not a throw)", async () => {
    const topic = spool.topic<string>(unique("t"));
    await topic.publish({ body: "x" });
    const g = topic.group("g");
    const [m] = await g.poll({ visibilityTimeout: 1 });
    const [redelivered] = await until(async () => {
      const got = await g.poll({ visibilityTimeout: 30 });
      return got.length > 0 && got;
    }, "the lease to end and the message to come back");
    expect(redelivered).toMatchObject({ offset: m!.offset, attempts: 2 });
    const stale = await g.ack(m!);
    expect(stale).toEqual({ acked: 0, failed: [{ receipt: m!.receipt, code: "RECEIPT_INVALID" }] });
    expect(await g.ack(redelivered!)).toEqual({ acked: 1, failed: [] });
  });

  it("client group - nack hands a message back at once or after a delay; attempted: false does not count it", async () => {
    const topic = spool.topic<string>(unique("t"));
    await topic.publish({ body: "x" });
    const g = topic.group("g");
    const [m] = await g.receive();
    expect(await g.nack(m!, { attempted: false })).toEqual({ nacked: 1, failed: [] });
    const [again] = await g.receive();
    expect(again).toMatchObject({ offset: 0, attempts: 1 });
    expect((await g.nack(again!, { delay: 1 })).nacked).toBe(1);
    expect(await g.receive()).toEqual([]);
    const [later] = await until(async () => {
      const got = await g.receive({ wait: 1 });
      return got.length > 0 && got;
    }, "the delayed message to come back");
    expect(later).toMatchObject({ offset: 0, attempts: 2 });
  });

  it("client group - close() lets a receive in flight return and hands its messages back at once, uncounted", async () => {
    const topic = spool.topic<string>(unique("t"));
    await topic.configure({});
    const g = topic.group("g");
    await g.configure({ visibilityTimeout: 60 }); // a stranded lease would hold the message for a minute
    const handled: string[] = [];
    const member = g.consume(async (m) => void handled.push(m.body), { wait: 3 });
    await new Promise((r) => setTimeout(r, 500)); // its long poll is waiting on the server
    const closing = member.close();
    await topic.publish({ body: "arrives while closing" });
    await closing;
    expect(handled).toEqual([]);
    const [next] = await g.receive(); // another member gets it now, not a minute later
    expect(next).toMatchObject({ body: "arrives while closing", attempts: 1 });
    expect(await member.closed).toBeUndefined();
  });
});
