// The client across a server restart: live subscribers (WebSocket and SSE) and a queue
// consumer reconnect by themselves, with the broker's persisted state, and resume with no
// gap and no duplicate.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Spool, type ConnectionStatus, type TopicMessage } from "../../client";
import { E2E_ADMIN_KEY, startServer, type LocalServer } from "./server";
import { take, unique, until } from "./client-support";

let server: LocalServer;
let spool: Spool;

beforeAll(async () => {
  server = await startServer();
  spool = new Spool({ url: server.url, token: E2E_ADMIN_KEY });
}, 90_000);

afterAll(async () => {
  await spool?.close();
  await server?.stop();
}, 60_000);

describe("client across a server restart", () => {
  it("client restart - subscribers and a consumer survive a restart and resume with no gap and no duplicate", async () => {
    const topic = spool.topic<number>(unique("t"));
    const queue = spool.queue<string>(unique("q"));
    await topic.publish([0, 1, 2, 3, 4].map((n) => ({ body: n })));
    await queue.configure();

    const statuses: ConnectionStatus[] = [];
    const watch = (async () => {
      for await (const s of spool.status()) statuses.push(s);
    })();
    const ws = topic.subscribe({ from: "earliest", transport: "websocket" });
    const sse = topic.subscribe({ from: "earliest", transport: "sse" });
    const wsIt = ws[Symbol.asyncIterator]();
    const sseIt = sse[Symbol.asyncIterator]();
    const consumed: string[] = [];
    const consumer = queue.consume(async (m) => void consumed.push(m.body));
    const before = { ws: await take(wsIt, 5), sse: await take(sseIt, 5) };
    await until(() => statuses.filter((s) => s.type === "connected").length === 3, "all three streams to be connected");

    await server.stop();
    await until(() => statuses.filter((s) => s.type === "reconnecting").length >= 3, "all three streams to be reconnecting");
    server = await startServer({ port: server.port, persistTo: server.persistTo });

    // Published right after the restart, possibly before the streams are back: they must not be missed.
    await topic.publish([5, 6, 7, 8, 9].map((n) => ({ body: n })));
    await queue.send({ body: "after restart" });
    const after = { ws: await take(wsIt, 5), sse: await take(sseIt, 5) };
    await until(() => consumed.length === 1, "the consumer to get the message sent after the restart");

    const offsets = (ms: TopicMessage<number>[]) => ms.map((m) => m.offset);
    const all = Array.from({ length: 10 }, (_, i) => i);
    expect(offsets([...before.ws, ...after.ws])).toEqual(all);
    expect(offsets([...before.sse, ...after.sse])).toEqual(all);
    expect([...before.ws, ...after.ws].map((m) => m.body)).toEqual(all);
    expect(consumed).toEqual(["after restart"]);
    const reconnected = statuses.filter((s) => s.type === "connected").map((s) => `${s.stream.kind}/${s.stream.transport}`);
    expect(reconnected.sort()).toEqual(["consume/websocket", "consume/websocket", "subscribe/sse", "subscribe/sse", "subscribe/websocket", "subscribe/websocket"]);

    // Nothing more arrives: a duplicate would show up here as an extra message.
    await topic.publish({ body: 10 });
    expect((await take(wsIt, 1))[0]!.offset).toBe(10);
    expect((await take(sseIt, 1))[0]!.offset).toBe(10);
    await Promise.all([ws.unsubscribe(), sse.unsubscribe(), consumer.stop()]);
    void watch;
  }, 120_000);
});
