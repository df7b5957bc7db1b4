// Subscription configs: bad ones are 400 VALIDATION_FAILED and change nothing; private
// webhook targets need SPOOL_ALLOW_PRIVATE_WEBHOOKS; names, 404s, permissions, OpenAPI;
// and the pure pieces (address rules, backoff, signature format).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { isPrivateHost, webhookUrlProblem } from "../../durable-objects/topic/forward/address";
import { FIRST_RETRY_MS, MAX_RETRY_MS, retryDelayMs } from "../../durable-objects/shared/backoff";
import { signatureHeader } from "../../durable-objects/topic/forward/sign";
import app from "../../worker/index";
import { ADMIN_KEY, BASE, callJson, errorCode, uniqueName } from "./helpers";
import { createTopic, putSubscription } from "./subscription-helpers";
import { mint } from "./token-helpers";

async function expectRefused(t: string, body: unknown, field: string): Promise<void> {
  const res = await callJson("PUT", `/v1/topics/${t}/subscriptions/s`, { body });
  expect(res.status, JSON.stringify(body)).toBe(400);
  expect(errorCode(res.body)).toBe("VALIDATION_FAILED");
  expect(res.body.error.details.field, JSON.stringify(res.body)).toBe(field);
  expect((await callJson("GET", `/v1/topics/${t}/subscriptions/s`)).status).toBe(404);
}

