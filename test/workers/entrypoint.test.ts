/**
 * SpoolEntrypoint, as another Worker's service binding sees it (`exports.SpoolEntrypoint`
 * is the entrypoint bound as a service): typed RPC with errors as data, the same rules as
 * the routes (they are the routes), the SDK over the binding (`new Spool({binding})`) with
 * typed errors, live streams through the binding's fetch, `withToken` narrowing; and the
 * objects' `runDue` and the test kit's control path, which does not exist here (no
 * SPOOL_TEST_CONTROL binding, as in any deployment).
 */
import { env, exports } from "cloudflare:workers";
import { createExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { AuthError, InvalidRequestError, NotFoundError, Spool, unwrapResult, type SpoolBinding } from "../../client";
import { advanceClock, clockOffset, now } from "../../durable-objects/shared/clock";
import { partitionStub, queueStub } from "../../durable-objects/env";
import { SpoolEntrypoint } from "../../worker/entrypoint";
import { call, uniqueName } from "./helpers";
import { mint } from "./token-helpers";

const binding = exports.SpoolEntrypoint;
const spool = (): Spool => new Spool({ binding: binding as unknown as SpoolBinding });

describe("entrypoint rpc", () => {
  it("binding rpc - typed calls answer values, and errors as data with their codes", async () => {
    const q = uniqueName("rpc");
    const sent = await binding.queueSend(q, [{ body: { n: 1 }, id: "m-1" }]);
    expect(sent).toEqual({ ok: true, value: { messages: [{ id: "m-1", seq: 1, duplicate: false }] } });
    const received = unwrapResult(await binding.queueReceive(q, { max: 5 }));
    expect(received.messages.map((m) => m.body)).toEqual([{ n: 1 }]);
    expect(unwrapResult(await binding.queueAck(q, [received.messages[0]!.receipt!]))).toEqual({ acked: 1, failed: [] });
    expect(await binding.queueDelete(q)).toEqual({ ok: true, value: null });

    const missing = await binding.queueInfo(uniqueName("never"));
    expect(missing.ok).toBe(false);
    if (!missing.ok) expect(missing.error.code).toBe("NOT_FOUND");
    expect(() => unwrapResult(missing)).toThrow(NotFoundError);
  });

  it("binding rpc - the routes' rules hold: names, body depth ≤ 64, dead-letter authorisation, quotas of the route", async () => {
    const badName = await binding.queueSend("bad name!", [{ body: 1 }]);
    expect(badName.ok ? null : badName.error.code).toBe("INVALID_NAME");
    const deep = JSON.parse("[".repeat(65) + "]".repeat(65)) as unknown;
    const tooDeep = await binding.topicPublish(uniqueName("deep"), [{ body: deep }]);
    expect(tooDeep.ok ? null : tooDeep.error.code).toBe("VALIDATION_FAILED");
    expect(() => unwrapResult(tooDeep)).toThrow(InvalidRequestError);
    const partitions = await binding.topicConfigure(uniqueName("wide"), { partitions: 65 });
    expect(partitions.ok ? null : partitions.error.code).toBe("VALIDATION_FAILED");
    // A token holding `manage` on a queue but not `send` on its dead-letter queue may not name it.
    const q = uniqueName("dlq-auth");
    const token = await mint({ [`queues/${q}`]: ["manage", "send"] });
    const refused = await binding.request("PUT", `/v1/queues/${q}`, { body: { deadLetterQueue: uniqueName("elsewhere") }, token });
    expect(refused.ok ? null : refused.error.code).toBe("FORBIDDEN");
  });

  it("binding rpc - a deployment without SPOOL_ADMIN_KEY (HTTP refuses everything) still answers its binding as the admin", async () => {
    const unconfigured = new SpoolEntrypoint(createExecutionContext(), { ...env, SPOOL_ADMIN_KEY: undefined });
    const q = uniqueName("no-admin-key");
    expect((await unconfigured.queueSend(q, [{ body: 1 }])).ok).toBe(true);
    expect(unwrapResult(await unconfigured.queueInfo(q)).stats.messages).toBe(1);
    const http = await unconfigured.fetch(new Request(`https://spool.test/v1/queues/${q}`, { headers: { authorization: "Bearer guess" } }));
    expect(http.status).toBe(401); // a credential that is sent must still be valid
  });

  it("binding rpc - a token narrows a call; a bad token is refused as over HTTP", async () => {
    const mine = uniqueName("mine");
    // `send` on the queue and on its default dead-letter queue, which creating it demands.
    const token = await mint({ [`queues/${mine}*`]: ["send"] });
    expect((await binding.request("POST", `/v1/queues/${mine}/messages`, { body: { body: 1 }, token })).ok).toBe(true);
    const other = await binding.request("POST", `/v1/queues/${uniqueName("other")}/messages`, { body: { body: 1 }, token });
    expect(other.ok ? null : other.error.code).toBe("FORBIDDEN");
    const forged = await binding.request("GET", "/v1/queues", { token: "not-a-token" });
    expect(forged.ok ? null : forged.error.code).toBe("UNAUTHORIZED");
  });
});

describe("sdk over a binding", () => {
  it("binding sdk - the same SDK: send, receive, ack, topics, lists, typed errors", async () => {
    await using client = spool();
    const jobs = client.queue<{ task: string }>(uniqueName("jobs"));
    await jobs.send([{ body: { task: "a" } }, { body: { task: "b" } }]);
    const got = await jobs.receive({ max: 10 });
    expect(got.map((m) => m.body.task).sort()).toEqual(["a", "b"]);
    expect((await jobs.ack(got)).acked).toBe(2);
    const topic = client.topic<number>(uniqueName("nums"));
    await topic.publish([{ body: 1 }, { body: 2 }]);
    expect((await topic.read({ from: 0 })).messages.map((m) => m.body)).toEqual([1, 2]);
    expect((await client.queues()).some((q) => q.name === jobs.name)).toBe(true);
    await expect(client.queue(uniqueName("never")).info()).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.queue("bad name!").send({ body: 1 })).rejects.toBeInstanceOf(InvalidRequestError);
  });

  it("binding sdk - withToken narrows the admin binding to the token's capabilities", async () => {
    await using admin = spool();
    const allowed = uniqueName("allowed");
    const narrowed = admin.withToken(await mint({ [`queues/${allowed}*`]: ["send", "receive"] }));
    try {
      await narrowed.queue(allowed).send({ body: "ok" });
      await expect(narrowed.queue(uniqueName("denied")).send({ body: "no" })).rejects.toBeInstanceOf(AuthError);
      await expect(narrowed.queues()).rejects.toMatchObject({ code: "FORBIDDEN" });
    } finally {
      await narrowed.close();
    }
  });

  it("binding sdk - a live subscription and a queue consumer run over WebSockets through the binding's fetch", async () => {
    await using client = spool();
    const topic = client.topic<string>(uniqueName("live"));
    await topic.configure({});
    const sub = topic.subscribe({ from: "earliest" });
    await topic.publish([{ body: "one" }, { body: "two" }]);
    const seen: string[] = [];
    for await (const m of sub) {
      seen.push(m.body);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(["one", "two"]);

    const queue = client.queue<number>(uniqueName("pushed"));
    await queue.send([{ body: 1 }, { body: 2 }, { body: 3 }]);
    const handled: number[] = [];
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const consumer = queue.consume(async (m) => {
      handled.push(m.body);
      if (handled.length === 3) done();
    });
    await all;
    await consumer.close();
    expect(handled.sort()).toEqual([1, 2, 3]);
    expect((await queue.info()).stats.messages).toBe(0);
  });
});

describe("clock control", () => {
  it("test control - without the SPOOL_TEST_CONTROL binding the control path does not exist and the clock does not move", async () => {
    expect((env as unknown as Record<string, unknown>).SPOOL_TEST_CONTROL).toBeUndefined();
    const before = clockOffset();
    const body = JSON.stringify({ ms: 3_600_000, objects: {} });
    for (const headers of [{}, { "spool-test-control": "guess" }] as Record<string, string>[]) {
      const res = await call("POST", "/__spool/test/advance", { raw: body, headers: { "content-type": "application/json", ...headers } });
      expect(res.status).toBe(404);
    }
    expect(clockOffset()).toBe(before);
  });

  it("runDue - a queue runs its due lease expiry when the moved clock reached it, and only re-arms before", async () => {
    const q = uniqueName("due");
    await using client = spool();
    await client.queue(q).send({ body: "x" });
    await client.queue(q).receive({ visibilityTimeout: 30 });
    const stub = queueStub(env, q);
    const early = await stub.runDue();
    expect(early.ran).toBe(false);
    expect(early.next).toBeGreaterThan(now());
    advanceClock(31_000);
    const due = await stub.runDue();
    expect(due.ran).toBe(true);
    expect((await client.queue(q).peek()).map((m) => m.state)).toEqual(["visible"]);
  });

  it("runDue - a topic partition forwards into a queue once it is due, and reports what is left for later", async () => {
    await using client = spool();
    const t = uniqueName("fwd");
    const target = uniqueName("fwd-q");
    await client.topic(t).configure({});
    await client.topic(t).fanOut("into").configure({ queue: target });
    await client.topic(t).publish([{ body: 1 }]);
    const report = await partitionStub(env, t, 0).runDue();
    expect(report.ran).toBe(true);
    expect(report.next === null || report.next > now()).toBe(true);
    expect((await client.queue(target).peek()).map((m) => m.body)).toEqual([1]);
  });
});
