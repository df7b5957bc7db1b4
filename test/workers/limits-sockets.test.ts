// The WebSocket limits as the real socket handlers apply them, on the queue consumer
// (/consume) and the topic subscriber (/subscribe): an oversized frame, a flood of frames,
// a frame that is not JSON, and a token that expired while the socket was open each close
// that one socket with the documented code; other sockets carry on and nothing stored changes.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CloseCodes, FRAME_BURST, MAX_FRAME_BYTES, type SocketLimits } from "../../durable-objects/shared/socket-limits";
import { partitionStub, queueStub } from "../../durable-objects/env";
import { ADMIN_KEY, BASE, callJson, uniqueName } from "./helpers";
import { mint } from "./token-helpers";

interface Client {
  ws: WebSocket;
  closed: Promise<{ code: number; reason: string }>;
  /** The next server frame matching `pred` (rejects if the socket closes first). */
  next(pred: (f: any) => boolean): Promise<any>;
}

async function connect(path: string, auth: string = ADMIN_KEY): Promise<Client> {
  const res = await exports.default.fetch(new Request(`${BASE}${path}`, { headers: { upgrade: "websocket", authorization: `Bearer ${auth}` } }));
  const ws = res.webSocket;
  if (!ws) throw new Error(`no upgrade: ${res.status} ${await res.text()}`);
  ws.accept();
  const closed = new Promise<{ code: number; reason: string }>((ok) => ws.addEventListener("close", (e) => ok({ code: e.code, reason: e.reason })));
  const next = (pred: (f: any) => boolean): Promise<any> =>
    new Promise((ok, fail) => {
      ws.addEventListener("message", (e) => {
        const f = JSON.parse(e.data as string);
        if (pred(f)) ok(f);
      });
      void closed.then((c) => fail(new Error(`closed ${c.code} ${c.reason}`)));
    });
  return { ws, closed, next };
}

interface Target {
  kind: string;
  /** Creates the resource with something stored; returns its name. */
  seed(): Promise<string>;
  path(name: string): string;
  caps(name: string): Record<string, string[]>;
  /** A frame that changes nothing, for floods. */
  cheap: string;
  /** A cheap frame the handler answers, proving the socket is alive. */
  probe: string;
  isProbeReply(f: any): boolean;
  state(name: string): Promise<unknown>;
  stub(name: string): DurableObjectStub;
}

const consume: Target = {
  kind: "queue /consume",
  async seed() {
    const q = uniqueName("wsq");
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { messages: [{ body: 1 }, { body: 2 }] } });
    return q;
  },
  path: (q) => `/v1/queues/${q}/consume`,
  caps: (q) => ({ [`queues/${q}`]: ["receive"] }),
  cheap: JSON.stringify({ type: "credit", n: 0 }),
  probe: JSON.stringify({ type: "ack", receipts: ["not-a-receipt"] }),
  isProbeReply: (f) => f.type === "result" && f.op === "ack",
  async state(q) {
    const { oldestAgeMs: _a, consumers: _c, ...stats } = (await callJson("GET", `/v1/queues/${q}`)).body.stats;
    return { stats, peek: (await callJson("GET", `/v1/queues/${q}/messages?limit=100`)).body };
  },
  stub: (q) => queueStub(env, q),
};

const subscribe: Target = {
  kind: "topic /subscribe",
  async seed() {
    const t = uniqueName("wst");
    await callJson("POST", `/v1/topics/${t}/messages`, { body: { messages: [{ body: 1 }, { body: 2 }] } });
    return t;
  },
  path: (t) => `/v1/topics/${t}/subscribe?from=latest`,
  caps: (t) => ({ [`topics/${t}`]: ["subscribe"] }),
  cheap: JSON.stringify({ type: "ack", offset: -1 }),
  probe: JSON.stringify({ type: "ack", offset: -1 }),
  isProbeReply: (f) => f.type === "error",
  state: async (t) => (await callJson("GET", `/v1/topics/${t}/messages?limit=1000`)).body,
  stub: (t) => partitionStub(env, t, 0),
};

for (const target of [consume, subscribe]) {
  describe(`limits - ${target.kind} sockets`, () => {
    it(`limits - ${target.kind}: a frame over ${MAX_FRAME_BYTES} bytes closes that socket with 1009; another socket carries on`, async () => {
      const name = await target.seed();
      const before = await target.state(name);
      const [a, b] = [await connect(target.path(name)), await connect(target.path(name))];
      a.ws.send("x".repeat(MAX_FRAME_BYTES + 1));
      expect((await a.closed).code).toBe(CloseCodes.FRAME_TOO_LARGE);
      const reply = b.next(target.isProbeReply);
      b.ws.send(target.probe);
      await reply;
      b.ws.close();
      expect(await target.state(name)).toEqual(before);
    });

    it(`limits - ${target.kind}: a flood of frames closes the socket with 4029`, async () => {
      const name = await target.seed();
      const before = await target.state(name);
      const a = await connect(target.path(name));
      // Twice the burst, sent at once: far more than the refill can cover while they arrive.
      for (let i = 0; i < FRAME_BURST * 2; i++) a.ws.send(target.cheap);
      expect((await a.closed).code).toBe(CloseCodes.RATE_LIMITED);
      expect(await target.state(name)).toEqual(before);
    });

    it(`limits - ${target.kind}: a frame that is not JSON closes the socket with 1003`, async () => {
      const name = await target.seed();
      const a = await connect(target.path(name));
      a.ws.send("{not json");
      expect((await a.closed).code).toBe(CloseCodes.BAD_FRAME);
    });

    it(`limits - ${target.kind}: a socket whose token expired is closed with 4001 at its next frame`, async () => {
      const name = await target.seed();
      const a = await connect(target.path(name), await mint(target.caps(name)));
      const alive = a.next(target.isProbeReply);
      a.ws.send(target.probe);
      await alive;
      // Move the token's expiry into the past, as time would, then wake the object afresh.
      await runInDurableObject(target.stub(name), (_instance, state) => {
        for (const ws of state.getWebSockets()) {
          const att = ws.deserializeAttachment() as { limits: SocketLimits };
          att.limits.expiresAt = Date.now() - 1;
          ws.serializeAttachment(att);
        }
      });
      await evictDurableObject(target.stub(name));
      a.ws.send(target.probe);
      expect((await a.closed).code).toBe(CloseCodes.EXPIRED);
    });
  });
}
