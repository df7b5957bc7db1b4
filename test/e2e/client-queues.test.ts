// The client against a real server: every queue method over HTTP, typed errors, and 429 retries.
import { afterAll, describe, expect, it } from "vitest";
import { BackpressureError, NotFoundError, ConflictError, type QueueMessage } from "../../client";
import { adminClient, loggingFetch, unique, until, type LoggedRequest } from "./client-support";

const spool = adminClient();
afterAll(() => spool.close());

describe("client queues", () => {
  it("client queue - send one or many; generated ids make a resend a duplicate", async () => {
    const q = spool.queue<{ job: number }>(unique("q"));
    const one = await q.send({ body: { job: 1 } });
    expect(one).toMatchObject({ seq: expect.any(Number), duplicate: false });
    expect(one.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    const many = await q.send([{ body: { job: 2 }, headers: { h: "v" } }, { body: { job: 3 }, id: "mine" }]);
    expect(many.map((r) => r.duplicate)).toEqual([false, false]);
    expect(many[1]!.id).toBe("mine");
    const again = await q.send({ body: { job: 1 }, id: one.id });
    expect(again).toEqual({ id: one.id, seq: one.seq, duplicate: true });
    const peek = await q.peek({ limit: 10 });
    expect(peek.map((m) => m.body.job)).toEqual([1, 2, 3]);
    expect(peek[1]).toMatchObject({ headers: { h: "v" }, state: "visible", attempts: 0 });
  });

  it("client queue - receive leases, ack is definitive, a second ack is reported as failed", async () => {
    const q = spool.queue<string>(unique("q"));
    await q.send([{ body: "a" }, { body: "b" }]);
    const got = await q.receive({ max: 10, visibilityTimeout: 60 });
    expect(got.map((m) => m.body)).toEqual(["a", "b"]);
    expect(got[0]).toMatchObject({ attempts: 1, receipt: expect.any(String), sentAt: expect.any(Number) });
    expect(await q.receive()).toEqual([]);
    const acked = await q.ack(got); // messages or receipts
    expect(acked).toEqual({ acked: 2, failed: [] });
    const twice = await q.ack(got[0]!.receipt!);
    expect(twice).toEqual({ acked: 0, failed: [{ receipt: got[0]!.receipt, code: "RECEIPT_INVALID" }] });
    expect((await q.info()).stats).toMatchObject({ messages: 0, acked: 2 });
  });

  it("client queue - nack makes a message visible again and counts the attempt; extend keeps the lease", async () => {
    const q = spool.queue<string>(unique("q"));
    await q.send({ body: "x" });
    const [first] = await q.receive({ visibilityTimeout: 30 });
    expect(await q.extend(first!, 120)).toEqual({ extended: 1, failed: [] });
    expect((await q.peek())[0]!.state).toBe("inFlight");
    expect(await q.nack(first!, { delay: 0 })).toEqual({ nacked: 1, failed: [] });
    const [second] = await q.receive();
    expect(second).toMatchObject({ id: first!.id, attempts: 2 });
    expect(second!.receipt).not.toBe(first!.receipt);
    await q.nack(second!, { delay: 600 });
    expect((await q.peek())[0]!.state).toBe("delayed");
  });

  it("client queue - receive long-polls until a message is sent", async () => {
    const q = spool.queue<string>(unique("q"));
    await q.configure();
    const waiting = q.receive({ wait: 10 });
    await new Promise((r) => setTimeout(r, 300));
    await q.send({ body: "woke" });
    expect((await waiting).map((m) => m.body)).toEqual(["woke"]);
  });

  it("client queue - configure, info, list, purge, delete", async () => {
    const name = unique("q");
    const q = spool.queue(name);
    const created = await q.configure({ visibilityTimeout: 5, fifo: true });
    expect(created).toMatchObject({ name, config: { visibilityTimeout: 5, fifo: true, deadLetterQueue: `${name}.dlq` } });
    await expect(q.configure({ fifo: false })).rejects.toBeInstanceOf(ConflictError);
    await q.send([{ body: 1, group: "g" }, { body: 2, group: "g" }]);
    expect((await q.info()).stats).toMatchObject({ visible: 2, sent: 2 });
    expect((await spool.queues()).find((e) => e.name === name)?.stats.messages).toBe(2);
    expect(await q.purge()).toBe(2);
    await q.delete();
    await expect(q.info()).rejects.toBeInstanceOf(NotFoundError);
    await expect(q.receive()).rejects.toMatchObject({ code: "NOT_FOUND", status: 404 });
  });

  it("client queue - dead letters after maxReceives, and redrive moves them back", async () => {
    const name = unique("q");
    const q = spool.queue<string>(name);
    await q.configure({ maxReceives: 1 });
    await q.send({ body: "poison" });
    const [m] = await q.receive();
    await q.nack(m!, { delay: 0 });
    const dlq = spool.queue<string>(`${name}.dlq`);
    const [dead] = await until(async () => (await dlq.peek()).length > 0 && dlq.peek(), "the dead letter");
    expect(dead).toMatchObject({ id: m!.id, body: "poison", attempts: 1 });
    expect(await dlq.redrive()).toBe(1);
    const [back] = await q.receive();
    expect(back).toMatchObject({ id: m!.id, body: "poison", attempts: 1 });
  });

  it("client queue - 429 QUEUE_FULL is retried after Retry-After and then succeeds", async () => {
    const log: LoggedRequest[] = [];
    const name = unique("q");
    let drained = false;
    const logged = loggingFetch(log)!;
    const client = adminClient({
      fetch: async (input, init) => {
        const res = await logged(input, init);
        // Make room as soon as the server has said "full" (before the client sees it): its retry must then get in.
        if (res.status === 429 && !drained) {
          drained = true;
          await spool.queue(name).purge();
        }
        return res;
      },
    });
    const q = client.queue<string>(name);
    await q.configure({ maxMessages: 1 });
    await q.send({ body: "fills it" });
    const sent = await q.send({ body: "waits" });
    expect(sent.duplicate).toBe(false);
    const posts = log.filter((e) => e.method === "POST");
    expect(posts.map((e) => e.status)).toEqual([201, 429, 201]);
    expect(posts[2]!.at - posts[1]!.at).toBeGreaterThanOrEqual(1000); // Retry-After is at least 1 s
    expect((await spool.queue<string>(name).peek()).map((m) => m.body)).toEqual(["waits"]);
    await client.close();
  });

  it("client queue - retries are bounded: past maxAttempts the BackpressureError reaches the caller, nothing written", async () => {
    const log: LoggedRequest[] = [];
    const client = adminClient({ fetch: loggingFetch(log), retry: { maxAttempts: 2 } });
    const q = client.queue<string>(unique("q"));
    await q.configure({ maxMessages: 1 });
    await q.send({ body: "fills it" });
    const err = await q.send([{ body: "b1" }, { body: "b2" }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackpressureError);
    expect(err).toMatchObject({ code: "QUEUE_FULL", status: 429, retryAfter: expect.any(Number) });
    expect(log.filter((e) => e.method === "POST").map((e) => e.status)).toEqual([201, 429, 429]);
    expect((await q.peek({ limit: 10 })).map((m: QueueMessage<string>) => m.body)).toEqual(["fills it"]);
    await client.close();
  });
});
