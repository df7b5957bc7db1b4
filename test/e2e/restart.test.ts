// The broker across crashes. A real local server with persisted state is killed with
// SIGKILL in the middle of load (concurrent sends, a receive/ack loop, topic publishes) and
// started again on the same state, three times. Afterwards every write that was answered 2xx is
// there (queue messages until acked, topic messages at the offset they were given), and no
// message whose ack succeeded is ever delivered again. Writes cut off by the crash (no
// answer) may or may not have landed; the test claims nothing about them. Bounded in time
// and count; 127.0.0.1 only.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type LocalServer } from "./server";

const CRASHES = 3;
/** Per round, the load runs until it did at least this much (or ROUND_MS passed), then the server is killed. */
const ROUND_GOAL = { sends: 200, acks: 50, publishes: 100 };
const ROUND_MS = 20_000;
/** Upper bound of requests one load loop makes in a round, so a round stops by itself. */
const MAX_REQUESTS_PER_LOOP = 400;
const SENDERS = 3;
const PUBLISHERS = 2;
const BATCH = 5;
const DRAIN_MS = 60_000;

let server: LocalServer;

beforeAll(async () => {
  server = await startServer();
}, 90_000);

afterAll(async () => {
  await server?.stop();
}, 60_000);

/** What the clients were told, across every round. */
const ledger = {
  /** Queue message ids whose send was answered 201. */
  sent: new Set<string>(),
  /** Queue message ids whose ack succeeded (200, receipt not in `failed`). */
  acked: new Set<string>(),
  /** Queue message ids whose ack got no answer (the crash): gone or back, either is right. */
  ackUnknown: new Set<string>(),
  /** Topic message id → where the 201 said it was written. */
  published: new Map<string, { partition: number; offset: number }>(),
  /** Deliveries of a message after its ack had succeeded (must stay empty). */
  redelivered: [] as string[],
};

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.adminKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Receives up to `max` messages and acks them all, recording successes (and redeliveries of acked ones). */
async function receiveAndAck(q: string, max: number, wait: number): Promise<string[]> {
  const r = await call("POST", `/v1/queues/${q}/receive`, { max, wait });
  if (r.status !== 200) return [];
  const messages = r.body.messages as Array<{ id: string; receipt: string }>;
  for (const m of messages) if (ledger.acked.has(m.id)) ledger.redelivered.push(m.id);
  if (messages.length === 0) return [];
  let ack: { status: number; body: any };
  try {
    ack = await call("POST", `/v1/queues/${q}/ack`, { receipts: messages.map((m) => m.receipt) });
  } catch (err) {
    for (const m of messages) ledger.ackUnknown.add(m.id);
    throw err;
  }
  if (ack.status !== 200) return messages.map((m) => m.id);
  const failed = new Set((ack.body.failed as Array<{ receipt: string }>).map((f) => f.receipt));
  for (const m of messages) if (!failed.has(m.receipt)) ledger.acked.add(m.id);
  return messages.map((m) => m.id);
}

/** One round of load; resolves when every loop stopped (the server died, or the bound was reached). */
function load(q: string, t: string, round: number, stop: { now: boolean }): Promise<unknown> {
  const loop = async (step: (i: number) => Promise<void>): Promise<void> => {
    for (let i = 0; i < MAX_REQUESTS_PER_LOOP && !stop.now; i++) {
      try {
        await step(i);
      } catch {
        return; // connection refused or cut: the server is gone
      }
    }
  };
  const senders = Array.from({ length: SENDERS }, (_, k) => loop(async (i) => {
    const ids = Array.from({ length: BATCH }, (_, j) => `r${round}-s${k}-${i}-${j}`);
    const r = await call("POST", `/v1/queues/${q}/messages`, { messages: ids.map((id) => ({ id, body: { id } })) });
    if (r.status === 201) for (const id of ids) ledger.sent.add(id);
  }));
  const publishers = Array.from({ length: PUBLISHERS }, (_, k) => loop(async (i) => {
    const ids = Array.from({ length: BATCH }, (_, j) => `r${round}-p${k}-${i}-${j}`);
    const r = await call("POST", `/v1/topics/${t}/messages`, { messages: ids.map((id) => ({ id, key: id, body: { id } })) });
    if (r.status !== 201) return;
    for (const [j, m] of (r.body.messages as Array<{ partition: number; offset: number }>).entries()) {
      ledger.published.set(ids[j]!, { partition: m.partition, offset: m.offset });
    }
  }));
  const receiver = loop(async () => {
    await receiveAndAck(q, 10, 1);
  });
  return Promise.all([...senders, ...publishers, receiver]);
}

