import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CostMeter, perMessage, type CostCounts } from "../../bench/worker/meter";
import { QueueObject } from "../../durable-objects/queue/object";
import { TopicPartition } from "../../durable-objects/topic/object";
import { Catalog } from "../../durable-objects/catalog/catalog";
import { callJson, uniqueName } from "./helpers";
import { createTopic, drain, putSubscription, setHooks } from "./subscription-helpers";
import { subscribe } from "./topic-live-helpers";

const meter = new CostMeter();
beforeAll(() => meter.install({ QueueObject, TopicPartition, Catalog }));
afterAll(() => meter.uninstall());

async function measure(fn: () => Promise<unknown>): Promise<CostCounts> {
  meter.start();
  await fn();
  return meter.stop();
}
const msgs = (n: number) => Array.from({ length: n }, (_, i) => ({ body: { seq: i, user: `user-${i}`, action: "page.view" } }));
function show(label: string, c: CostCounts, n: number) {
  const p = perMessage(c, n);
  console.log(`${label}: per msg req ${p.requests.toFixed(3)} read ${p.rowsRead.toFixed(2)} written ${p.rowsWritten.toFixed(2)} | total ${JSON.stringify(c)}`);
}

describe("cost exp", () => {
  it("publish", async () => {
    const t = uniqueName("t");
    await createTopic(t);
    await callJson("POST", `/v1/topics/${t}/messages`, { body: { messages: msgs(1) } });
    for (const n of [1, 100, 1000]) {
      const reps = n === 1 ? 20 : n === 100 ? 5 : 2;
      const c = await measure(async () => { for (let i = 0; i < reps; i++) expect((await callJson("POST", `/v1/topics/${t}/messages`, { body: { messages: msgs(n) } })).status).toBe(201); });
      show(`publish-${n}`, c, n * reps);
    }
  });
  it("queue", async () => {
    const q = uniqueName("q");
    await callJson("PUT", `/v1/queues/${q}`, { body: {} });
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { messages: msgs(1) } });
    await callJson("POST", `/v1/queues/${q}/receive`, { body: { max: 1 } }).then((r) => callJson("POST", `/v1/queues/${q}/ack`, { body: { receipts: r.body.messages.map((m: any) => m.receipt) } }));
    let c = await measure(async () => { for (let i = 0; i < 5; i++) await callJson("POST", `/v1/queues/${q}/messages`, { body: { messages: msgs(100) } }); });
    show("send-100", c, 500);
    c = await measure(async () => { for (let i = 0; i < 20; i++) await callJson("POST", `/v1/queues/${q}/messages`, { body: { messages: msgs(1) } }); });
    show("send-1", c, 20);
    const receipts: string[][] = [];
    c = await measure(async () => { for (let i = 0; i < 5; i++) receipts.push((await callJson("POST", `/v1/queues/${q}/receive`, { body: { max: 100 } })).body.messages.map((m: any) => m.receipt)); });
    show("receive-100", c, 500);
    c = await measure(async () => { for (const r of receipts.slice(0, 4)) await callJson("POST", `/v1/queues/${q}/ack`, { body: { receipts: r } }); });
    show("ack-100", c, 400);
    c = await measure(async () => { await callJson("POST", `/v1/queues/${q}/nack`, { body: { receipts: receipts[4] } }); });
    show("nack-100", c, 100);
  });
  it("groups", async () => {
    const t = uniqueName("t");
    await createTopic(t);
    await callJson("POST", `/v1/topics/${t}/messages`, { body: { messages: msgs(500) } });
    await callJson("POST", `/v1/topics/${t}/groups/g/poll`, { body: { max: 1 } }).then((r) => callJson("POST", `/v1/topics/${t}/groups/g/ack`, { body: { receipts: r.body.messages.map((m: any) => m.receipt) } }));
    const receipts: string[][] = [];
    let c = await measure(async () => { for (let i = 0; i < 4; i++) receipts.push((await callJson("POST", `/v1/topics/${t}/groups/g/poll`, { body: { max: 100 } })).body.messages.map((m: any) => m.receipt)); });
    show("group-poll-100", c, 400);
    c = await measure(async () => { for (const r of receipts) await callJson("POST", `/v1/topics/${t}/groups/g/ack`, { body: { receipts: r } }); });
    show("group-ack-100", c, 400);
  });
  it("forward", async () => {
    const t = uniqueName("t");
    await createTopic(t);
    const q = uniqueName("q");
    await putSubscription(t, "s", { queue: q });
    await callJson("POST", `/v1/topics/${t}/messages`, { body: { messages: msgs(1) } });
    await drain(t);
    await callJson("POST", `/v1/topics/${t}/messages`, { body: { messages: msgs(100) } });
    const c = await measure(() => drain(t));
    show("forward-queue", c, 100);
    const t2 = uniqueName("t");
    await createTopic(t2);
    await putSubscription(t2, "w", { url: "http://127.0.0.1:9/hook" });
    await setHooks(t2, 0, { fetch: async () => new Response("ok") });
    await callJson("POST", `/v1/topics/${t2}/messages`, { body: { messages: msgs(1) } });
    await drain(t2);
    await callJson("POST", `/v1/topics/${t2}/messages`, { body: { messages: msgs(100) } });
    const c2 = await measure(() => drain(t2));
    show("webhook", c2, 100);
  });
  it("live", async () => {
    const t = uniqueName("t");
    await createTopic(t);
    await callJson("POST", `/v1/topics/${t}/messages`, { body: { messages: msgs(1) } });
    const c0 = await measure(async () => { for (let i = 0; i < 20; i++) await callJson("POST", `/v1/topics/${t}/messages`, { body: { messages: msgs(1) } }); });
    show("publish-1 no sub", c0, 20);
    const sub = await subscribe(t, "from=latest", { autoAck: 10 });
    const c = await measure(async () => { for (let i = 0; i < 20; i++) await callJson("POST", `/v1/topics/${t}/messages`, { body: { messages: msgs(1) } }); await sub.untilOffsets(20); });
    show("publish-1 + live", c, 20);
    sub.close();
  });
});
