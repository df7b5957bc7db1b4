// The client against a real server: the WebSocket queue consumer, and the idempotent helper.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { idempotent, kvStore, MemoryStore, NotFoundError, ReceiptError, sqliteStore, type KVNamespaceLike, type QueueMessage } from "../../client";
import { adminClient, adminKey, unique, until, url } from "./client-support";

const spool = adminClient();
afterAll(() => spool.close());
const ROOT = resolve(import.meta.dirname, "../..");

describe("client consume", () => {
  it("client consume - acks each message when its handler resolves", async () => {
    const q = spool.queue<number>(unique("q"));
    await q.send([1, 2, 3, 4, 5].map((n) => ({ body: n })));
    const seen: number[] = [];
    const consumer = q.consume(async (m) => void seen.push(m.body));
    await until(() => seen.length === 5, "five messages");
    await until(async () => (await q.info()).stats.messages === 0, "the queue to be empty (acked)");
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5]);
    await consumer.stop();
    expect(consumer.counts).toEqual({ processed: 5, failed: 0, lost: 0 });
    expect(await consumer.closed).toBeUndefined();
  });

  it("client consume - runs at most `concurrency` handlers and holds at most `prefetch` leases", async () => {
    const q = spool.queue<number>(unique("q"));
    await q.send(Array.from({ length: 12 }, (_, n) => ({ body: n })));
    let running = 0;
    let peak = 0;
    const release: (() => void)[] = [];
    const consumer = q.consume(async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((r) => release.push(r));
      running--;
    }, { concurrency: 3, prefetch: 5 });
    await until(() => release.length === 3, "three handlers running");
    const stats = await until(async () => {
      const s = (await q.info()).stats;
      return s.inFlight === 5 && s;
    }, "five leases taken");
    expect(stats.visible).toBe(7);
    expect(running).toBe(3);
    while (consumer.counts.processed < 12) {
      release.splice(0).forEach((r) => r());
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(peak).toBe(3);
    await consumer.stop();
  });

  it("client consume - a handler that throws is nacked and the message comes back with its attempts counted", async () => {
    const q = spool.queue<string>(unique("q"));
    await q.send({ body: "flaky" });
    const attempts: number[] = [];
    const errors: unknown[] = [];
    const consumer = q.consume(async (m) => {
      attempts.push(m.attempts);
      if (m.attempts < 3) throw new Error(`fail ${m.attempts}`);
    }, { nackDelay: () => 0, onError: (e) => errors.push(e) });
    await until(() => consumer.counts.processed === 1, "the third attempt to succeed");
    expect(attempts).toEqual([1, 2, 3]);
    expect(errors.map((e) => (e as Error).message)).toEqual(["fail 1", "fail 2"]);
    await consumer.stop();
    expect((await q.info()).stats.messages).toBe(0);
  });

  it("client consume - the default nack backs off: a failed message is delayed, not redelivered at once", async () => {
    const q = spool.queue<string>(unique("q"));
    await q.send({ body: "x" });
    const consumer = q.consume(async () => {
      throw new Error("no");
    });
    await until(async () => (await q.peek())[0]?.state === "delayed", "the message to be delayed by the nack");
    await consumer.stop();
    expect(consumer.counts.failed).toBe(1);
  });

  it("client consume - a handler longer than the lease keeps its message: the lease is extended", async () => {
    const q = spool.queue<string>(unique("q"));
    await q.configure({ visibilityTimeout: 3 });
    await q.send({ body: "slow" });
    const errors: unknown[] = [];
    let started = false;
    let finish!: () => void;
    const consumer = q.consume(async () => {
      started = true;
      await new Promise<void>((r) => (finish = r));
    }, { visibilityTimeout: 3, onError: (e) => errors.push(e) });
    try {
      await until(() => started, "the handler to start");
      // Three lease lengths later, a competing receiver still finds nothing: the lease was extended.
      const deadline = Date.now() + 9_000;
      while (Date.now() < deadline) {
        expect(await q.receive()).toEqual([]);
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      finish();
    }
    await until(() => consumer.counts.processed === 1, "the handler to finish");
    await until(async () => (await q.info()).stats.messages === 0, "the ack");
    expect(errors).toEqual([]);
    await consumer.stop();
  }, 60_000);

  it("client consume - stop() lets the running handler finish and ack, and hands unstarted messages back", async () => {
    const q = spool.queue<number>(unique("q"));
    await q.send([1, 2, 3].map((n) => ({ body: n })));
    let finish!: () => void;
    const consumer = q.consume(async () => {
      await new Promise<void>((r) => (finish = r));
    }, { concurrency: 1, prefetch: 3 });
    await until(async () => finish !== undefined && (await q.info()).stats.inFlight === 3, "three leased, one running");
    const stopping = consumer.stop();
    finish();
    await stopping;
    const s = (await q.info()).stats;
    expect(s).toMatchObject({ messages: 2, visible: 2, inFlight: 0, acked: 1 });
  });

  it("client consume - at-most-once queues: every message is handled once, credit is granted again", async () => {
    const q = spool.queue<number>(unique("q"));
    await q.configure({ delivery: "at-most-once" });
    await q.send(Array.from({ length: 30 }, (_, n) => ({ body: n })));
    const seen: number[] = [];
    const consumer = q.consume(async (m) => {
      expect(m.receipt).toBeUndefined();
      seen.push(m.body);
    }, { prefetch: 4 });
    await until(() => seen.length === 30, "thirty messages");
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, n) => n));
    await consumer.stop();
  });

  it("client consume - consuming a queue that does not exist ends with NotFoundError, in `closed` and in onError", async () => {
    const errors: unknown[] = [];
    const consumer = spool.queue(unique("never")).consume(() => {}, { onError: (e) => errors.push(e) });
    expect(await consumer.closed).toBeInstanceOf(NotFoundError);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(NotFoundError);
  });

  it("client consume - with waitForQueue it waits for a queue that does not exist yet, then consumes it", async () => {
    const q = spool.queue<string>(unique("later"));
    const seen: string[] = [];
    const errors: unknown[] = [];
    const consumer = q.consume(async (m) => void seen.push(m.body), { waitForQueue: true, onError: (e) => errors.push(e), reconnect: { maxDelayMs: 300 } });
    await new Promise((r) => setTimeout(r, 1000));
    await q.send({ body: "first" });
    await until(() => seen.length === 1, "the message sent once the queue existed");
    expect(seen).toEqual(["first"]);
    expect(errors).toEqual([]);
    await consumer.close();
    expect(await consumer.closed).toBeUndefined();
  });

  it("client consume - the lease length comes from the server: untold of a 2 s queue, a 6 s handler keeps its message and runs once", async () => {
    const q = spool.queue<string>(unique("q"));
    await q.configure({ visibilityTimeout: 2 });
    await q.send({ body: "slow" });
    const runs: number[] = [];
    const errors: unknown[] = [];
    const consumer = q.consume(async (m, { signal }) => {
      runs.push(m.attempts);
      await new Promise((r) => setTimeout(r, 6_000));
      expect(signal.aborted).toBe(false);
    }, { onError: (e) => errors.push(e) }); // no visibilityTimeout option: the consumer must learn it
    await until(() => runs.length === 1, "the handler to start");
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      expect(await q.receive()).toEqual([]); // never visible to a competitor: the lease was extended
      await new Promise((r) => setTimeout(r, 500));
    }
    await until(async () => (await q.info()).stats.acked === 1, "the ack", 10_000);
    expect(runs).toEqual([1]);
    expect(errors).toEqual([]);
    expect(consumer.counts).toEqual({ processed: 1, failed: 0, lost: 0 });
    await consumer.close();
  }, 30_000);

  it("client consume - a lost lease aborts the handler's signal and its message is never acked", async () => {
    const q = spool.queue<string>(unique("q"));
    await q.configure({ visibilityTimeout: 2 });
    await q.send({ body: "doomed" });
    const errors: unknown[] = [];
    let aborted: unknown;
    let started = false;
    const consumer = q.consume(async (_m, { signal }) => {
      started = true;
      await new Promise<void>((r) => signal.addEventListener("abort", () => r(), { once: true }));
      aborted = signal.reason;
    }, { onError: (e) => errors.push(e) });
    await until(() => started, "the handler to start");
    await q.purge(); // the message is gone: the next extend is refused, so the lease is lost
    await until(() => aborted !== undefined, "the handler's signal to abort", 10_000);
    expect(aborted).toBeInstanceOf(ReceiptError);
    await until(() => consumer.counts.processed === 1, "the handler to return");
    expect(consumer.counts.lost).toBe(1);
    // The loss was reported once; no ack went out for a receipt known to be dead.
    expect(errors.map((e) => (e as Error).message).filter((m) => /lease .* lost/.test(m))).toHaveLength(1);
    expect(errors.filter((e) => /ack failed/.test((e as Error).message))).toEqual([]);
    expect((await q.info()).stats.acked).toBe(0);
    await consumer.close();
  }, 30_000);

  it("client consume - a consumer process that crashes mid-message: the message is delivered again", async () => {
    const q = spool.queue<string>(unique("q"));
    await q.configure({ visibilityTimeout: 8 }); // should the server not see the socket die, the lease still ends
    await q.send({ body: "important" });
    const child = await crashingConsumer(q.name);
    const firstId = await child.received;
    child.kill();
    const again: QueueMessage<string>[] = [];
    const consumer = q.consume(async (m) => void again.push(m));
    await until(() => again.length === 1, "redelivery after the crash");
    expect(again[0]).toMatchObject({ id: firstId, body: "important" });
    expect(again[0]!.attempts).toBeGreaterThanOrEqual(2);
    await consumer.stop();
  });
});

