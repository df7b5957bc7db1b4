// Subscriptions to webhooks, with the endpoint replaced by an in-test fake (the forwarder's
// fetch seam) so retries, backoff deadlines and dead-lettering run on fired alarms, not time.
import { describe, expect, it } from "vitest";
import { callJson, errorCode, uniqueName } from "./helpers";
import {
  createTopic, drain, makeRetriesDue, peekQueue, publish, putSubscription, setHooks, subscriptionStatus,
} from "./subscription-helpers";

interface Seen { url: string; headers: Headers; raw: string; json: any }

/** A fake endpoint answering with `statuses` in turn (the last one repeats). */
function endpoint(statuses: number[] | ((seen: Seen) => number)): { seen: Seen[]; fetch: (req: Request) => Promise<Response> } {
  const seen: Seen[] = [];
  return {
    seen,
    fetch: async (req: Request) => {
      const raw = await req.text();
      const s: Seen = { url: req.url, headers: req.headers, raw, json: JSON.parse(raw) };
      seen.push(s);
      const status = typeof statuses === "function" ? statuses(s) : statuses[Math.min(seen.length - 1, statuses.length - 1)]!;
      return new Response("ok", { status });
    },
  };
}

/** The receiver side, exactly as the README shows it (WebCrypto). */
async function verifySpoolSignature(secret: string, header: string | null, rawBody: string, toleranceSec = 300, now = Date.now()): Promise<boolean> {
  const parts = Object.fromEntries((header ?? "").split(",").map((kv) => kv.split("=", 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(now / 1000 - t) > toleranceSec) return false; // replay or clock skew
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${t}.${rawBody}`)));
  const hex = Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
  return hex.length === (parts.v1 ?? "").length && crypto.subtle.timingSafeEqual(new TextEncoder().encode(hex), new TextEncoder().encode(parts.v1!));
}

const HOOK = "http://127.0.0.1:9/hook";

describe("subscriptions to webhooks", () => {
  it("webhook - POSTs the message with topic and subscription, signed as documented", async () => {
    const t = uniqueName("topic");
    await createTopic(t);
    const ep = endpoint([200]);
    await putSubscription(t, "s", { url: HOOK, secret: "whsec-test" });
    await setHooks(t, 0, { fetch: ep.fetch });
    const [m] = await publish(t, [{ id: "w1", key: "k", body: { hello: "world" }, headers: { type: "signup" } }]);
    await drain(t);

    expect(ep.seen.length).toBe(1);
    const got = ep.seen[0]!;
    expect(got.url).toBe(HOOK);
    expect(got.json).toMatchObject({
      topic: t, subscription: "s", partition: 0, offset: m!.offset, id: "w1", key: "k",
      body: { hello: "world" }, headers: { type: "signup" },
    });
    expect(typeof got.json.timestamp).toBe("number");
    expect(got.headers.get("content-type")).toBe("application/json");
    expect(got.headers.get("spool-delivery-id")).toBeTruthy();
    expect(got.headers.get("spool-attempt")).toBe("1");
    expect(await verifySpoolSignature("whsec-test", got.headers.get("spool-signature"), got.raw)).toBe(true);
    // The receiver's checks fail for a wrong secret, a changed body and a replay from long ago.
    expect(await verifySpoolSignature("other", got.headers.get("spool-signature"), got.raw)).toBe(false);
    expect(await verifySpoolSignature("whsec-test", got.headers.get("spool-signature"), got.raw.replace("world", "w0rld"))).toBe(false);
    expect(await verifySpoolSignature("whsec-test", got.headers.get("spool-signature"), got.raw, 300, Date.now() + 3_600_000)).toBe(false);
    expect(await subscriptionStatus(t, "s")).toMatchObject({ delivered: 1, lag: 0, failed: 0 });
  });

  it("webhook - a failing endpoint is retried with exponential backoff and jitter, then delivered", async () => {
    const t = uniqueName("topic");
    await createTopic(t);
    const ep = endpoint([500, 503, 404, 200]);
    await putSubscription(t, "s", { url: HOOK, secret: "k" });
    await setHooks(t, 0, { fetch: ep.fetch });
    await publish(t, [{ id: "r1", body: 1 }, { id: "r2", body: 2 }]);
    await drain(t);

    // Each failure schedules the next try at ~1 s, ~2 s, ~4 s (±25 % jitter) after it.
    const expected = [1000, 2000, 4000];
    for (let i = 0; i < 3; i++) {
      const st = await subscriptionStatus(t, "s");
      expect(st.partitions[0]).toMatchObject({ position: 0, attempts: i + 1 });
      expect(st.lastError).toMatchObject({ code: "WEBHOOK_STATUS", offset: 0 });
      const wait = st.partitions[0].retryAt - st.lastError.at;
      expect(wait).toBeGreaterThanOrEqual(expected[i]! * 0.75 - 5);
      expect(wait).toBeLessThanOrEqual(expected[i]! * 1.25 + 5);
      expect(ep.seen.length).toBe(i + 1);
      expect(await makeRetriesDue(t)).toBe(1);
      await drain(t);
    }
    expect(ep.seen.map((s) => s.json.id)).toEqual(["r1", "r1", "r1", "r1", "r2"]);
    expect(ep.seen.map((s) => s.headers.get("spool-attempt"))).toEqual(["1", "2", "3", "4", "1"]);
    const ids = new Set(ep.seen.slice(0, 4).map((s) => s.headers.get("spool-delivery-id")));
    expect(ids.size).toBe(1);
    expect(ep.seen[4]!.headers.get("spool-delivery-id")).not.toBe([...ids][0]);
    const done = await subscriptionStatus(t, "s");
    expect(done).toMatchObject({ delivered: 2, failed: 0, lag: 0 });
    expect(done.partitions[0]).toMatchObject({ attempts: 0, retryAt: null });
  });

  it("webhook - after maxAttempts the message goes to the dead-letter queue and forwarding continues", async () => {
    const t = uniqueName("topic");
    await createTopic(t);
    const ep = endpoint((s) => (s.json.id === "bad" ? 500 : 200));
    await putSubscription(t, "s", { url: HOOK, secret: "k", maxAttempts: 3 });
    await setHooks(t, 0, { fetch: ep.fetch });
    await publish(t, [{ id: "bad", body: { poison: true }, key: "kk", headers: { h: "1" } }, { id: "good", body: 2 }]);
    await drain(t);
    for (let i = 0; i < 2; i++) {
      expect(await makeRetriesDue(t)).toBe(1);
      await drain(t);
    }
    expect(ep.seen.map((s) => s.json.id)).toEqual(["bad", "bad", "bad", "good"]);
    const dlq = await peekQueue(`${t}.s.dlq`);
    expect(dlq.length).toBe(1);
    expect(dlq[0]).toMatchObject({ id: "bad", body: { poison: true }, headers: { h: "1", "spool-key": "kk" }, attempts: 3 });
    const st = await subscriptionStatus(t, "s");
    expect(st).toMatchObject({ delivered: 1, failed: 1, lag: 0 });
    expect(st.lastError.message).toContain("giving up after 3 attempts");
  });

  it("webhook - a named deadLetterQueue gets the dead letters; null drops them and still counts them", async () => {
    const t = uniqueName("topic");
    const dlq = uniqueName("dlq");
    await createTopic(t);
    const ep = endpoint([500]);
    await putSubscription(t, "named", { url: HOOK, secret: "k", maxAttempts: 1, deadLetterQueue: dlq });
    await putSubscription(t, "dropped", { url: HOOK, secret: "k", maxAttempts: 1, deadLetterQueue: null });
    await setHooks(t, 0, { fetch: ep.fetch });
    await publish(t, [{ id: "x", body: 1 }]);
    await drain(t);
    expect((await peekQueue(dlq)).map((m) => m.id)).toEqual(["x"]);
    expect((await callJson("GET", `/v1/queues/${t}.dropped.dlq`)).status).toBe(404);
    expect(await subscriptionStatus(t, "named")).toMatchObject({ failed: 1, lag: 0 });
    expect(await subscriptionStatus(t, "dropped")).toMatchObject({ failed: 1, lag: 0, target: { deadLetterQueue: null } });
  });

  it("webhook - a secret is generated when none is given, returned once, and kept by later PUTs", async () => {
    const t = uniqueName("topic");
    await createTopic(t, 2);
    const first = await putSubscription(t, "s", { url: HOOK });
    expect(first.secret).toMatch(/^[0-9a-f]{64}$/);
    const status = await subscriptionStatus(t, "s");
    expect(status.secret).toBeUndefined();
    expect(JSON.stringify(status)).not.toContain(first.secret);
    const again = await putSubscription(t, "s", { url: HOOK, maxAttempts: 4 });
    expect(again.secret).toBeUndefined();

    const ep = endpoint([200]);
    await setHooks(t, 0, { fetch: ep.fetch });
    await setHooks(t, 1, { fetch: ep.fetch });
    await publish(t, Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, body: i })));
    await drain(t, 2);
    expect(ep.seen.length).toBe(6);
    for (const s of ep.seen) expect(await verifySpoolSignature(first.secret, s.headers.get("spool-signature"), s.raw)).toBe(true);
  });

  it("webhook - a filter skips non-matching messages and counts them", async () => {
    const t = uniqueName("topic");
    await createTopic(t);
    const ep = endpoint([200]);
    await putSubscription(t, "s", { url: HOOK, secret: "k", filter: { type: "signup" } });
    await setHooks(t, 0, { fetch: ep.fetch });
    await publish(t, [{ id: "a", body: 1, headers: { type: "login" } }, { id: "b", body: 2, headers: { type: "signup" } }, { id: "c", body: 3 }]);
    await drain(t);
    expect(ep.seen.map((s) => s.json.id)).toEqual(["b"]);
    expect(await subscriptionStatus(t, "s")).toMatchObject({ delivered: 1, skipped: 2, lag: 0 });
  });

  it("webhook - a timeout counts as a failed attempt", async () => {
    const t = uniqueName("topic");
    await createTopic(t);
    await putSubscription(t, "s", { url: HOOK, secret: "k", timeout: 1 });
    const hang = (req: Request): Promise<Response> =>
      new Promise((_, reject) => req.signal.addEventListener("abort", () => reject(new Error("aborted"))));
    await setHooks(t, 0, { fetch: hang });
    await publish(t, [{ id: "slow", body: 1 }]);
    await drain(t);
    const st = await subscriptionStatus(t, "s");
    expect(st.partitions[0]).toMatchObject({ position: 0, attempts: 1 });
    expect(st.lastError).toMatchObject({ code: "WEBHOOK_TIMEOUT", offset: 0 });
  });

  it("webhook - publishing never waits for a slow endpoint, and DELETE aborts the delivery in flight", async () => {
    const t = uniqueName("topic");
    await createTopic(t);
    await putSubscription(t, "s", { url: HOOK, secret: "k", timeout: 30 });
    let started!: () => void;
    const inFlight = new Promise<void>((r) => (started = r));
    let aborted = false;
    const hang = (req: Request): Promise<Response> => {
      started();
      return new Promise((_, reject) => req.signal.addEventListener("abort", () => { aborted = true; reject(new Error("aborted")); }));
    };
    await setHooks(t, 0, { fetch: hang });
    await publish(t, [{ id: "h1", body: 1 }]);
    const draining = drain(t);
    await inFlight;
    // The forwarder is stuck in the endpoint; publishing still completes.
    const more = await publish(t, [{ id: "h2", body: 2 }]);
    expect(more[0]!.offset).toBe(1);

    expect((await callJson("DELETE", `/v1/topics/${t}/subscriptions/s`)).status).toBe(204);
    await draining;
    expect(aborted).toBe(true);
    const gone = await callJson("GET", `/v1/topics/${t}/subscriptions/s`);
    expect(errorCode(gone.body)).toBe("NOT_FOUND");
  });
});
