/**
 * The Cloudflare Queues adapters of spool/client (`queueBinding`, `runQueueConsumer`) proved
 * against Cloudflare's own: ONE consumer handler, written for Cloudflare Queues, runs each
 * scenario both ways — under Miniflare's Queues (`createMessageBatch` / `getQueueResult`,
 * which record what workerd records of a batch) and on a Spool queue over the service
 * binding — and every message ends the same way (acked, or retried).
 *
 * What workerd reports is turned into outcomes by Cloudflare's documented rules: an explicit
 * `ack()`/`retry()` wins; else `retryAll()`/`ackAll()`; else acked when the handler
 * resolved, retried when it threw.
 */
import { exports } from "cloudflare:workers";
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  queueBinding, runQueueConsumer, Spool, type CfMessageBatch, type SpoolBinding,
} from "../../client";
import { uniqueName } from "./helpers";

interface Job {
  n: number;
  /** What the handler does with the message. */
  action: "ack" | "retry" | "retry-later" | "leave" | "ack-then-retry" | "retry-then-ack";
}
type Scenario = { name: string; jobs: Job[]; batch?: "throw" | "retryAll" | "ackAll" };

/** The one handler: a Cloudflare Queues consumer as its user wrote it. */
const worker = {
  async queue(batch: CfMessageBatch<Job>, env: { mode?: Scenario["batch"] }): Promise<void> {
    for (const m of batch.messages) {
      switch (m.body.action) {
        case "ack": m.ack(); break;
        case "retry": m.retry(); break;
        case "retry-later": m.retry({ delaySeconds: 60 }); break;
        case "ack-then-retry": m.ack(); m.retry(); break;
        case "retry-then-ack": m.retry(); m.ack(); break;
        case "leave": break;
      }
    }
    if (env.mode === "retryAll") batch.retryAll();
    if (env.mode === "ackAll") batch.ackAll();
    if (env.mode === "throw") throw new Error("the handler failed");
  },
};

const SCENARIOS: Scenario[] = [
  { name: "ack some, retry some, leave some (implicit ack)", jobs: [{ n: 1, action: "ack" }, { n: 2, action: "retry" }, { n: 3, action: "leave" }, { n: 4, action: "retry-later" }] },
  { name: "throw: explicit acks kept, the rest retried", jobs: [{ n: 1, action: "ack" }, { n: 2, action: "leave" }, { n: 3, action: "retry" }], batch: "throw" },
  { name: "retryAll after explicit acks", jobs: [{ n: 1, action: "ack" }, { n: 2, action: "leave" }], batch: "retryAll" },
  { name: "ackAll after an explicit retry", jobs: [{ n: 1, action: "retry" }, { n: 2, action: "leave" }], batch: "ackAll" },
  { name: "the first explicit call on a message wins", jobs: [{ n: 1, action: "ack-then-retry" }, { n: 2, action: "retry-then-ack" }] },
];

type Outcome = Record<number, "ack" | "retry">;

/** Runs the handler under Miniflare's Queues and applies Cloudflare's rules to what workerd recorded. */
async function underCloudflare(s: Scenario): Promise<Outcome> {
  const batch = createMessageBatch<Job>("jobs", s.jobs.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })));
  const ctx = createExecutionContext();
  let threw = false;
  try {
    await worker.queue(batch, { mode: s.batch });
  } catch {
    threw = true;
  }
  const result = await getQueueResult(batch, ctx);
  const out: Outcome = {};
  batch.messages.forEach((m) => {
    const explicit = result.explicitAcks.includes(m.id) ? "ack" : result.retryMessages.some((r) => r.msgId === m.id) ? "retry" : undefined;
    out[m.body.n] = explicit ?? (result.retryBatch.retry ? "retry" : result.ackAll ? "ack" : threw ? "retry" : "ack");
  });
  return out;
}

const client = (): Spool => new Spool({ binding: exports.SpoolEntrypoint as unknown as SpoolBinding });

/** Runs the same handler on a Spool queue through the adapters; reads each message's fate from the queue. */
async function onSpool(s: Scenario): Promise<Outcome> {
  await using spool = client();
  const name = uniqueName("cfq");
  const producer = queueBinding<Job>(spool, name);
  await producer.sendBatch(s.jobs.map((body) => ({ body })));
  // retryDelay keeps retried messages out of sight, so the run ends after this one batch.
  const consumer = runQueueConsumer(spool.queue<Job>(name), worker, {
    env: { mode: s.batch }, maxBatchSize: s.jobs.length, maxBatchTimeout: 0, retryDelay: 3600, untilEmpty: true, onError: () => {},
  });
  expect(await consumer.closed).toBeUndefined();
  expect(consumer.counts.batches).toBe(1);
  const left = await spool.queue<Job>(name).peek({ limit: 100 });
  const out: Outcome = {};
  for (const job of s.jobs) out[job.n] = left.some((m) => m.body.n === job.n) ? "retry" : "ack";
  // A retry puts the message back, after its delay, with the delivery counted.
  for (const m of left) expect(m).toMatchObject({ attempts: 1, state: "delayed" });
  return out;
}

