// The client running unchanged inside a Worker (workerd via Miniflare), against the real
// server: HTTP calls, a live WebSocket subscription opened the Workers way (fetch with
// `Upgrade: websocket` and the Authorization header), and a queue consumer.
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminClient, adminKey, unique, url } from "./client-support";

const ROOT = resolve(import.meta.dirname, "../..");
const spool = adminClient();
let mf: Miniflare;

/** A Worker that uses the client: /subscribe takes `n` messages of a topic; /consume handles `n` queue messages. */
const WORKER = `
import { Spool } from "./client.mjs";
export default {
  async fetch(request, env) {
    const u = new URL(request.url);
    const spool = new Spool({ url: env.SPOOL_URL, token: env.SPOOL_KEY });
    const name = u.searchParams.get("name");
    const n = Number(u.searchParams.get("n"));
    try {
      if (u.pathname === "/publish") {
        const r = await spool.topic(name).publish({ body: "from a worker" });
        return Response.json(r);
      }
      if (u.pathname === "/subscribe") {
        const got = [];
        for await (const m of spool.topic(name).subscribe({ from: "earliest" })) {
          got.push([m.offset, m.body]);
          if (got.length === n) break;
        }
        return Response.json(got);
      }
      if (u.pathname === "/consume") {
        const got = [];
        let done;
        const all = new Promise((r) => (done = r));
        const consumer = spool.queue(name).consume(async (m) => {
          got.push(m.body);
          if (got.length === n) done();
        });
        await all;
        await consumer.stop();
        return Response.json(got.sort());
      }
      return new Response("?", { status: 404 });
    } catch (err) {
      return Response.json({ error: String(err), code: err.code }, { status: 500 });
    } finally {
      await spool.close();
    }
  },
};
`;

beforeAll(async () => {
  const bundled = await build({
    entryPoints: [join(ROOT, "client/index.ts")], bundle: true, format: "esm", platform: "neutral", write: false, logLevel: "silent",
  });
  mf = new Miniflare(convertV4MiniflareOptions({
    log: new Log(LogLevel.WARN),
    host: "127.0.0.1",
    port: 0,
    workers: [{
      name: "client-in-a-worker",
      compatibilityDate: "2026-11-01",
      modules: [
        { type: "ESModule", path: "worker.mjs", contents: WORKER },
        { type: "ESModule", path: "client.mjs", contents: bundled.outputFiles[0]!.text },
      ],
      bindings: { SPOOL_URL: url(), SPOOL_KEY: adminKey() },
    }],
  }));
  await mf.ready;
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
  await spool.close();
});

describe("client inside a Worker", () => {
  it("client worker - publishes over HTTP and subscribes over a WebSocket opened with fetch + Authorization", async () => {
    const name = unique("t");
    const res = await mf.dispatchFetch(`http://worker/publish?name=${name}`);
    expect(await res.json()).toMatchObject({ partition: 0, offset: 0, duplicate: false });
    await spool.topic(name).publish({ body: "from node" });
    const sub = await mf.dispatchFetch(`http://worker/subscribe?name=${name}&n=2`);
    expect(await sub.json()).toEqual([[0, "from a worker"], [1, "from node"]]);
  });

  it("client worker - consumes a queue over its WebSocket and acks", async () => {
    const name = unique("q");
    await spool.queue(name).send(["a", "b", "c"].map((body) => ({ body })));
    const res = await mf.dispatchFetch(`http://worker/consume?name=${name}&n=3`);
    expect(await res.json()).toEqual(["a", "b", "c"]);
    // stop() waited for the server to confirm the acks before closing, so nothing went back.
    expect((await spool.queue(name).info()).stats).toMatchObject({ messages: 0, acked: 3, visible: 0 });
  });
});
