// A message a consumer never ran (taken by prefetch, handed back at close) is not counted as
// an attempt: `nack` with `attempted: false`, over HTTP and over the consumer socket.
import { describe, expect, it } from "vitest";
import { exports } from "cloudflare:workers";
import { ADMIN_KEY, BASE, callJson, errorCode, uniqueName } from "./helpers";
import { statsOf } from "./queue-helpers";

type Received = { messages: Array<{ receipt: string; attempts: number; body: unknown }> };

async function receiveOne(q: string): Promise<{ receipt: string; attempts: number }> {
  const r = await callJson<Received>("POST", `/v1/queues/${q}/receive`, { body: {} });
  expect(r.status).toBe(200);
  expect(r.body.messages).toHaveLength(1);
  return r.body.messages[0]!;
}

describe("queue hand-back", () => {
  it("queue - nack with attempted false makes the message visible at once without counting the delivery", async () => {
    const q = uniqueName("hb");
    await callJson("PUT", `/v1/queues/${q}`, { body: { maxReceives: 1 } });
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { body: "job" } });
    for (let round = 0; round < 3; round++) {
      const m = await receiveOne(q);
      expect(m.attempts).toBe(1); // never more: the earlier deliveries were handed back unrun
      const r = await callJson("POST", `/v1/queues/${q}/nack`, { body: { receipts: [m.receipt], attempted: false } });
      expect(r.body).toEqual({ nacked: 1, failed: [] });
    }
    // With maxReceives 1 a counted nack would have dead-lettered it; it is still here, visible.
    expect(await statsOf(q)).toMatchObject({ visible: 1, inFlight: 0, deadLettered: 0 });
    const counted = await receiveOne(q);
    await callJson("POST", `/v1/queues/${q}/nack`, { body: { receipts: [counted.receipt] } });
    expect(await statsOf(q)).toMatchObject({ messages: 0, deadLettered: 1 }); // an ordinary nack counts
  });

  it("queue - nack attempted must be a boolean (400, nothing changes)", async () => {
    const q = uniqueName("hb");
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { body: 1 } });
    const m = await receiveOne(q);
    const r = await callJson("POST", `/v1/queues/${q}/nack`, { body: { receipts: [m.receipt], attempted: "no" } });
    expect(r.status).toBe(400);
    expect(errorCode(r.body)).toBe("VALIDATION_FAILED");
    expect(await statsOf(q)).toMatchObject({ inFlight: 1, visible: 0 });
  });

  it("queue ws - a nack frame with attempted false hands a pushed message back uncounted", async () => {
    const q = uniqueName("hb");
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { body: "pushed" } });
    const res = await exports.default.fetch(
      new Request(`${BASE}/v1/queues/${q}/consume`, { headers: { upgrade: "websocket", authorization: `Bearer ${ADMIN_KEY}` } }),
    );
    const ws = res.webSocket!;
    const frames: Array<Record<string, unknown>> = [];
    let wake: () => void = () => {};
    ws.addEventListener("message", (e) => {
      frames.push(JSON.parse(e.data as string) as Record<string, unknown>);
      wake();
    });
    ws.accept();
    const until = async (pred: () => boolean): Promise<void> => {
      while (!pred()) await new Promise<void>((r) => (wake = r));
    };
    ws.send(JSON.stringify({ type: "credit", n: 1 }));
    await until(() => frames.some((f) => f.type === "message"));
    const message = frames.find((f) => f.type === "message")!;
    expect(message.attempts).toBe(1);
    ws.send(JSON.stringify({ type: "credit", n: 0 }));
    ws.send(JSON.stringify({ type: "nack", receipts: [message.receipt], delay: 0, attempted: false }));
    await until(() => frames.some((f) => f.type === "result"));
    expect(frames.find((f) => f.type === "result")).toEqual({ type: "result", op: "nack", nacked: 1, failed: [] });
    ws.close(1000, "done");
    expect((await receiveOne(q)).attempts).toBe(1);
  });
});
