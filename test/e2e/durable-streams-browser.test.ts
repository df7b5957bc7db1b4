// The protocol's client (@durable-streams/client) in a real browser (headless Chromium), on
// another origin than Spool, with a scoped token: it creates a stream, appends, and reads it
// live over long-poll and SSE while Node appends. Cross-origin, so the Durable Streams CORS
// answers (preflighted Stream-* and Producer-* headers, exposed Stream-Next-Offset and
// friends) are what make it work.
import { createServer, type Server } from "node:http";
import { resolve } from "node:path";
import { build } from "esbuild";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./browser-launch";
import { adminKey, unique, url } from "./helpers";

let browser: Browser;
let pageServer: Server;
let origin: string;

beforeAll(async () => {
  const bundled = await build({
    stdin: { contents: `import { DurableStream, IdempotentProducer } from "@durable-streams/client"; Object.assign(window, { DurableStream, IdempotentProducer });`, resolveDir: resolve(import.meta.dirname, "../..") },
    bundle: true, format: "iife", platform: "browser", target: "chrome120", write: false, logLevel: "silent",
  });
  const js = bundled.outputFiles[0]!.text;
  pageServer = createServer((req, res) => {
    if (req.url === "/app.js") return void res.writeHead(200, { "content-type": "text/javascript" }).end(js);
    res.writeHead(200, { "content-type": "text/html" }).end(`<!doctype html><title>streams</title><script src="/app.js"></script>`);
  });
  await new Promise<void>((ok) => pageServer.listen(0, "127.0.0.1", ok));
  const addr = pageServer.address();
  origin = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((ok) => (pageServer ? pageServer.close(() => ok()) : ok()));
});

async function mintToken(capabilities: Record<string, string[]>): Promise<string> {
  const r = await fetch(`${url()}/v1/tokens`, {
    method: "POST", headers: { authorization: `Bearer ${adminKey()}`, "content-type": "application/json" },
    body: JSON.stringify({ ttl: 600, capabilities }),
  });
  return ((await r.json()) as { token: string }).token;
}

describe("durable streams in a browser", () => {
  it("streams browser - a page on another origin writes a stream and reads it live over long-poll and SSE", async () => {
    const name = unique("browser-ds");
    const streamUrl = `${url()}/v1/stream/${name}`;
    const token = await mintToken({ [`topics/${name}`]: ["publish", "subscribe"] });
    const page = await (await browser.newContext()).newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(origin);

    // The page creates the stream, appends with an idempotent producer, then reads live in both modes.
    const reading = page.evaluate(async ({ streamUrl, token }) => {
      type Item = { from: string; n: number };
      const w = window as unknown as Record<string, any>;
      const headers = { Authorization: `Bearer ${token}` };
      const ds = await w.DurableStream.create({ url: streamUrl, contentType: "application/json", headers });
      const producer = new w.IdempotentProducer(ds, "page", { lingerMs: 0 });
      producer.append(JSON.stringify({ from: "page", n: 0 }));
      await producer.flush();
      const readLive = async (live: string): Promise<Item[]> => {
        const res = await ds.stream({ live });
        const items: Item[] = [];
        await new Promise<void>((ok) => res.subscribeJson((batch: { items: Item[] }) => {
          items.push(...batch.items);
          if (items.length >= 3) ok();
        }));
        res.cancel();
        return items;
      };
      const [longPoll, sse] = await Promise.all([readLive("long-poll"), readLive("sse")]);
      return { longPoll, sse, offset: (await ds.head()).offset as string };
    }, { streamUrl, token });

    // Node appends while the page's readers wait at the tail.
    const h = { authorization: `Bearer ${adminKey()}`, "content-type": "application/json" };
    for (let attempt = 0; attempt < 100; attempt++) {
      const head = await fetch(streamUrl, { method: "HEAD", headers: h });
      if (head.status === 200 && head.headers.get("stream-next-offset") !== "0000000000000000_0000000000000000") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 500));
    for (const n of [1, 2]) expect((await fetch(streamUrl, { method: "POST", headers: h, body: JSON.stringify({ from: "node", n }) })).status).toBe(204);

    const result = await reading;
    const expected = [{ from: "page", n: 0 }, { from: "node", n: 1 }, { from: "node", n: 2 }];
    expect(result.longPoll).toEqual(expected);
    expect(result.sse).toEqual(expected);
    expect(result.offset).toMatch(/^\d{16}_\d{16}$/);
    expect(errors).toEqual([]);
    await page.context().close();
  }, 60_000);
});
