// Dead-letter queues are written to only by whoever may `send` to them (API.md, Queues →
// *Dead-letter queues*): configuring a queue, a group or a subscription demands `send` on its
// dead-letter queue, the default names "{q}.dlq" and "{t}.{s}.dlq" included, and so does a
// first send that creates a queue with its default "{q}.dlq". A move into a dead-letter
// queue is never refused for its depth.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { mintToken } from "../../worker/tokens";
import { callJson, errorCode, uniqueName } from "./helpers";
import { advance, statsOf } from "./queue-helpers";
import type { Caps } from "./token-helpers";

const token = async (caps: Caps): Promise<string> => (await mintToken(env, caps, 300)).token;

/** Status and error code (or "ok") of a call with a token holding `caps`. */
async function as(caps: Caps, method: string, path: string, body?: unknown): Promise<{ status: number; code: string }> {
  const r = await callJson(method, path, { auth: await token(caps), ...(body === undefined ? {} : { body }) });
  return { status: r.status, code: r.status < 300 ? "ok" : errorCode(r.body) };
}

const exists = async (q: string): Promise<boolean> => (await callJson("GET", `/v1/queues/${q}`)).status === 200;

describe("dead-letter auth - queues", () => {
  it("dead-letter auth - a PUT that creates a queue with the default {q}.dlq needs send on {q}.dlq", async () => {
    const q = uniqueName("jobs");
    const manage = { [`queues/${q}`]: ["manage"] };
    expect(await as(manage, "PUT", `/v1/queues/${q}`, {})).toEqual({ status: 403, code: "FORBIDDEN" });
    expect(await exists(q)).toBe(false);
    expect(await as({ ...manage, [`queues/${q}.dlq`]: ["send"] }, "PUT", `/v1/queues/${q}`, {})).toEqual({ status: 200, code: "ok" });
    // Once it exists, changing other fields keeps the dead-letter queue and needs nothing more.
    expect(await as(manage, "PUT", `/v1/queues/${q}`, { visibilityTimeout: 5 })).toEqual({ status: 200, code: "ok" });
  });

  it("dead-letter auth - a queue created without a dead-letter queue (null) needs no send anywhere else", async () => {
    const q = uniqueName("jobs");
    expect(await as({ [`queues/${q}`]: ["manage"] }, "PUT", `/v1/queues/${q}`, { deadLetterQueue: null })).toEqual({ status: 200, code: "ok" });
  });

  it("dead-letter auth - a first send that would create the queue with {q}.dlq needs send on {q}.dlq, and creates nothing without it", async () => {
    const q = uniqueName("jobs");
    const sendOnly = { [`queues/${q}`]: ["send"] };
    const refused = await callJson("POST", `/v1/queues/${q}/messages`, { auth: await token(sendOnly), body: { body: "x" } });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: "FORBIDDEN", details: { kind: "queues", action: "send", name: `${q}.dlq` } });
    expect(await exists(q)).toBe(false);
    const list = await callJson("GET", "/v1/queues?limit=1000");
    expect(list.body.queues.map((e: { name: string }) => e.name)).not.toContain(q);
    expect(await as({ ...sendOnly, [`queues/${q}.dlq`]: ["send"] }, "POST", `/v1/queues/${q}/messages`, { body: "x" })).toEqual({ status: 201, code: "ok" });
    // A send to a queue that exists creates nothing: `send` on the queue is enough.
    expect(await as(sendOnly, "POST", `/v1/queues/${q}/messages`, { body: "y" })).toEqual({ status: 201, code: "ok" });
    expect(await statsOf(q)).toMatchObject({ messages: 2 });
  });

  it("dead-letter auth - a prefix capability that covers {q}.dlq lets a first send create the queue", async () => {
    const q = uniqueName("jobs");
    expect(await as({ [`queues/${q}*`]: ["send"] }, "POST", `/v1/queues/${q}/messages`, { body: "x" })).toEqual({ status: 201, code: "ok" });
  });
});

