// Queues against a real local server: the curl walkthrough over real HTTP, real alarms for
// lease expiry and dead-lettering, and the WebSocket consumer over a real socket (ws).
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { adminKey, api, unique, url } from "./helpers";

type Frame = { type: string; [k: string]: unknown };

/** A consumer over a real socket that records frames and lets a test wait for them. */
async function consumer(q: string): Promise<{ ws: WebSocket; frames: Frame[]; until: (pred: (f: Frame[]) => boolean) => Promise<void>; closed: Promise<number> }> {
  const ws = new WebSocket(`${url().replace("http", "ws")}/v1/queues/${q}/consume`, { headers: { authorization: `Bearer ${adminKey()}` } });
  const frames: Frame[] = [];
  let wake: () => void = () => {};
  ws.on("message", (data) => {
    frames.push(JSON.parse(String(data)) as Frame);
    wake();
  });
  const closed = new Promise<number>((r) => ws.on("close", (code) => {
    r(code);
    wake();
  }));
  await new Promise<void>((ok, fail) => {
    ws.once("open", () => ok());
    ws.once("error", fail);
  });
  const until = async (pred: (f: Frame[]) => boolean): Promise<void> => {
    while (!pred(frames)) {
      if (ws.readyState === WebSocket.CLOSED) throw new Error("socket closed while waiting");
      await new Promise<void>((r) => (wake = r));
    }
  };
  return { ws, frames, until, closed };
}

describe("queue e2e", () => {
  it("queue e2e - send, receive, ack and stats over real HTTP", async () => {
    const q = unique("jobs");
    expect((await api("PUT", `/v1/queues/${q}`, { visibilityTimeout: 60 })).status).toBe(200);
    const sent = await api("POST", `/v1/queues/${q}/messages`, { messages: [{ body: { n: 1 } }, { body: { n: 2 }, id: "n2" }] });
    expect(sent.status).toBe(201);
    const got = await api("POST", `/v1/queues/${q}/receive`, { max: 10 });
    expect(got.body.messages.map((m: { body: { n: number } }) => m.body.n)).toEqual([1, 2]);
    const acked = await api("POST", `/v1/queues/${q}/ack`, { receipts: got.body.messages.map((m: { receipt: string }) => m.receipt) });
    expect(acked.body).toEqual({ acked: 2, failed: [] });
    const info = await api("GET", `/v1/queues/${q}`);
    expect(info.body.stats).toMatchObject({ messages: 0, sent: 2, received: 2, acked: 2 });
  });

  it("queue e2e - a real alarm ends an unacked lease and then dead-letters the message", async () => {
    const q = unique("alarm");
    await api("PUT", `/v1/queues/${q}`, { visibilityTimeout: 1, maxReceives: 2 });
    await api("POST", `/v1/queues/${q}/messages`, { id: "poison", body: "p" });
    const first = await api("POST", `/v1/queues/${q}/receive`, {});
    expect(first.body.messages[0].attempts).toBe(1);
    // Nobody acks; the long poll returns when the alarm makes the message visible again.
    const second = await api("POST", `/v1/queues/${q}/receive`, { wait: 10 });
    expect(second.body.messages[0]).toMatchObject({ id: "poison", attempts: 2 });
    // After the second lease ends, the message moves to the dead-letter queue (created by
    // the move, so it answers 404 until then).
    let letter: unknown;
    while (letter === undefined) {
      const dead = await api("GET", `/v1/queues/${q}.dlq/messages`);
      if (dead.status === 200) letter = dead.body.messages[0];
      if (letter === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    expect(letter).toMatchObject({ id: "poison", body: "p", attempts: 2 });
    expect((await api("GET", `/v1/queues/${q}`)).body.stats).toMatchObject({ messages: 0, deadLettered: 1 });
  });

  it("queue e2e - a WebSocket consumer gets pushes within its credit and its unacked messages return when it closes", async () => {
    const q = unique("ws");
    await api("POST", `/v1/queues/${q}/messages`, { messages: [{ body: "a" }, { body: "b" }, { body: "c" }] });
    const c = await consumer(q);
    c.ws.send(JSON.stringify({ type: "credit", n: 2 }));
    await c.until((f) => f.filter((x) => x.type === "message").length === 2);
    const [a] = c.frames.filter((x) => x.type === "message");
    c.ws.send(JSON.stringify({ type: "ack", receipts: [a!.receipt] }));
    await c.until((f) => f.some((x) => x.type === "result"));
    expect(c.frames.find((x) => x.type === "result")).toEqual({ type: "result", op: "ack", acked: 1, failed: [] });
    await c.until((f) => f.filter((x) => x.type === "message").length === 3);
    c.ws.close(1000);
    await c.closed;
    // The two unacked messages are visible again at once for anyone else, and were not
    // leased again to the closing socket on the way (that would make attempts 3).
    const got: { body: string; attempts: number }[] = [];
    while (got.length < 2) {
      const r = await api("POST", `/v1/queues/${q}/receive`, { max: 10, wait: 5 });
      got.push(...r.body.messages);
    }
    expect(got.map((m) => [m.body, m.attempts]).sort()).toEqual([["b", 2], ["c", 2]]);
  });
});