describe("client idempotent", () => {
  it("client idempotent - a redelivered message id is skipped once it was processed", async () => {
    const q = spool.queue<string>(unique("q"));
    await q.send({ body: "charge" });
    const effects: string[] = [];
    const store = new MemoryStore();
    const charge = idempotent<QueueMessage<string>>(async (m) => void effects.push(m.body), store);
    let deliveries = 0;
    const consumer = q.consume(async (m, ctx) => {
      deliveries++;
      await charge(m, ctx);
      if (deliveries === 1) throw new Error("crash after the effect, before the ack");
    }, { nackDelay: () => 0 });
    await until(() => consumer.counts.processed === 1, "the redelivery to be acked");
    expect(deliveries).toBe(2);
    expect(effects).toEqual(["charge"]);
    expect(store.size).toBe(1);
    await consumer.stop();
  });

  it("client idempotent - duplicates in flight at the same time run the handler once; a failure is not recorded", async () => {
    const effects: string[] = [];
    let fail = true;
    const store = new MemoryStore();
    const handler = idempotent<{ id: string }>(async (m) => {
      await new Promise((r) => setTimeout(r, 20));
      if (fail) throw new Error("boom");
      effects.push(m.id);
    }, store);
    const ctx = { signal: new AbortController().signal };
    const both = await Promise.allSettled([handler({ id: "a" }, ctx), handler({ id: "a" }, ctx)]);
    expect(both.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(await store.has("a")).toBe(false);
    fail = false;
    await Promise.all([handler({ id: "a" }, ctx), handler({ id: "a" }, ctx)]);
    await handler({ id: "a" }, ctx);
    expect(effects).toEqual(["a"]);
  });

  it("client idempotent - the KV store records ids with an expiry KV accepts", async () => {
    const puts: { key: string; ttl?: number }[] = [];
    const map = new Map<string, string>();
    const kv: KVNamespaceLike = {
      get: async (k) => map.get(k) ?? null,
      put: async (k, v, o) => {
        puts.push({ key: k, ttl: o?.expirationTtl });
        map.set(k, v);
      },
    };
    const store = kvStore(kv);
    expect(await store.has("m1")).toBe(false);
    await store.add("m1", 5);
    expect(await store.has("m1")).toBe(true);
    expect(puts).toEqual([{ key: "spool:processed:m1", ttl: 60 }]);
  });
});

describe("client idempotent - reserve, then commit", () => {
  it("client idempotent - a copy arriving while another run holds the key waits for it and is not run again", async () => {
    const store = new MemoryStore();
    const effects: string[] = [];
    let finish!: () => void;
    const slow = idempotent<{ id: string }>(async (m) => {
      await new Promise<void>((r) => (finish = r));
      effects.push(m.id);
    }, store);
    // Two separate wrappers share the store, as two processes would.
    const other = idempotent<{ id: string }>(async (m) => void effects.push(`other ${m.id}`), store);
    const ctx = { signal: new AbortController().signal };
    const first = slow({ id: "pay-1" }, ctx);
    await until(() => finish !== undefined, "the first run to start");
    const second = other({ id: "pay-1" }, ctx);
    await new Promise((r) => setTimeout(r, 300));
    finish();
    await Promise.all([first, second]);
    expect(effects).toEqual(["pay-1"]);
  });

  it("client idempotent - the handler is given the key for the effect itself", async () => {
    const keys: (string | undefined)[] = [];
    const handler = idempotent<{ id: string; order: string }>(async (_m, { idempotencyKey }) => void keys.push(idempotencyKey), new MemoryStore(), { key: (m) => m.order });
    await handler({ id: "m1", order: "order-7" }, { signal: new AbortController().signal });
    expect(keys).toEqual(["order-7"]);
  });

  it("client idempotent - the node:sqlite store is durable: a key done in one process is done for the next", async () => {
    const { DatabaseSync } = await import("node:sqlite");
    const dir = join(ROOT, "test-results", "client-e2e");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${unique("idem")}.db`);
    const effects: string[] = [];
    const ctx = { signal: new AbortController().signal };
    const db1 = new DatabaseSync(file);
    const run1 = idempotent<{ id: string }>(async (m) => void effects.push(m.id), sqliteStore(db1));
    await run1({ id: "a" }, ctx);
    db1.close();
    const db2 = new DatabaseSync(file); // "after a restart"
    const store2 = sqliteStore(db2);
    const run2 = idempotent<{ id: string }>(async (m) => void effects.push(m.id), store2);
    await run2({ id: "a" }, ctx);
    await run2({ id: "b" }, ctx);
    expect(effects).toEqual(["a", "b"]);
    // A live reservation of another holder is busy; a lapsed one can be taken.
    expect(await store2.reserve("c", "holder-1", 60)).toBe("reserved");
    expect(await store2.reserve("c", "holder-2", 60)).toBe("busy");
    expect(await store2.reserve("c", "holder-1", 60)).toBe("reserved"); // renewal
    await store2.release("c", "holder-1");
    expect(await store2.reserve("c", "holder-2", 60)).toBe("reserved");
    expect(await store2.reserve("a", "holder-3", 60)).toBe("done");
    db2.close();
  });
});

/** Bundles the client (esbuild) and runs a consumer in a child process whose handler never returns. */
async function crashingConsumer(queue: string): Promise<{ received: Promise<string>; kill(): void }> {
  const dir = join(ROOT, "test-results", "client-e2e");
  mkdirSync(dir, { recursive: true });
  const bundle = join(dir, "spool-client.mjs");
  await build({ entryPoints: [join(ROOT, "client/index.ts")], bundle: true, format: "esm", platform: "neutral", outfile: bundle, logLevel: "silent" });
  const script = join(dir, "crashing-consumer.mjs");
  writeFileSync(script, `
    import { Spool } from "./spool-client.mjs";
    const [url, key, queue] = process.argv.slice(2);
    const spool = new Spool({ url, token: key });
    spool.queue(queue).consume(async (m) => {
      console.log("got " + m.id);
      await new Promise(() => {}); // working... until the process dies
    });
  `);
  const child = spawn(process.execPath, [script, url(), adminKey(), queue], { stdio: ["ignore", "pipe", "inherit"] });
  const received = new Promise<string>((ok, fail) => {
    child.stdout.on("data", (d: Buffer) => {
      const m = /got (\S+)/.exec(d.toString());
      if (m) ok(m[1]!);
    });
    child.once("exit", (code) => fail(new Error(`consumer exited early (${code})`)));
  });
  return { received, kill: () => child.kill("SIGKILL") };
}