/** PUT through the app with the private-webhook allowance removed from the env. */
async function putStrict(t: string, body: unknown): Promise<{ status: number; body: any }> {
  const req = new Request(`${BASE}/v1/topics/${t}/subscriptions/s`, {
    method: "PUT",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const res = await app.fetch(req, { ...env, SPOOL_ALLOW_PRIVATE_WEBHOOKS: undefined });
  return { status: res.status, body: await res.json() };
}

describe("subscription configs", () => {
  it("subscription config - bad targets are 400 VALIDATION_FAILED naming the field, and change nothing", async () => {
    const t = uniqueName("topic");
    await createTopic(t);
    await expectRefused(t, { url: "not a url" }, "url");
    await expectRefused(t, { url: "ftp://example.com/x" }, "url");
    await expectRefused(t, { url: "javascript:alert(1)" }, "url");
    await expectRefused(t, { queue: "q", url: "https://example.com/x" }, "url");
    await expectRefused(t, {}, "queue");
    await expectRefused(t, { filter: { a: "b" } }, "queue");
    await expectRefused(t, { topic: "elsewhere" }, "");
    await expectRefused(t, { queue: "q", email: "a@b.c" }, "");
    await expectRefused(t, { queue: "bad name!" }, "queue");
    await expectRefused(t, { queue: "q", secret: "x" }, "secret");
    await expectRefused(t, { queue: "q", maxAttempts: 3 }, "maxAttempts");
    await expectRefused(t, { url: "https://example.com/x", maxAttempts: 0 }, "maxAttempts");
    await expectRefused(t, { url: "https://example.com/x", maxAttempts: 1.5 }, "maxAttempts");
    await expectRefused(t, { url: "https://example.com/x", timeout: 0 }, "timeout");
    await expectRefused(t, { url: "https://example.com/x", deadLetterQueue: "no spaces" }, "deadLetterQueue");
    await expectRefused(t, { queue: "q", filter: { a: 1 } }, "filter.a");
    await expectRefused(t, { queue: "q", filter: "type=signup" }, "filter");
  });

  it("subscription config - the default dead-letter queue name must fit; otherwise one must be named", async () => {
    const t = uniqueName("topic") + "-".repeat(100);
    await createTopic(t);
    const s = "s".repeat(30);
    const res = await callJson("PUT", `/v1/topics/${t}/subscriptions/${s}`, { body: { url: "https://example.com/x" } });
    expect(res.status).toBe(400);
    expect(res.body.error.details.field).toBe("deadLetterQueue");
    expect((await callJson("GET", `/v1/topics/${t}/subscriptions/${s}`)).status).toBe(404);
    const named = await callJson("PUT", `/v1/topics/${t}/subscriptions/${s}`, { body: { url: "https://example.com/x", deadLetterQueue: "dead" } });
    expect(named.status).toBe(200);
    expect(named.body.target.deadLetterQueue).toBe("dead");
  });

  it("subscription config - private and loopback webhook targets are refused unless SPOOL_ALLOW_PRIVATE_WEBHOOKS is \"true\"", async () => {
    const t = uniqueName("topic");
    await createTopic(t);
    for (const url of [
      "http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]/x", "http://10.1.2.3/x", "http://192.168.0.10/x",
      "http://172.20.0.1/x", "http://169.254.169.254/latest/meta-data", "http://0x7f000001/x", "http://[::ffff:127.0.0.1]/x",
      "http://db.internal/x", "http://printer.local/x", "http://intranet/x", "https://[fd00::1]/x",
    ]) {
      const res = await putStrict(t, { url });
      expect(res.status, url).toBe(400);
      expect(errorCode(res.body)).toBe("VALIDATION_FAILED");
      expect(res.body.error.details.field).toBe("url");
    }
    expect((await callJson("GET", `/v1/topics/${t}/subscriptions/s`)).status).toBe(404);
    expect((await putStrict(t, { url: "https://hooks.example.com/spool" })).status).toBe(200);
    // The test env allows private targets (as local development does).
    expect((await callJson("PUT", `/v1/topics/${t}/subscriptions/s`, { body: { url: "http://127.0.0.1:8080/x" } })).status).toBe(200);
  });

  it("subscription config - bad names are 400 INVALID_NAME; unknown topic or subscription is 404", async () => {
    const t = uniqueName("topic");
    const bad = await callJson("PUT", `/v1/topics/${t}/subscriptions/-bad`, { body: { queue: "q" } });
    expect(errorCode(bad.body)).toBe("INVALID_NAME");
    const badTopic = await callJson("GET", `/v1/topics/bad!topic/subscriptions/s`);
    expect(errorCode(badTopic.body)).toBe("INVALID_NAME");
    for (const method of ["GET", "DELETE"]) {
      const res = await callJson(method, `/v1/topics/${t}/subscriptions/s`);
      expect(res.status).toBe(404);
      expect(errorCode(res.body)).toBe("NOT_FOUND");
    }
    await createTopic(t);
    for (const method of ["GET", "DELETE"]) expect((await callJson(method, `/v1/topics/${t}/subscriptions/s`)).status).toBe(404);
  });

  it("subscription config - managing subscriptions needs 'manage' on the topic", async () => {
    const t = uniqueName("topic");
    await createTopic(t);
    await putSubscription(t, "s", { queue: uniqueName("q") });
    const reader = await mint({ [`topics/${t}`]: ["publish", "subscribe", "consume"] });
    for (const method of ["PUT", "GET", "DELETE"]) {
      const res = await callJson(method, `/v1/topics/${t}/subscriptions/s2`, { auth: reader, body: method === "PUT" ? { queue: "q" } : undefined });
      expect(res.status, method).toBe(403);
    }
    const manager = await mint({ [`topics/${t}`]: ["manage"] });
    expect((await callJson("GET", `/v1/topics/${t}/subscriptions/s`, { auth: manager })).status).toBe(200);
    // Forwarding writes into queues, so the target and the dead-letter queue need `send` as well.
    const q = uniqueName("q");
    const noSend = await callJson("PUT", `/v1/topics/${t}/subscriptions/s3`, { auth: manager, body: { queue: q } });
    expect(noSend.status).toBe(403);
    expect((await callJson("GET", `/v1/queues/${q}`)).status).toBe(404);
    const hook = { url: "https://example.com/x", deadLetterQueue: q };
    expect((await callJson("PUT", `/v1/topics/${t}/subscriptions/s3`, { auth: manager, body: hook })).status).toBe(403);
    expect((await callJson("GET", `/v1/topics/${t}/subscriptions/s3`)).status).toBe(404);
    // Creating the target queue gives it the dead-letter queue "{q}.dlq": `send` on that too.
    const sender = await mint({ [`topics/${t}`]: ["manage"], [`queues/${q}`]: ["send"], [`queues/${q}.dlq`]: ["send"] });
    expect((await callJson("PUT", `/v1/topics/${t}/subscriptions/s3`, { auth: sender, body: { queue: q } })).status).toBe(200);
    expect((await callJson("GET", `/v1/topics/${t}/subscriptions/s`, { auth: null })).status).toBe(401);
  });

  it("subscription config - the routes are in /openapi.json with their paths as in API.md", async () => {
    const { body } = await callJson("GET", "/openapi.json", { auth: null });
    const path = body.paths["/v1/topics/{t}/subscriptions/{s}"];
    expect(Object.keys(path).sort()).toEqual(["delete", "get", "put"]);
  });
});

describe("subscription building blocks", () => {
  it("webhook address - private, loopback and internal hosts are recognised, public ones are not", () => {
    for (const h of ["localhost", "127.0.0.1", "10.0.0.1", "172.31.255.255", "192.168.1.1", "169.254.0.1", "100.64.0.1", "0.0.0.0", "[::1]", "[fe80::1]", "[fc00::1]", "[::ffff:a00:1]", "x.localhost", "svc.internal", "nas"]) {
      expect(isPrivateHost(h), h).toBe(true);
    }
    for (const h of ["example.com", "8.8.8.8", "172.32.0.1", "100.128.0.1", "[2606:4700::1111]", "hooks.example.co.uk"]) {
      expect(isPrivateHost(h), h).toBe(false);
    }
    expect(webhookUrlProblem("http://127.0.0.1/x", true)).toBeNull();
    expect(webhookUrlProblem("http://127.0.0.1/x", false)).toMatch(/private/);
    expect(webhookUrlProblem("ws://example.com/x", false)).toMatch(/http/);
  });

  it("backoff - about 1 s first, doubling, never above 10 minutes, jittered both ways", () => {
    expect(retryDelayMs(1, () => 0.5)).toBe(FIRST_RETRY_MS);
    expect(retryDelayMs(2, () => 0.5)).toBe(2 * FIRST_RETRY_MS);
    expect(retryDelayMs(5, () => 0.5)).toBe(16 * FIRST_RETRY_MS);
    expect(retryDelayMs(1, () => 0)).toBe(750);
    expect(retryDelayMs(1, () => 1)).toBe(1250);
    for (const n of [10, 11, 30, 1000]) expect(retryDelayMs(n, () => 1)).toBe(MAX_RETRY_MS);
    expect(retryDelayMs(30, () => 0)).toBe(MAX_RETRY_MS * 0.75);
  });

  it("signature - t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<body>'>", async () => {
    // Reference value from Node: crypto.createHmac("sha256", "secret").update("1700000000.{}").digest("hex")
    const hex = "b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163";
    expect(await signatureHeader("secret", "{}", 1700000000)).toBe(`t=1700000000,v1=${hex}`);
  });
});
