// The browser flow against a real server: a backend mints a token with the admin key, the
// page connects with ?token= (WebSocket and SSE), in Node and in a real Chromium; and the
// per-object socket cap, on a server started with a low SPOOL_MAX_SOCKETS_PER_OBJECT.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { launchChromium } from "./browser-launch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WS from "ws";
import { api, unique, url } from "./helpers";
import { startServer, type LocalServer } from "./server";

/** What the backend does: mint a token for exactly what the page may touch. */
async function mintFor(capabilities: Record<string, string[]>, ttl = 300): Promise<{ token: string; expiresAt: number }> {
  const res = await api("POST", "/v1/tokens", { ttl, capabilities });
  expect(res.status).toBe(201);
  return res.body;
}

function wsUrl(base: string, path: string): string {
  return `${base.replace(/^http/, "ws")}${path}`;
}

/** The next frame matching `pred`. */
function nextFrame(ws: WS, pred: (f: any) => boolean): Promise<any> {
  return new Promise((ok, fail) => {
    const onMessage = (data: WS.RawData): void => {
      const frame = JSON.parse(data.toString());
      if (pred(frame)) {
        ws.off("message", onMessage);
        ok(frame);
      }
    };
    ws.on("message", onMessage);
    ws.once("close", (code, reason) => fail(new Error(`closed ${code} ${reason.toString()}`)));
  });
}