describe("dead-letter auth - topics", () => {
  it("dead-letter auth - a webhook subscription without a named dead-letter queue needs send on {t}.{s}.dlq", async () => {
    const t = uniqueName("tenant");
    const s = "hook";
    await callJson("PUT", `/v1/topics/${t}`, { body: {} });
    const manage = { [`topics/${t}`]: ["manage"] };
    const hook = { url: "http://127.0.0.1:9/hook" };
    expect(await as(manage, "PUT", `/v1/topics/${t}/subscriptions/${s}`, hook)).toEqual({ status: 403, code: "FORBIDDEN" });
    expect((await callJson("GET", `/v1/topics/${t}/subscriptions/${s}`)).status).toBe(404);
    expect(await as(manage, "PUT", `/v1/topics/${t}/subscriptions/${s}`, { ...hook, deadLetterQueue: null })).toEqual({ status: 200, code: "ok" });
    expect(await as(manage, "PUT", `/v1/topics/${t}/subscriptions/${s}`, hook)).toEqual({ status: 403, code: "FORBIDDEN" });
    const withDlq = { ...manage, [`queues/${t}.${s}.dlq`]: ["send"] };
    expect(await as(withDlq, "PUT", `/v1/topics/${t}/subscriptions/${s}`, hook)).toEqual({ status: 200, code: "ok" });
  });

  it("dead-letter auth - a subscription that creates its target queue needs send on the target's {queue}.dlq", async () => {
    const t = uniqueName("tenant");
    const target = uniqueName("inbox");
    await callJson("PUT", `/v1/topics/${t}`, { body: {} });
    const caps = { [`topics/${t}`]: ["manage"], [`queues/${target}`]: ["send"] };
    expect(await as(caps, "PUT", `/v1/topics/${t}/subscriptions/fwd`, { queue: target })).toEqual({ status: 403, code: "FORBIDDEN" });
    expect(await exists(target)).toBe(false);
    expect(await as({ ...caps, [`queues/${target}.dlq`]: ["send"] }, "PUT", `/v1/topics/${t}/subscriptions/fwd`, { queue: target }))
      .toEqual({ status: 200, code: "ok" });
    expect(await exists(target)).toBe(true);
  });

  it("dead-letter auth - a group's dead-letter queue needs send on it", async () => {
    const t = uniqueName("tenant");
    const dlq = uniqueName("other");
    await callJson("PUT", `/v1/topics/${t}`, { body: {} });
    const manage = { [`topics/${t}`]: ["manage"] };
    expect(await as(manage, "PUT", `/v1/topics/${t}/groups/g`, { deadLetterQueue: dlq })).toEqual({ status: 403, code: "FORBIDDEN" });
    expect(await as({ ...manage, [`queues/${dlq}`]: ["send"] }, "PUT", `/v1/topics/${t}/groups/g`, { deadLetterQueue: dlq })).toEqual({ status: 200, code: "ok" });
  });
});

describe("dead-letter moves", () => {
  it("dead-letter moves - a move into a dead-letter queue is never refused for its depth", async () => {
    const q = uniqueName("src");
    const dlq = `${q}.dlq`;
    await callJson("PUT", `/v1/queues/${dlq}`, { body: { maxMessages: 1, maxBytes: 1 } });
    await callJson("PUT", `/v1/queues/${q}`, { body: { maxReceives: 1 } });
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { messages: [{ body: "a" }, { body: "b" }, { body: "c" }] } });
    expect((await callJson("POST", `/v1/queues/${q}/receive`, { body: { max: 3 } })).body.messages).toHaveLength(3);
    await advance(q, 31_000);
    expect(await statsOf(q)).toMatchObject({ messages: 0, deadLettered: 3 });
    expect(await statsOf(dlq)).toMatchObject({ messages: 3 });
    // ... while a plain send to the full queue is refused.
    expect((await callJson("POST", `/v1/queues/${dlq}/messages`, { body: { body: "d" } })).status).toBe(429);
  });
});
