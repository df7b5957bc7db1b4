// Interop: the protocol's own client (@durable-streams/client, pinned) writing and reading
// Spool streams in Node, live over long-poll and SSE; streams as topics; readers and
// idempotent producers resuming after the server restarts; anonymous and ?token= reads.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DurableStream, IdempotentProducer } from "@durable-streams/client";
import type { LocalServer } from "./server";
import { removeState, startStreamsServer } from "./durable-streams-support";

/** Public feeds under `public/` (the topics `public..*`) may be read without a credential. */
const ANONYMOUS = JSON.stringify({ "topics/public..*": ["subscribe"] });

let spool: LocalServer;
const auth = (): Record<string, string> => ({ Authorization: `Bearer ${spool.adminKey}` });
const streamUrl = (path: string): string => `${spool.url}/v1/stream/${path}`;
const unique = (prefix: string): string => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, fail) => (timer = setTimeout(() => fail(new Error(`timed out: ${what}`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

beforeAll(async () => {
  spool = await startStreamsServer({ vars: { SPOOL_ANONYMOUS_CAPABILITIES: ANONYMOUS } });
}, 120_000);

afterAll(async () => {
  await spool?.stop();
  if (spool) removeState(spool.persistTo);
});

describe("durable streams client interop", () => {
  it("streams - the client writes JSON and a long-poll reader gets history then live appends, in order", async () => {
    const ds = await DurableStream.create({ url: streamUrl(unique("lp")), contentType: "application/json", headers: auth() });
    for (let n = 0; n < 3; n++) await ds.append(JSON.stringify({ n }));
    const res = await ds.stream<{ n: number }>({ live: "long-poll" });
    const got: number[] = [];
    const done = new Promise<void>((ok) => {
      res.subscribeJson((batch) => {
        got.push(...batch.items.map((i) => i.n));
        if (got.length >= 6) ok();
      });
    });
    await new Promise((r) => setTimeout(r, 300)); // the reader is waiting at the tail
    for (let n = 3; n < 6; n++) await ds.append(JSON.stringify({ n }));
    await within(done, 20_000, "long-poll reader");
    res.cancel();
    expect(got).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("streams - an SSE reader gets text live, and the close ends its session", async () => {
    const ds = await DurableStream.create({ url: streamUrl(unique("sse")), contentType: "text/plain", headers: auth(), body: "hello " });
    const res = await ds.stream({ live: "sse" });
    let text = "";
    res.subscribeText((chunk) => {
      text += chunk.text;
    });
    await new Promise((r) => setTimeout(r, 300));
    await ds.append("live ");
    await ds.close({ body: "world" });
    await within(res.closed, 20_000, "SSE session to end at the stream's close");
    expect(text).toBe("hello live world");
    expect(res.streamClosed).toBe(true);
  });

  it("streams - a stream is a topic: listed, readable through /v1/topics, and topic publishes reach its readers", async () => {
    const path = `app/${unique("events")}`;
    const topic = path.replace("/", "..");
    const ds = await DurableStream.create({ url: streamUrl(path), contentType: "application/json", headers: auth() });
    await ds.append(JSON.stringify({ from: "stream" }));
    const h = { ...auth(), "content-type": "application/json" };
    const listed = (await (await fetch(`${spool.url}/v1/topics?limit=1000`, { headers: h })).json()) as { topics: Array<{ name: string }> };
    expect(listed.topics.map((t) => t.name)).toContain(topic);
    const read = (await (await fetch(`${spool.url}/v1/topics/${topic}/messages`, { headers: h })).json()) as { messages: Array<{ body: unknown }> };
    expect(read.messages.map((m) => m.body)).toEqual([{ from: "stream" }]);
    const published = await fetch(`${spool.url}/v1/topics/${topic}/messages`, { method: "POST", headers: h, body: JSON.stringify({ body: { from: "topic" } }) });
    expect(published.status).toBe(201);
    const items = await (await ds.stream({ live: false })).json();
    expect(items).toEqual([{ from: "stream" }, { from: "topic" }]);
  });

  it("streams - readers resume from a saved offset and producers stay deduplicated after the server restarts", async () => {
    const url = streamUrl(unique("restart"));
    const ds = await DurableStream.create({ url, contentType: "application/json", headers: auth() });
    const producer = new IdempotentProducer(ds, "restart-producer", { lingerMs: 0 });
    producer.append(JSON.stringify({ n: 1 }));
    producer.append(JSON.stringify({ n: 2 }));
    await producer.flush();
    const first = await ds.stream<{ n: number }>({ live: false });
    expect(await first.json()).toEqual([{ n: 1 }, { n: 2 }]);
    const saved = first.offset;

    await spool.stop();
    spool = await startStreamsServer({ persistTo: spool.persistTo, port: spool.port, vars: { SPOOL_ANONYMOUS_CAPABILITIES: ANONYMOUS } });

    // The producer's state survived: replaying its seq 0 is a duplicate, not new data.
    const replay = await fetch(url, {
      method: "POST",
      headers: { ...auth(), "content-type": "application/json", "Producer-Id": "restart-producer", "Producer-Epoch": "0", "Producer-Seq": "0" },
      body: JSON.stringify({ n: 1 }),
    });
    expect(replay.status).toBe(204);
    const again = new DurableStream({ url, headers: auth(), contentType: "application/json" });
    await again.append(JSON.stringify({ n: 3 }));
    const resumed = await again.stream<{ n: number }>({ offset: saved, live: false });
    expect(await resumed.json()).toEqual([{ n: 3 }]);
  }, 180_000);

  it("streams - anonymous capabilities allow public reads only, and a token works as ?token= on reads", async () => {
    const feed = `public/${unique("feed")}`;
    await DurableStream.create({ url: streamUrl(feed), contentType: "text/plain", headers: auth(), body: "news" });
    const anonymousRead = await fetch(streamUrl(feed));
    expect(anonymousRead.status).toBe(200);
    expect(await anonymousRead.text()).toBe("news");
    expect((await fetch(streamUrl(feed), { method: "POST", headers: { "content-type": "text/plain" }, body: "spam" })).status).toBe(403);
    const privatePath = unique("private");
    await DurableStream.create({ url: streamUrl(privatePath), contentType: "text/plain", headers: auth(), body: "secret" });
    expect((await fetch(streamUrl(privatePath))).status).toBe(403);
    const minted = await fetch(`${spool.url}/v1/tokens`, {
      method: "POST", headers: { ...auth(), "content-type": "application/json" },
      body: JSON.stringify({ ttl: 60, capabilities: { [`topics/${privatePath}`]: ["subscribe"] } }),
    });
    const { token } = (await minted.json()) as { token: string };
    const withToken = await fetch(`${streamUrl(privatePath)}?offset=-1&token=${encodeURIComponent(token)}`);
    expect(withToken.status).toBe(200);
    expect(await withToken.text()).toBe("secret");
    expect((await fetch(`${streamUrl(privatePath)}?token=${encodeURIComponent(token)}`, { method: "DELETE" })).status).toBe(401);
  });
});
