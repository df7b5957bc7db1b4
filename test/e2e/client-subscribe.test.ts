// The client against a real server: live subscriptions over WebSocket and SSE as async iterables.
import { connect, createServer, type Socket as NetSocket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { GapError, NotFoundError, Spool, type ConnectionStatus, type Gap, type TransportName } from "../../client";
import { adminClient, adminKey, mintToken, take, unique, until, url } from "./client-support";

const spool = adminClient();
afterAll(() => spool.close());

describe.each<TransportName>(["websocket", "sse"])("client subscribe over %s", (transport) => {
  it(`client subscribe (${transport}) - from earliest: history, then live messages, in offset order`, async () => {
    const topic = spool.topic<string>(unique("t"));
    await topic.publish([{ body: "h0" }, { body: "h1" }]);
    const sub = topic.subscribe({ from: "earliest", transport });
    const it = sub[Symbol.asyncIterator]();
    const history = await take(it, 2);
    await topic.publish({ body: "live2" });
    const live = await take(it, 1);
    expect([...history, ...live].map((m) => [m.offset, m.body])).toEqual([[0, "h0"], [1, "h1"], [2, "live2"]]);
    expect(sub.resumeFrom).toBe(3);
    await sub.unsubscribe();
    expect(await sub.closed).toBeUndefined();
  });

  it(`client subscribe (${transport}) - from latest gets only what is published after subscribing`, async () => {
    const topic = spool.topic<string>(unique("t"));
    await topic.publish({ body: "before" });
    const sub = topic.subscribe({ transport });
    const statuses = spool.status();
    await until(async () => (await statuses.next()).value?.type === "connected", "connected");
    await topic.publish({ body: "after" });
    const [m] = await take(sub[Symbol.asyncIterator](), 1);
    expect(m).toMatchObject({ offset: 1, body: "after", partition: 0 });
    await statuses.return?.();
    await sub.unsubscribe();
  });

  it(`client subscribe (${transport}) - from an offset, on another partition`, async () => {
    const topic = spool.topic<number>(unique("t"));
    await topic.configure({ partitions: 2 });
    const published = await topic.publish([1, 2, 3, 4, 5, 6].map((n) => ({ body: n, key: `k${n}` })));
    const inP1 = published.filter((r) => r.partition === 1);
    expect(inP1.length).toBeGreaterThan(1);
    const sub = topic.subscribe({ partition: 1, from: 1, transport });
    const got = await take(sub[Symbol.asyncIterator](), inP1.length - 1);
    expect(got.map((m) => m.id)).toEqual(inP1.slice(1).map((r) => r.id));
    expect(got.every((m) => m.partition === 1)).toBe(true);
    await sub.unsubscribe();
  });

  it(`client subscribe (${transport}) - breaking out of for-await unsubscribes`, async () => {
    const topic = spool.topic<number>(unique("t"));
    await topic.publish([1, 2, 3].map((n) => ({ body: n })));
    const sub = topic.subscribe({ from: "earliest", transport });
    const seen: number[] = [];
    for await (const m of sub) {
      seen.push(m.body);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual([1, 2]);
    expect(await sub.closed).toBeUndefined();
  });

  it(`client subscribe (${transport}) - await using disposes the subscription`, async () => {
    const topic = spool.topic<number>(unique("t"));
    await topic.publish({ body: 1 });
    let escaped: { closed: Promise<Error | undefined> } | undefined;
    {
      await using sub = topic.subscribe({ from: "earliest", transport });
      escaped = sub;
      expect((await take(sub[Symbol.asyncIterator](), 1))[0]!.body).toBe(1);
    }
    expect(await escaped!.closed).toBeUndefined();
  });

  it(`client subscribe (${transport}) - a subscription to a topic that does not exist ends with NotFoundError`, async () => {
    const sub = spool.topic(unique("never")).subscribe({ from: "earliest", transport });
    const err = await sub.closed;
    expect(err).toBeInstanceOf(NotFoundError);
    await expect(sub[Symbol.asyncIterator]().next()).rejects.toBeInstanceOf(NotFoundError);
  });

  it(`client subscribe (${transport}) - a gap (offsets removed by retention) throws GapError, or goes to onGap and the stream goes on`, async () => {
    const topic = spool.topic<string>(unique("t"));
    await topic.configure({ retention: 1 });
    await topic.publish([{ body: "old0" }, { body: "old1" }]);
    await until(async () => (await topic.read()).first >= 2, "retention to remove offsets 0-1", 20_000);
    await topic.publish({ body: "new2" });

    const strict = topic.subscribe({ from: 0, transport });
    const err = await strict[Symbol.asyncIterator]().next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GapError);
    expect(err).toMatchObject({ code: "GAP", partition: 0, from: 0, to: 2 });
    expect(await strict.closed).toBeInstanceOf(GapError);

    const gaps: Gap[] = [];
    const statuses: ConnectionStatus[] = [];
    const watcher = (async () => {
      for await (const s of spool.status()) if (s.type === "gap") statuses.push(s);
    })();
    const lenient = topic.subscribe({ from: 0, transport, onGap: (g) => gaps.push(g) });
    const [m] = await take(lenient[Symbol.asyncIterator](), 1);
    expect(m).toMatchObject({ offset: 2, body: "new2" });
    expect(gaps).toEqual([{ partition: 0, from: 0, to: 2 }]);
    await lenient.unsubscribe();
    await until(() => statuses.length > 0, "a gap status");
    expect(statuses[0]).toMatchObject({ type: "gap", from: 0, to: 2, stream: { kind: "subscribe", transport } });
    void watcher;
  });
});

describe("client subscribe - status and flow control", () => {
  it("client subscribe - transport auto moves to SSE when WebSockets are blocked on the way", async () => {
    const real = globalThis.WebSocket;
    // A network that refuses every WebSocket handshake while plain HTTP gets through.
    class Blocked extends EventTarget {
      readyState = 3;
      constructor() {
        super();
        setTimeout(() => {
          this.dispatchEvent(new Event("error"));
          this.dispatchEvent(Object.assign(new Event("close"), { code: 1006, reason: "" }));
        }, 0);
      }
      send(): void {}
      close(): void {}
    }
    globalThis.WebSocket = Blocked as unknown as typeof WebSocket;
    const client = adminClient();
    try {
      const topic = client.topic<string>(unique("t"));
      await topic.publish([{ body: "a" }, { body: "b" }]);
      const statuses: ConnectionStatus[] = [];
      const watch = (async () => {
        for await (const s of client.status()) statuses.push(s);
      })();
      const sub = topic.subscribe({ from: "earliest" }); // transport defaults to "auto"
      const got = await take(sub[Symbol.asyncIterator](), 2);
      expect(got.map((m) => m.body)).toEqual(["a", "b"]);
      const connected = statuses.filter((s) => s.type === "connected");
      expect(connected.map((s) => s.stream.transport)).toEqual(["sse"]);
      expect(statuses[0]).toMatchObject({ type: "connecting", stream: { transport: "websocket" } });
      await client.close();
      await watch;
    } finally {
      globalThis.WebSocket = real;
      await client.close();
    }
  });

  it("client subscribe - a handshake that is never answered times out and the stream connects again", async () => {
    // A proxy in front of the server that takes the first connection and never answers it
    // (a wedged load balancer, a server starting up); every later one goes through.
    const target = new URL(url());
    const held: NetSocket[] = [];
    let connections = 0;
    const proxy = createServer((inbound) => {
      if (++connections === 1) return void held.push(inbound);
      const outbound = connect(Number(target.port), target.hostname);
      inbound.pipe(outbound).pipe(inbound);
      inbound.on("error", () => outbound.destroy());
      outbound.on("error", () => inbound.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const port = (proxy.address() as { port: number }).port;
    const client = new Spool({ url: `http://127.0.0.1:${port}`, token: adminKey(), connectTimeoutMs: 500 });
    try {
      const name = unique("t");
      await spool.topic<string>(name).publish({ body: "first" });
      const statuses: ConnectionStatus[] = [];
      const watch = (async () => {
        for await (const s of client.status()) statuses.push(s);
      })();
      // One partition named: the WebSocket handshake is this client's first connection.
      const sub = client.topic<string>(name).subscribe({ partition: 0, from: "earliest", transport: "websocket" });
      const [m] = await take(sub[Symbol.asyncIterator](), 1);
      expect(m).toMatchObject({ offset: 0, body: "first" });
      expect(held).toHaveLength(1); // the first handshake really was left hanging
      expect(statuses.map((s) => s.type)).toContain("reconnecting");
      await client.close();
      await watch;
    } finally {
      await client.close();
      for (const s of held) s.destroy();
      await new Promise((r) => proxy.close(r));
    }
  });

  it("client subscribe - status() reports connecting, connected and closed for a stream", async () => {
    const client = adminClient();
    const topic = client.topic(unique("t"));
    await topic.publish({ body: 0 });
    const seen: ConnectionStatus["type"][] = [];
    const done = (async () => {
      for await (const s of client.status()) seen.push(s.type);
    })();
    const sub = topic.subscribe({ from: "earliest" });
    await take(sub[Symbol.asyncIterator](), 1);
    await client.close(); // ends the subscription and the status iterator
    await done;
    expect(seen).toEqual(["connecting", "connected", "closed"]);
    expect(await sub.closed).toBeUndefined();
  });

  it("client subscribe - a reader slower than the stream keeps every message, in order, with bounded buffering", async () => {
    const topic = spool.topic<number>(unique("t"));
    const count = 2500;
    for (let i = 0; i < count; i += 500) await topic.publish(Array.from({ length: 500 }, (_, j) => ({ body: i + j })));
    const sub = topic.subscribe({ from: "earliest", bufferSize: 200 });
    let expected = 0;
    for await (const m of sub) {
      expect(m.offset).toBe(expected);
      expect(m.body).toBe(expected);
      expected++;
      if (expected % 250 === 0) await new Promise((r) => setTimeout(r, 20));
      if (expected === count) break;
    }
    expect(expected).toBe(count);
  });
});

describe("client subscribe - every partition of a topic", () => {
  /** A topic of 4 partitions holding `count` keyed messages; resolves with what was published. */
  async function fourPartitions(count: number, name = unique("t")) {
    const topic = spool.topic<number>(name);
    await topic.configure({ partitions: 4 });
    const published = await topic.publish(Array.from({ length: count }, (_, n) => ({ body: n, key: `k${n}` })));
    expect(new Set(published.map((p) => p.partition)).size).toBe(4);
    return { topic, published };
  }

  it("client subscribe - without `partition` it merges every partition: each in offset order, one lifetime, positions per partition", async () => {
    const { topic, published } = await fourPartitions(40);
    const sub = topic.subscribe({ from: "earliest" });
    expect(sub.partition).toBeUndefined();
    const got = await take(sub[Symbol.asyncIterator](), 40);
    expect(got.map((m) => m.id).sort()).toEqual(published.map((p) => p.id).sort());
    for (let p = 0; p < 4; p++) {
      const offsets = got.filter((m) => m.partition === p).map((m) => m.offset);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
    expect(sub.partitions.sort()).toEqual([0, 1, 2, 3]);
    const expected = Object.fromEntries([0, 1, 2, 3].map((p) => [p, published.filter((r) => r.partition === p).length]));
    expect(sub.positions).toEqual(expected);
    await until(() => sub.state === "connected", "every partition connected");
    await sub.close();
    expect(sub.state).toBe("closed");
    expect(await sub.closed).toBeUndefined();
  });

  it("client subscribe - a token with only `subscribe` follows every partition (it may ask the partition count)", async () => {
    const { topic } = await fourPartitions(8);
    const { token } = await mintToken({ [`topics/${topic.name}`]: ["subscribe"] });
    const browser = new Spool({ url: url(), token });
    await expect(browser.topic(topic.name).info()).rejects.toMatchObject({ status: 403 });
    expect(await browser.topic(topic.name).partitions()).toBe(4);
    const got = await take(browser.topic<number>(topic.name).subscribe({ from: "earliest" })[Symbol.asyncIterator](), 8);
    expect(got.map((m) => m.body).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await browser.close();
  });

  it("client subscribe - saved positions resume each partition where it stopped: no gap, no duplicate", async () => {
    const { topic } = await fourPartitions(20);
    const first = topic.subscribe({ from: "earliest" });
    const seen = await take(first[Symbol.asyncIterator](), 10);
    const saved = first.positions;
    await first.close();
    // Whatever the first subscription delivered is below its saved positions, and only that.
    for (const m of seen) expect(m.offset).toBeLessThan(saved[m.partition] ?? 0);
    await topic.publish(Array.from({ length: 4 }, (_, n) => ({ body: 100 + n, key: `late${n}` })));
    const rest = await take(topic.subscribe({ from: saved })[Symbol.asyncIterator](), 14);
    const all = [...seen, ...rest].map((m) => `${m.partition}:${m.offset}`);
    expect(new Set(all).size).toBe(24);
    expect(all).toHaveLength(24);
  });

  it("client subscribe - one partition's terminal error ends the whole subscription", async () => {
    const sub = spool.topic(unique("never")).subscribe({ from: "earliest" });
    expect(await sub.closed).toBeInstanceOf(NotFoundError);
    expect(sub.state).toBe("closed");
  });
});