describe("tokens e2e - browser flow", () => {
  it("tokens e2e - a minted token opens a WebSocket subscription with ?token= and publishes through it", async () => {
    const topic = unique("chat");
    expect((await api("PUT", `/v1/topics/${topic}`, {})).status).toBe(200);
    const { token } = await mintFor({ [`topics/${topic}`]: ["subscribe", "publish"] });
    const ws = await openWith(wsUrl(url(), `/v1/topics/${topic}/subscribe?from=earliest&token=${token}`));
    const message = nextFrame(ws, (f) => f.type === "message");
    ws.send(JSON.stringify({ type: "publish", messages: [{ body: { text: "hi" } }] }));
    expect((await nextFrame(ws, (f) => f.type === "published")).messages).toHaveLength(1);
    expect((await message).body).toEqual({ text: "hi" });
    ws.close();
  });

  it("tokens e2e - a subscribe-only socket cannot publish, and nothing is written", async () => {
    const topic = unique("chat");
    expect((await api("PUT", `/v1/topics/${topic}`, {})).status).toBe(200);
    const { token } = await mintFor({ [`topics/${topic}`]: ["subscribe"] });
    const ws = await openWith(wsUrl(url(), `/v1/topics/${topic}/subscribe?token=${token}`));
    ws.send(JSON.stringify({ type: "publish", messages: [{ body: "sneaky" }] }));
    const error = await nextFrame(ws, (f) => f.type === "error");
    expect(error.code).toBe("FORBIDDEN");
    ws.close();
    const read = await api("GET", `/v1/topics/${topic}/messages`);
    expect(read.body.messages).toEqual([]);
  });

  it("tokens e2e - SSE takes ?token=, and refuses a token for another topic with 403", async () => {
    const topic = unique("feed");
    expect((await api("POST", `/v1/topics/${topic}/messages`, { body: "first" })).status).toBe(201);
    const { token } = await mintFor({ [`topics/${topic}`]: ["subscribe"] });
    const ctrl = new AbortController();
    const res = await fetch(`${url()}/v1/topics/${topic}/events?from=earliest&token=${token}`, { signal: ctrl.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes("\n\n") || !text.includes("data:")) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain('"first"');
    ctrl.abort();
    const other = await mintFor({ [`topics/${topic}-other`]: ["subscribe"] });
    const refused = await fetch(`${url()}/v1/topics/${topic}/events?token=${other.token}`);
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.code).toBe("FORBIDDEN");
  });

  it("tokens e2e - in Chromium, a page gets a token from its backend and connects with it by WebSocket and EventSource", async () => {
    const topic = unique("room");
    expect((await api("PUT", `/v1/topics/${topic}`, {})).status).toBe(200);
    // The app's backend, on its own origin: serves the page and mints tokens with the admin key.
    const backend = createServer(async (req, res) => {
      if (req.url === "/token") {
        const { token } = await mintFor({ [`topics/${topic}`]: ["subscribe", "publish"] });
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token }));
      } else {
        res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>app</title>");
      }
    });
    await new Promise<void>((ok) => backend.listen(0, "127.0.0.1", ok));
    const port = (backend.address() as AddressInfo).port;
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${port}/`);
      const got = await page.evaluate(async ({ spool, topic }) => {
        const { token } = await (await fetch("/token")).json();
        const ws = new WebSocket(`${spool.replace(/^http/, "ws")}/v1/topics/${topic}/subscribe?from=earliest&token=${token}`);
        const viaSocket = new Promise<unknown>((ok) => ws.addEventListener("message", (e) => {
          const f = JSON.parse(e.data as string);
          if (f.type === "message") ok(f.body);
        }));
        await new Promise((ok, fail) => {
          ws.addEventListener("open", ok);
          ws.addEventListener("error", () => fail(new Error("WebSocket failed to open")));
        });
        ws.send(JSON.stringify({ type: "publish", messages: [{ body: "from the page" }] }));
        const es = new EventSource(`${spool}/v1/topics/${topic}/events?from=earliest&token=${token}`);
        const viaSse = new Promise<unknown>((ok, fail) => {
          es.addEventListener("message", (e) => ok(JSON.parse(e.data).body));
          es.addEventListener("error", () => fail(new Error(`EventSource failed (readyState ${es.readyState})`)));
        });
        const result = { socket: await viaSocket, sse: await viaSse };
        ws.close();
        es.close();
        return result;
      }, { spool: url(), topic });
      expect(got).toEqual({ socket: "from the page", sse: "from the page" });
    } finally {
      await browser.close();
      backend.close();
    }
  });
});

describe("tokens e2e - socket cap", () => {
  let server: LocalServer;
  beforeAll(async () => {
    // Relays off: this is the cap of one object (with relays a partition serves any number).
    server = await startServer({ vars: { SPOOL_MAX_SOCKETS_PER_OBJECT: "2", SPOOL_LIVE_RELAYS: "never" } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function adminCall(method: string, path: string, body?: unknown): Promise<number> {
    const res = await fetch(`${server.url}${path}`, {
      method, body: body === undefined ? undefined : JSON.stringify(body),
      headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
    });
    await res.body?.cancel();
    return res.status;
  }

  it("tokens e2e - past SPOOL_MAX_SOCKETS_PER_OBJECT an upgrade is 429 RATE_LIMITED, and open sockets keep working", async () => {
    const headers = { authorization: `Bearer ${server.adminKey}` };
    const topic = unique("capped");
    const queue = unique("capped");
    expect(await adminCall("PUT", `/v1/topics/${topic}`, {})).toBe(200);
    expect(await adminCall("PUT", `/v1/queues/${queue}`, {})).toBe(200);
    for (const path of [`/v1/topics/${topic}/subscribe`, `/v1/queues/${queue}/consume`]) {
      const open2 = [await openWith(wsUrl(server.url, path), headers), await openWith(wsUrl(server.url, path), headers)];
      const refused = await openWith(wsUrl(server.url, path), headers).then(
        () => { throw new Error(`${path}: third socket was accepted`); },
        (err: { status?: number; body?: string }) => err,
      );
      expect(refused.status, path).toBe(429);
      expect(JSON.parse(refused.body ?? "{}").error.code).toBe("RATE_LIMITED");
      expect(open2.every((ws) => ws.readyState === WS.OPEN)).toBe(true);
      for (const ws of open2) ws.close();
    }
  });
});

/** Opens a socket; rejects with `{status, body}` when the upgrade is refused. */
function openWith(address: string, headers: Record<string, string> = {}): Promise<WS> {
  return new Promise((ok, fail) => {
    const ws = new WS(address, { headers });
    ws.once("open", () => ok(ws));
    ws.once("unexpected-response", (_req, res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => fail({ status: res.statusCode, body: text }));
    });
    ws.once("error", fail);
  });
}
