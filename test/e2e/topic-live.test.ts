// Live subscriptions and consumer groups against a real local server: a WebSocket (ws) and
// an SSE stream over real HTTP, resume after a disconnect, a stalled TCP reader beside a
// fast one, and a group poll/ack round. The live suite runs twice: on the shared server
// (subscribers served by their partition) and on one that serves every subscriber by a
// relay (SPOOL_LIVE_RELAYS=always).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { adminKey, api, unique, url } from "./helpers";
import { startServer, type LocalServer } from "./server";

interface Frame { type: string; offset?: number; [k: string]: unknown }

/** The server a suite talks to. */
interface Target { url: string; adminKey: string }

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

async function publish(on: Target, t: string, messages: unknown[]): Promise<void> {
  const r = await fetch(`${on.url}/v1/topics/${t}/messages`, {
    method: "POST", body: JSON.stringify({ messages }),
    headers: { authorization: `Bearer ${on.adminKey}`, "content-type": "application/json" },
  });
  await r.body?.cancel();
  expect(r.status).toBe(201);
}

/** A real WebSocket subscriber; `ackEvery` null never acks. */
async function subscribe(on: Target, t: string, query: string, ackEvery: number | null = 100) {
  const ws = new WebSocket(`${on.url.replace("http", "ws")}/v1/topics/${t}/subscribe?${query}`, { headers: { authorization: `Bearer ${on.adminKey}` } });
  const frames: Frame[] = [];
  let closed: { code: number; reason: string } | null = null;
  const offsets = (): number[] => frames.filter((f) => f.type === "message").map((f) => f.offset!);
  ws.on("message", (data) => {
    const f = JSON.parse(String(data)) as Frame;
    frames.push(f);
    if (ackEvery !== null && f.type === "message" && offsets().length % ackEvery === 0) ws.send(JSON.stringify({ type: "ack", offset: f.offset }));
  });
  ws.on("close", (code, reason) => (closed = { code, reason: String(reason) }));
  await new Promise<void>((ok, fail) => {
    ws.once("open", () => ok());
    ws.once("error", fail);
  });
  const until = async (done: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 20_000;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${offsets().length} messages)`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { ws, frames, offsets, until, closed: () => closed };
}

describe.each([
  { mode: "direct", vars: null },
  { mode: "relay", vars: { SPOOL_LIVE_RELAYS: "always" } },
])("e2e live ($mode)", ({ vars }) => {
  let own: LocalServer | undefined;
  const on: Target = { url: "", adminKey: "" };
  beforeAll(async () => {
    if (vars) own = await startServer({ vars });
    on.url = own?.url ?? url();
    on.adminKey = own?.adminKey ?? adminKey();
  });
  afterAll(async () => {
    await own?.stop();
  });

  it("e2e live - a WebSocket gets history then live messages in order, and publish frames are answered", async () => {
    const t = unique("t");
    await publish(on, t, [{ body: "h0" }, { body: "h1" }]);
    const sub = await subscribe(on, t, "from=earliest");
    await sub.until(() => sub.offsets().length === 2, "history");
    sub.ws.send(JSON.stringify({ type: "publish", ref: 7, messages: [{ body: "from the socket" }] }));
    await sub.until(() => sub.offsets().length === 3 && sub.frames.some((f) => f.type === "published"), "own publish");
    expect(sub.offsets()).toEqual([0, 1, 2]);
    expect(sub.frames.find((f) => f.type === "published")).toMatchObject({ ref: 7, messages: [{ partition: 0, offset: 2, duplicate: false }] });
    sub.ws.close();
  });

  it("e2e live - resume from the last offset after a disconnect: no gap, no duplicate", async () => {
    const t = unique("t");
    await publish(on, t, range(0, 5).map((i) => ({ body: i })));
    const first = await subscribe(on, t, "from=earliest");
    await first.until(() => first.offsets().length === 5, "first five");
    first.ws.terminate();
    await publish(on, t, range(5, 9).map((i) => ({ body: i })));
    const again = await subscribe(on, t, `from=${first.offsets().at(-1)! + 1}`);
    await again.until(() => again.offsets().length === 4, "the rest");
    expect([...first.offsets(), ...again.offsets()]).toEqual(range(0, 9));
    again.ws.close();
  });

  it("e2e live - a reader that stops reading TCP does not hold back a fast subscriber", async () => {
    const t = unique("t");
    await publish(on, t, [{ body: 0 }]);
    const stalled = await subscribe(on, t, "from=earliest", null);
    const fast = await subscribe(on, t, "from=earliest", 100);
    (stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    for (let i = 1; i < 2501; i += 500) await publish(on, t, range(i, i + 500).map((k) => ({ body: k })));
    await fast.until(() => fast.offsets().length === 2501, "all messages on the fast socket");
    expect(fast.offsets()).toEqual(range(0, 2501));
    (stalled.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    // It was handed one window (1000 unconfirmed messages) and nothing more: a reply on the
    // same socket comes after everything the server sent it before.
    stalled.ws.send(JSON.stringify({ type: "publish", messages: [{ body: "marker" }] }));
    await stalled.until(() => stalled.frames.some((f) => f.type === "published"), "the published reply");
    expect(stalled.offsets()).toEqual(range(0, 1000));
    stalled.ws.close();
    fast.ws.close();
  });

  it("e2e live - SSE over real HTTP: ids are offsets and Last-Event-ID resumes after one", async () => {
    const t = unique("t");
    await publish(on, t, range(0, 6).map((i) => ({ body: i })));
    const ctrl = new AbortController();
    const res = await fetch(`${on.url}/v1/topics/${t}/events?from=earliest`, {
      headers: { authorization: `Bearer ${on.adminKey}`, "last-event-id": "2" },
      signal: ctrl.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while ((text.match(/^id: /gm) ?? []).length < 3) text += decoder.decode((await reader.read()).value, { stream: true });
    await publish(on, t, [{ body: "live" }]);
    while ((text.match(/^id: /gm) ?? []).length < 4) text += decoder.decode((await reader.read()).value, { stream: true });
    ctrl.abort();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids).toEqual([3, 4, 5, 6]);
    const data = [...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!));
    expect(data.at(-1)).toMatchObject({ partition: 0, offset: 6, body: "live" });
  });
});

describe("e2e groups", () => {
  it("e2e groups - a poll/ack round: lease, ack, lag, and a second group sees everything too", async () => {
    const t = unique("t");
    await publish({ url: url(), adminKey: adminKey() }, t, range(0, 4).map((i) => ({ body: i })));
    const polled = await api("POST", `/v1/topics/${t}/groups/workers/poll`, { max: 3 });
    expect(polled.status).toBe(200);
    expect(polled.body.messages.map((m: { offset: number }) => m.offset)).toEqual([0, 1, 2]);
    const acked = await api("POST", `/v1/topics/${t}/groups/workers/ack`, { receipts: polled.body.messages.map((m: { receipt: string }) => m.receipt) });
    expect(acked.body).toEqual({ acked: 3, failed: [] });
    const status = await api("GET", `/v1/topics/${t}/groups/workers`);
    expect(status.body).toEqual({ partitions: [{ partition: 0, committed: 3, lag: 1, inFlight: 0 }] });
    const other = await api("POST", `/v1/topics/${t}/groups/audit/poll`, { max: 10 });
    expect(other.body.messages).toHaveLength(4);
    const topic = await api("GET", `/v1/topics/${t}`);
    expect(topic.body.groups).toEqual([{ name: "audit", lag: 4 }, { name: "workers", lag: 1 }]);
  });
});
