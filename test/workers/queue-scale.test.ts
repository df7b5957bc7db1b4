// At 100,000 messages deep, send, receive, ack, nack and the alarm read a handful of rows:
// every hot-path query is served by an index (a scan would read ~100,000).
import { describe, expect, it } from "vitest";
import { runInDurableObject } from "cloudflare:test";
import type { QueueObject } from "../../durable-objects/queue/object";
import { now } from "../../durable-objects/shared/clock";
import type { QueueSendResult, ReceivedMessage } from "../../protocol/queues";
import type { Result } from "../../protocol/errors";
import { callJson, uniqueName } from "./helpers";
import { stub, withStore } from "./queue-helpers";

const DEPTH = 100_000;
/** Generous: a handful of index lookups per operation, far from a scan. */
const MAX_ROWS_READ = 200;

/** Fills the queue with DEPTH visible messages (one group on FIFO queues) through the store, in one transaction. */
async function seed(q: string, fifo: boolean): Promise<void> {
  expect((await callJson("PUT", `/v1/queues/${q}`, { body: { fifo, maxMessages: 1_000_000 } })).status).toBe(200);
  await withStore(q, (store, _obj, state) => {
    store.fifo = fifo;
    const sentAt = now();
    state.storage.transactionSync(() => {
      for (let i = 1; i <= DEPTH; i++) {
        store.send({ id: `seed-${i}`, body: '"x"', headers: null, grp: "", bytes: 3, sentAt, visibleAt: null, attempts: 0, origin: null });
      }
    });
  });
}

/** Runs `op` inside the object and returns what it returned and how many rows its SQL read. */
async function measured<T>(q: string, op: (obj: QueueObject) => Promise<T>): Promise<{ value: T; rowsRead: number }> {
  return runInDurableObject(stub(q), async (obj: QueueObject, state) => {
    const sql = state.storage.sql;
    const exec = sql.exec;
    const cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
    sql.exec = ((query: string, ...bindings: unknown[]) => {
      const cursor = exec.call(sql, query, ...bindings);
      cursors.push(cursor);
      return cursor;
    }) as typeof exec;
    try {
      const value = await op(obj);
      expect(cursors.length, "the spy sees the object's SQL").toBeGreaterThan(0);
      return { value, rowsRead: cursors.reduce((n, c) => n + c.rowsRead, 0) };
    } finally {
      sql.exec = exec;
    }
  });
}

function ok<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

describe("queue at depth", () => {
  it("queue - send, receive, ack, nack and the alarm read few rows with 100,000 messages queued", async () => {
    const q = uniqueName("deep");
    await seed(q, false);
    const send = await measured(q, async (o) => ok(await o.send([{ body: "new", id: "fresh" }])));
    expect(send.value.messages[0]!.seq).toBe(DEPTH + 1);
    expect(send.rowsRead).toBeLessThan(MAX_ROWS_READ);
    const dup = await measured(q, async (o) => ok(await o.send([{ body: "new", id: "fresh" }])));
    expect(dup.value.messages[0]!.duplicate).toBe(true);
    expect(dup.rowsRead).toBeLessThan(MAX_ROWS_READ);

    const recv = await measured(q, async (o) => ok(await o.receive({ max: 10 })));
    expect(recv.value.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(recv.rowsRead).toBeLessThan(MAX_ROWS_READ);
    const receipts = recv.value.messages.map((m) => m.receipt!);

    const ack = await measured(q, async (o) => ok(await o.ack(receipts.slice(0, 5))));
    expect(ack.value.acked).toBe(5);
    expect(ack.rowsRead).toBeLessThan(MAX_ROWS_READ);
    const nack = await measured(q, async (o) => ok(await o.nack(receipts.slice(5), 10)));
    expect(nack.value.nacked).toBe(5);
    expect(nack.rowsRead).toBeLessThan(MAX_ROWS_READ);
    const alarm = await measured(q, (o) => o.alarm());
    expect(alarm.rowsRead).toBeLessThan(MAX_ROWS_READ);
  }, 60_000);

  it("queue - a FIFO receive behind a blocked group of 100,000 reads few rows", async () => {
    const q = uniqueName("deepfifo");
    await seed(q, true);
    const first = await measured(q, async (o) => ok(await o.receive({ max: 10 })));
    expect(first.value.messages.map((m: ReceivedMessage) => m.seq)).toEqual([1]);
    const blocked = await measured(q, async (o) => ok(await o.receive({ max: 10 })));
    expect(blocked.value.messages).toEqual([]);
    expect(blocked.rowsRead).toBeLessThan(MAX_ROWS_READ);
    const other = await measured(q, async (o) => ok(await o.send([{ body: "b", group: "other" }])) as QueueSendResult);
    expect(other.rowsRead).toBeLessThan(MAX_ROWS_READ);
    const flows = await measured(q, async (o) => ok(await o.receive({ max: 10 })));
    expect(flows.value.messages.map((m) => m.body)).toEqual(["b"]);
    expect(flows.rowsRead).toBeLessThan(MAX_ROWS_READ);
    const ack = await measured(q, async (o) => ok(await o.ack([first.value.messages[0]!.receipt!])));
    expect(ack.value.acked).toBe(1);
    expect(ack.rowsRead).toBeLessThan(MAX_ROWS_READ);
    const next = await measured(q, async (o) => ok(await o.receive({ max: 10 })));
    expect(next.value.messages.map((m) => m.seq)).toEqual([2]);
  }, 60_000);
});