describe("cloudflare queues adapters", () => {
  for (const s of SCENARIOS) {
    it(`cf queues - one handler, same outcome under Miniflare's Queues and on Spool: ${s.name}`, async () => {
      const cloudflare = await underCloudflare(s);
      const spool = await onSpool(s);
      expect(spool).toEqual(cloudflare);
    });
  }

  it("cf queues - past maxRetries a message goes to the queue's dead-letter queue with its attempts", async () => {
    await using spool = client();
    const name = uniqueName("poison");
    await queueBinding(spool, name).send({ poison: true });
    let deliveries = 0;
    const handler = (batch: CfMessageBatch<unknown>): void => {
      deliveries += batch.messages.length;
      batch.retryAll();
    };
    // Each run takes what is visible; a retried message is visible again at once (retryDelay 0).
    for (let run = 0; run < 3; run++) {
      await runQueueConsumer(spool.queue(name), handler, { maxRetries: 1, maxBatchTimeout: 0, untilEmpty: true }).closed;
    }
    expect(deliveries).toBe(2); // the first delivery and one retry
    expect((await spool.queue(name).info()).stats.messages).toBe(0);
    const [letter] = await spool.queue(`${name}.dlq`).peek();
    expect(letter).toMatchObject({ body: { poison: true }, attempts: 2 });
  });

  it("cf queues - maxBatchSize bounds each batch; retryDelay delays what the handler retried", async () => {
    await using spool = client();
    const name = uniqueName("batches");
    const producer = queueBinding<number>(spool, name);
    await producer.sendBatch(Array.from({ length: 25 }, (_, i) => ({ body: i })));
    const sizes: number[] = [];
    const consumer = runQueueConsumer<number>(spool.queue(name), (batch) => {
      sizes.push(batch.messages.length);
      if (batch.messages.some((m) => m.body === 0)) throw new Error("first batch fails");
    }, { maxBatchSize: 10, maxBatchTimeout: 0, retryDelay: 120, untilEmpty: true, onError: () => {} });
    await consumer.closed;
    expect(sizes).toEqual([10, 10, 5]);
    expect(consumer.counts).toMatchObject({ batches: 3, acked: 15, retried: 10, failedBatches: 1 });
    const left = await spool.queue(name).peek({ limit: 100 });
    expect(left).toHaveLength(10);
    expect(new Set(left.map((m) => m.state))).toEqual(new Set(["delayed"]));
  });

  it("cf queues - send and sendBatch keep each content type's value; delaySeconds delays", async () => {
    await using spool = client();
    const name = uniqueName("types");
    const producer = queueBinding<unknown>(spool, name);
    const when = new Date(1_700_000_000_000);
    await producer.send({ plain: [1, "two", null] }, { contentType: "json" });
    await producer.send("just text", { contentType: "text" });
    await producer.send(new Uint8Array([0, 1, 254, 255]), { contentType: "bytes" });
    await producer.send({ when, tags: new Set(["a"]), sizes: new Map([["x", 1n]]), nothing: undefined });
    await producer.sendBatch([{ body: "later" }], { delaySeconds: 30 });
    await expect(producer.sendBatch([])).rejects.toThrow(TypeError);
    await expect(producer.send("x", { contentType: "text", delaySeconds: 901 })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    const bodies: unknown[] = [];
    await runQueueConsumer(spool.queue(name), (batch: CfMessageBatch<unknown>) => {
      for (const m of batch.messages) {
        expect(m.timestamp).toBeInstanceOf(Date);
        expect(m.attempts).toBe(1);
        bodies.push(m.body);
      }
    }, { maxBatchTimeout: 0, untilEmpty: true }).closed;
    expect(bodies).toHaveLength(4);
    expect(bodies[0]).toEqual({ plain: [1, "two", null] });
    expect(bodies[1]).toBe("just text");
    expect(new Uint8Array(bodies[2] as ArrayBuffer)).toEqual(new Uint8Array([0, 1, 254, 255]));
    expect(bodies[3]).toEqual({ when, tags: new Set(["a"]), sizes: new Map([["x", 1n]]), nothing: undefined });
    expect((await spool.queue(name).peek()).map((m) => m.state)).toEqual(["delayed"]);
  });
});