async function waitFor(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

describe("crash and restart under load", () => {
  it("restart - after SIGKILL mid-load no acknowledged write is lost and no acked message comes back", async () => {
    const q = "crash-q";
    const t = "crash-t";
    // Short leases, so what was leased when the server died is visible again soon; never dead-letter.
    expect((await call("PUT", `/v1/queues/${q}`, { visibilityTimeout: 2, maxReceives: 1000 })).status).toBe(200);
    expect((await call("PUT", `/v1/topics/${t}`, { partitions: 2 })).status).toBe(200);

    for (let round = 0; round < CRASHES; round++) {
      const before = { sends: ledger.sent.size, acks: ledger.acked.size, publishes: ledger.published.size };
      const stop = { now: false };
      const running = load(q, t, round, stop);
      await waitFor(() => ledger.sent.size - before.sends >= ROUND_GOAL.sends
        && ledger.acked.size - before.acks >= ROUND_GOAL.acks
        && ledger.published.size - before.publishes >= ROUND_GOAL.publishes, ROUND_MS);
      await server.crash(); // requests are in flight right now
      stop.now = true;
      await running;
      expect(ledger.sent.size - before.sends, `sends acknowledged in round ${round}`).toBeGreaterThan(0);
      server = await startServer({ persistTo: server.persistTo });
    }

    // Drain the queue: everything sent and not acked must come out, nothing acked may.
    const seenAfter = new Set<string>();
    const deadline = Date.now() + DRAIN_MS;
    while (Date.now() < deadline) {
      for (const id of await receiveAndAck(q, 100, 1)) seenAfter.add(id);
      const stats = (await call("GET", `/v1/queues/${q}`)).body.stats as { messages: number };
      if (stats.messages === 0) break;
    }
    expect((await call("GET", `/v1/queues/${q}`)).body.stats.messages).toBe(0);
    expect(ledger.redelivered, "messages delivered again after their ack succeeded").toEqual([]);
    const lost = [...ledger.sent].filter((id) => !ledger.acked.has(id) && !ledger.ackUnknown.has(id) && !seenAfter.has(id));
    expect(lost, "queue messages answered 201 and never received").toEqual([]);

    // Every publish answered 201 is in the log, once, where its answer said.
    const logged = new Map<string, Array<{ partition: number; offset: number }>>();
    for (const partition of [0, 1]) {
      for (let from = 0; ;) {
        const r = await call("GET", `/v1/topics/${t}/messages?partition=${partition}&from=${from}&limit=1000`);
        expect(r.status).toBe(200);
        for (const m of r.body.messages as Array<{ id: string; offset: number }>) {
          logged.set(m.id, [...(logged.get(m.id) ?? []), { partition, offset: m.offset }]);
        }
        if (r.body.messages.length < 1000) break;
        from = r.body.next;
      }
    }
    const missing = [...ledger.published].filter(([id, at]) => JSON.stringify(logged.get(id)) !== JSON.stringify([at]));
    expect(missing, "topic messages answered 201 but not in the log at their offset").toEqual([]);
    expect(ledger.sent.size).toBeGreaterThanOrEqual(CRASHES * 5);
    expect(ledger.published.size).toBeGreaterThanOrEqual(CRASHES * 5);
  }, 300_000);
});
