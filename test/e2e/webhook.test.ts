// Webhook subscriptions against a real local server and a real HTTP receiver on 127.0.0.1:
// the receiver verifies Spool-Signature exactly as the README shows, a failing receiver is
// retried with backoff until it accepts, and after maxAttempts the message is dead-lettered.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, unique } from "./helpers";

// ---- the receiver side, as documented in the README ----
function verifySpoolSignature(secret: string, header: string | undefined, rawBody: string, toleranceSec = 300, nowMs = Date.now()): boolean {
  const parts = Object.fromEntries((header ?? "").split(",").map((kv) => kv.split("=", 2)));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(nowMs / 1000 - t) > toleranceSec) return false; // stale: a replay
  const expected = createHmac("sha256", secret).update(`${t}.${rawBody}`).digest("hex");
  const given = String(parts.v1 ?? "");
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

interface Received { path: string; headers: IncomingHttpHeaders; raw: string; json: any }

let server: Server;
let base = "";
const received: Received[] = [];
/** Per path: how to answer a delivery (default 200). */
const answer = new Map<string, (r: Received) => number>();

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => (raw += d));
    req.on("end", () => {
      const r: Received = { path: req.url ?? "", headers: req.headers, raw, json: JSON.parse(raw || "null") };
      received.push(r);
      res.statusCode = answer.get(r.path)?.(r) ?? 200;
      res.end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
});

afterAll(async () => {
  await new Promise<void>((ok) => server.close(() => ok()));
});

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, ms = 25_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

const at = (path: string): Received[] => received.filter((r) => r.path === path);

describe("webhook subscriptions (real server, real receiver)", () => {
  it("webhook e2e - the receiver verifies the signature; a failing receiver is retried with backoff until it accepts", async () => {
    const t = unique("topic");
    const path = `/${t}`;
    let calls = 0;
    answer.set(path, () => (++calls <= 2 ? 500 : 204));
    expect((await api("PUT", `/v1/topics/${t}`, {})).status).toBe(200);
    const sub = await api("PUT", `/v1/topics/${t}/subscriptions/hook`, { url: `${base}${path}`, secret: "e2e-secret" });
    expect(sub.status).toBe(200);
    const pub = await api("POST", `/v1/topics/${t}/messages`, { id: "m-1", key: "user-1", body: { signup: "ada" }, headers: { type: "signup" } });
    expect(pub.status).toBe(201);

    const deliveries = await eventually(() => (at(path).length >= 3 ? at(path) : undefined));
    expect(deliveries.map((d) => d.headers["spool-attempt"])).toEqual(["1", "2", "3"]);
    expect(new Set(deliveries.map((d) => d.headers["spool-delivery-id"])).size).toBe(1);
    for (const d of deliveries) {
      expect(d.json).toMatchObject({ topic: t, subscription: "hook", partition: 0, offset: 0, id: "m-1", key: "user-1", body: { signup: "ada" }, headers: { type: "signup" } });
      expect(d.headers["content-type"]).toBe("application/json");
      expect(verifySpoolSignature("e2e-secret", d.headers["spool-signature"] as string, d.raw)).toBe(true);
      // The same delivery replayed ten minutes later, a wrong secret, a tampered body: all refused.
      expect(verifySpoolSignature("e2e-secret", d.headers["spool-signature"] as string, d.raw, 300, Date.now() + 600_000)).toBe(false);
      expect(verifySpoolSignature("wrong", d.headers["spool-signature"] as string, d.raw)).toBe(false);
      expect(verifySpoolSignature("e2e-secret", d.headers["spool-signature"] as string, d.raw.replace("ada", "eve"))).toBe(false);
    }
    const status = await eventually(async () => {
      const s = await api("GET", `/v1/topics/${t}/subscriptions/hook`);
      return s.body.delivered === 1 ? s.body : undefined;
    });
    expect(status).toMatchObject({ lag: 0, failed: 0, lastError: { code: "WEBHOOK_STATUS" } });
  });

  it("webhook e2e - after maxAttempts the message goes to the dead-letter queue and the next one is delivered", async () => {
    const t = unique("topic");
    const path = `/${t}`;
    answer.set(path, (r) => (r.json?.id === "poison" ? 500 : 200));
    expect((await api("PUT", `/v1/topics/${t}`, {})).status).toBe(200);
    expect((await api("PUT", `/v1/topics/${t}/subscriptions/hook`, { url: `${base}${path}`, maxAttempts: 2 })).status).toBe(200);
    expect((await api("POST", `/v1/topics/${t}/messages`, { messages: [{ id: "poison", body: 1 }, { id: "fine", body: 2 }] })).status).toBe(201);

    await eventually(() => (at(path).some((r) => r.json.id === "fine") ? true : undefined));
    expect(at(path).map((r) => r.json.id)).toEqual(["poison", "poison", "fine"]);
    const dlq = await api("GET", `/v1/queues/${t}.hook.dlq/messages?limit=10`);
    expect(dlq.status).toBe(200);
    expect(dlq.body.messages.map((m: { id: string }) => m.id)).toEqual(["poison"]);
    expect(dlq.body.messages[0].attempts).toBe(2);
    const status = await api("GET", `/v1/topics/${t}/subscriptions/hook`);
    expect(status.body).toMatchObject({ delivered: 1, failed: 1, lag: 0 });
  });

  it("subscription e2e - a topic forwards into a queue over the real server", async () => {
    const t = unique("topic");
    const q = unique("q");
    expect((await api("PUT", `/v1/topics/${t}`, { partitions: 2 })).status).toBe(200);
    expect((await api("PUT", `/v1/topics/${t}/subscriptions/toq`, { queue: q })).status).toBe(200);
    const msgs = Array.from({ length: 10 }, (_, i) => ({ id: `e${i}`, key: `k${i % 3}`, body: i }));
    expect((await api("POST", `/v1/topics/${t}/messages`, { messages: msgs })).status).toBe(201);
    const got = await eventually(async () => {
      const r = await api("GET", `/v1/queues/${q}/messages?limit=100`);
      return r.body.messages?.length === 10 ? r.body.messages : undefined;
    });
    expect(got.map((m: { id: string }) => m.id).sort()).toEqual(msgs.map((m) => m.id).sort());
  });
});
