// The WebSocket consumer (/consume): credit flow control, ack/nack/extend frames, requeue
// on close, lease expiry, errors, deletion and hibernation.
import { describe, expect, it } from "vitest";
import { exports } from "cloudflare:workers";
import { evictDurableObject } from "cloudflare:test";
import { ADMIN_KEY, BASE, callJson, errorCode, uniqueName } from "./helpers";
import { advance, statsOf, stub } from "./queue-helpers";

type Frame = { type: string; [k: string]: unknown };

/** A consumer socket that records every frame and lets a test await the next ones. */
class Consumer {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | null = null;
  private listeners: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (e) => {
      this.frames.push(JSON.parse(e.data as string) as Frame);
      this.notify();
    });
    ws.addEventListener("close", (e) => {
      this.closed = { code: e.code, reason: e.reason };
      this.notify();
    });
    ws.accept();
  }

  private notify(): void {
    for (const l of this.listeners.splice(0)) l();
  }

  /** Waits until `pred` holds over the frames so far. */
  async until(pred: (frames: Frame[]) => boolean): Promise<Frame[]> {
    while (!pred(this.frames)) {
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) while waiting`);
      await new Promise<void>((r) => this.listeners.push(r));
    }
    return this.frames;
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    while (!this.closed) await new Promise<void>((r) => this.listeners.push(r));
    return this.closed;
  }

  messages(): Frame[] {
    return this.frames.filter((f) => f.type === "message");
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Sends a frame and waits for its `result` reply (replies come back in order). */
  async request(frame: { type: "ack" | "nack" | "extend"; [k: string]: unknown }): Promise<Frame> {
    const before = this.frames.filter((f) => f.type === "result").length;
    this.send(frame);
    const frames = await this.until((fs) => fs.filter((f) => f.type === "result").length > before);
    return frames.filter((f) => f.type === "result")[before]!;
  }

  /** A round trip: every frame the server sent before it has arrived once this resolves. */
  async sync(): Promise<void> {
    await this.request({ type: "extend", receipts: ["sync.0000000000000000"], visibilityTimeout: 1 });
  }
}

async function connect(q: string): Promise<Consumer> {
  const res = await exports.default.fetch(
    new Request(`${BASE}/v1/queues/${q}/consume`, { headers: { upgrade: "websocket", authorization: `Bearer ${ADMIN_KEY}` } }),
  );
  expect(res.status).toBe(101);
  return new Consumer(res.webSocket!);
}

async function send(q: string, bodies: unknown[]): Promise<void> {
  expect((await callJson("POST", `/v1/queues/${q}/messages`, { body: { messages: bodies.map((body) => ({ body })) } })).status).toBe(201);
}

describe("queue WebSocket consumer", () => {
  it("queue ws - nothing is pushed before credit; then never more unacked than the credit window", async () => {
    const q = uniqueName("ws");
    await send(q, [1, 2, 3, 4, 5]);
    const c = await connect(q);
    await c.sync();
    expect(c.messages()).toHaveLength(0);
    c.send({ type: "credit", n: 2 });
    await c.until(() => c.messages().length === 2);
    await c.sync();
    expect(c.messages().map((m) => m.body)).toEqual([1, 2]);
    expect(await statsOf(q)).toMatchObject({ inFlight: 2, visible: 3, consumers: 1 });
    const first = c.messages()[0]!;
    expect(first).toMatchObject({ type: "message", seq: 1, attempts: 1 });
    const result = await c.request({ type: "ack", receipts: [first.receipt] });
    expect(result).toEqual({ type: "result", op: "ack", acked: 1, failed: [] });
    await c.until(() => c.messages().length === 3); // the ack freed one slot
    await c.sync();
    expect(c.messages()).toHaveLength(3);
    c.ws.close(1000, "bye");
  });

  it("queue ws - messages sent while connected are pushed to a socket with free credit", async () => {
    const q = uniqueName("ws");
    await callJson("PUT", `/v1/queues/${q}`);
    const c = await connect(q);
    c.send({ type: "credit", n: 10 });
    await c.sync();
    await send(q, ["live"]);
    const [m] = await c.until(() => c.messages().length === 1).then(() => c.messages());
    expect(m).toMatchObject({ body: "live", attempts: 1 });
    expect(typeof m!.receipt).toBe("string");
    c.ws.close(1000);
  });

  it("queue ws - when the socket closes its unacked messages are visible again at once", async () => {
    const q = uniqueName("ws");
    await send(q, ["a", "b"]);
    const c = await connect(q);
    c.send({ type: "credit", n: 5 });
    await c.until(() => c.messages().length === 2);
    c.ws.close(1000, "done");
    // The close reaches the object asynchronously; receive long-polls until the requeue.
    const r = await callJson("POST", `/v1/queues/${q}/receive`, { body: { max: 10, wait: 20 } });
    const got: string[] = r.body.messages.map((m: { body: string }) => m.body);
    if (got.length < 2) {
      const more = await callJson("POST", `/v1/queues/${q}/receive`, { body: { max: 10, wait: 20 } });
      got.push(...more.body.messages.map((m: { body: string }) => m.body));
    }
    expect(got.sort()).toEqual(["a", "b"]);
    expect(await statsOf(q)).toMatchObject({ consumers: 0 });
  });

  it("queue ws - nack and extend frames answer with result frames", async () => {
    const q = uniqueName("ws");
    await send(q, ["n"]);
    const c = await connect(q);
    c.send({ type: "credit", n: 1 });
    await c.until(() => c.messages().length === 1);
    const m = c.messages()[0]!;
    expect(await c.request({ type: "extend", receipts: [m.receipt], visibilityTimeout: 60 })).toEqual({ type: "result", op: "extend", extended: 1, failed: [] });
    expect(await c.request({ type: "nack", receipts: [m.receipt], delay: 0 })).toEqual({ type: "result", op: "nack", nacked: 1, failed: [] });
    // The nack freed the slot and made the message visible: it comes back on this socket.
    await c.until(() => c.messages().length === 2);
    expect(c.messages()[1]).toMatchObject({ body: "n", attempts: 2 });
    expect(await c.request({ type: "ack", receipts: [m.receipt] })).toEqual({ type: "result", op: "ack", acked: 0, failed: [{ receipt: m.receipt, code: "RECEIPT_INVALID" }] });
    c.ws.close(1000);
  });

  it("queue ws - an expired pushed lease frees its slot: the alarm redelivers it to the socket", async () => {
    const q = uniqueName("ws");
    await send(q, ["slow"]);
    const c = await connect(q);
    c.send({ type: "credit", n: 1 });
    await c.until(() => c.messages().length === 1);
    expect(await advance(q, 31_000)).toBe(true); // the push set the alarm
    await c.until(() => c.messages().length === 2);
    expect(c.messages()[1]).toMatchObject({ body: "slow", attempts: 2 });
    c.ws.close(1000);
  });

  it("queue ws - an invalid frame field gets an error frame; a non-JSON frame also closes with 1003", async () => {
    const q = uniqueName("ws");
    await callJson("PUT", `/v1/queues/${q}`);
    const c = await connect(q);
    c.send({ type: "credit", n: -1 });
    const [err] = await c.until((fs) => fs.some((f) => f.type === "error"));
    expect(err).toMatchObject({ type: "error", code: "VALIDATION_FAILED" });
    await c.sync(); // still open
    c.ws.send("not json");
    expect((await c.waitClosed()).code).toBe(1003);
    expect(c.frames.filter((f) => f.type === "error").map((f) => f.code)).toEqual(["VALIDATION_FAILED", "BAD_REQUEST"]);
  });

  it("queue ws - a frame over 1 MiB closes with 1009 and a flood of frames with 4029 (ws-limits)", async () => {
    const q = uniqueName("ws");
    await send(q, ["kept"]);
    const big = await connect(q);
    big.ws.send(JSON.stringify({ type: "credit", n: 1, pad: "x".repeat(1024 * 1024) }));
    expect((await big.waitClosed()).code).toBe(1009);
    const flood = await connect(q);
    for (let i = 0; i < 1000 && !flood.closed; i++) flood.send({ type: "credit", n: 0 });
    expect((await flood.waitClosed()).code).toBe(4029);
    // Nothing stored was touched.
    expect(await statsOf(q)).toMatchObject({ messages: 1, visible: 1, inFlight: 0 });
  });

  it("queue ws - deleting the queue closes its consumers with 4004", async () => {
    const q = uniqueName("ws");
    await callJson("PUT", `/v1/queues/${q}`);
    const c = await connect(q);
    await c.sync();
    expect((await callJson("DELETE", `/v1/queues/${q}`)).status).toBe(204);
    expect((await c.waitClosed()).code).toBe(4004);
  });

  it("queue ws - per-socket credit and leases survive eviction of the object", async () => {
    const q = uniqueName("ws");
    await send(q, ["x", "y", "z"]);
    const c = await connect(q);
    c.send({ type: "credit", n: 1 });
    await c.until(() => c.messages().length === 1);
    await evictDurableObject(stub(q));
    const result = await c.request({ type: "ack", receipts: [c.messages()[0]!.receipt] });
    expect(result.acked).toBe(1);
    await c.until(() => c.messages().length === 2); // credit 1 remembered from the attachment
    await c.sync();
    expect(c.messages().map((m) => m.body)).toEqual(["x", "y"]);
    c.ws.close(1000);
  });

  it("queue ws - in at-most-once mode each push uses up a unit of credit and carries no receipt", async () => {
    const q = uniqueName("ws");
    await callJson("PUT", `/v1/queues/${q}`, { body: { delivery: "at-most-once" } });
    await send(q, [1, 2, 3, 4, 5]);
    const c = await connect(q);
    c.send({ type: "credit", n: 2 });
    await c.until(() => c.messages().length === 2);
    await c.sync();
    expect(c.messages()).toHaveLength(2);
    expect(c.messages()[0]!.receipt).toBeUndefined();
    expect(await statsOf(q)).toMatchObject({ messages: 3, inFlight: 0 });
    c.send({ type: "credit", n: 2 });
    await c.until(() => c.messages().length === 4);
    await c.sync();
    expect(c.messages().map((m) => m.body)).toEqual([1, 2, 3, 4]);
    c.ws.close(1000);
  });

  it("queue ws - /consume on a queue never created is 404; without an upgrade it is 426", async () => {
    const q = uniqueName("ws");
    const missing = await exports.default.fetch(
      new Request(`${BASE}/v1/queues/${q}/consume`, { headers: { upgrade: "websocket", authorization: `Bearer ${ADMIN_KEY}` } }),
    );
    expect(missing.status).toBe(404);
    expect(errorCode(await missing.json())).toBe("NOT_FOUND");
    await callJson("PUT", `/v1/queues/${q}`);
    const plain = await callJson("GET", `/v1/queues/${q}/consume`);
    expect(plain.status).toBe(426);
    expect(errorCode(plain.body)).toBe("UPGRADE_REQUIRED");
  });
});
