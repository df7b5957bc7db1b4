// The authorisation seam on its own: `requires` and `authorize` on a probe app, so the
// rules (prefixes, list routes, query tokens, 401 vs 403) are proven apart from any route.
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { authorize, demand, may, requires, requiresAdmin } from "../../worker/auth";
import { toApiError, errorResponse } from "../../worker/errors";
import { newApp } from "../../worker/http";
import { ADMIN_KEY, errorCode } from "./helpers";
import { forge, mint, type Caps } from "./token-helpers";

/** Routes guarded exactly as real routes are, answering what the guard let through. */
const probe = newApp();
probe.get("/q/:q/send", requires("queues", "send"), (c) => c.json({ ok: true }));
probe.get("/t/:t/subscribe", requires("topics", "subscribe", { queryToken: true }), (c) =>
  c.json({ ok: true, publish: may(c, "topics", "publish") }),
);
probe.get("/queues", requires("queues", "manage", { list: true }), (c) => c.json({ ok: true }));
probe.get("/t/:t/forward-to/:target", requires("topics", "manage"), (c) => {
  demand(c, "queues", "send", c.req.param("target"));
  return c.json({ ok: true });
});
probe.get("/admin", requiresAdmin(), (c) => c.json({ ok: true }));
probe.onError((err, c) => errorResponse(c, toApiError(err)));

async function hit(path: string, auth?: string): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = auth ? { authorization: `Bearer ${auth}` } : {};
  const res = await probe.fetch(new Request(`http://probe${path}`, { headers }), env, createExecutionContext());
  return { status: res.status, body: await res.json() };
}

describe("auth - patterns", () => {
  it("auth - an exact pattern covers only that name", async () => {
    const token = await mint({ "queues/jobs": ["send"] });
    expect((await hit("/q/jobs/send", token)).status).toBe(200);
    for (const other of ["jobs2", "job", "jobs.dlq", "Jobs"]) {
      const { status, body } = await hit(`/q/${other}/send`, token);
      expect(status, other).toBe(403);
      expect(errorCode(body)).toBe("FORBIDDEN");
    }
  });

  it("auth - a prefix pattern covers names that start with the prefix, and only those", async () => {
    const token = await mint({ "queues/img.*": ["send"] });
    for (const name of ["img.", "img.a", "img.resize.dlq"]) expect((await hit(`/q/${name}/send`, token)).status, name).toBe(200);
    for (const name of ["img", "imgx", "xi-img.a"]) expect((await hit(`/q/${name}/send`, token)).status, name).toBe(403);
  });

  it("auth - a capability on one kind never grants the other kind", async () => {
    expect(authorize({ type: "token", capabilities: { "topics/jobs": ["manage"] }, expiresAt: 0 }, "queues", "manage", "jobs")).toBe(false);
    expect(authorize({ type: "token", capabilities: { "topics/*": ["manage"] }, expiresAt: 0 }, "queues", "manage", "*")).toBe(false);
    const token = await mint({ "topics/jobs": ["publish", "subscribe", "consume", "manage"] });
    expect((await hit("/q/jobs/send", token)).status).toBe(403);
  });

  it("auth - a valid token with another action on the same resource is 403", async () => {
    const token = await mint({ "queues/jobs": ["receive", "manage"] });
    expect((await hit("/q/jobs/send", token)).status).toBe(403);
  });
});

describe("auth - list routes", () => {
  it("auth - listing needs manage on exactly '<kind>/*'", async () => {
    expect((await hit("/queues", await mint({ "queues/*": ["manage"] }))).status).toBe(200);
    const lacking: Caps[] = [{ "queues/a*": ["manage"] }, { "queues/*": ["send", "receive"] }, { "topics/*": ["manage"] }, { "queues/jobs": ["manage"] }];
    for (const caps of lacking) {
      expect((await hit("/queues", await mint(caps))).status, JSON.stringify(caps)).toBe(403);
    }
    expect((await hit("/queues", ADMIN_KEY)).status).toBe(200);
  });
});

describe("auth - credentials", () => {
  it("auth - 401 for a missing, malformed, expired or wrongly signed token; 403 only for valid ones", async () => {
    const expired = await forge({ "queues/jobs": ["send"] }, { exp: Math.floor(Date.now() / 1000) - 10 });
    const wrongKey = await forge({ "queues/jobs": ["send"] }, { secret: "not-the-secret-0123456789abcdefgh" });
    for (const auth of [undefined, "garbage", expired, wrongKey, await forge({ "queues/jobs": ["send"] }, { alg: "none" })]) {
      const { status, body } = await hit("/q/jobs/send", auth);
      expect(status).toBe(401);
      expect(errorCode(body)).toBe("UNAUTHORIZED");
    }
  });

  it("auth - admin-only routes refuse every token with 403", async () => {
    expect((await hit("/admin", ADMIN_KEY)).status).toBe(200);
    expect((await hit("/admin", await mint({ "queues/*": ["manage"], "topics/*": ["manage"] }))).status).toBe(403);
    expect((await hit("/admin")).status).toBe(401);
  });

  it("auth - ?token= is accepted where the route allows it, and never for the admin key", async () => {
    const token = await mint({ "topics/chat": ["subscribe"] });
    expect((await hit(`/t/chat/subscribe?token=${token}`)).status).toBe(200);
    expect((await hit(`/q/jobs/send?token=${await mint({ "queues/jobs": ["send"] })}`)).status).toBe(401);
    expect((await hit(`/t/chat/subscribe?token=${ADMIN_KEY}`)).status).toBe(401);
    expect((await hit(`/t/chat/subscribe?token=${await mint({ "topics/other": ["subscribe"] })}`)).status).toBe(403);
  });

  it("auth - may() tells a socket route whether its frames may publish", async () => {
    const subscribeOnly = await mint({ "topics/chat": ["subscribe"] });
    const both = await mint({ "topics/chat": ["subscribe", "publish"] });
    expect((await hit(`/t/chat/subscribe?token=${subscribeOnly}`)).body.publish).toBe(false);
    expect((await hit(`/t/chat/subscribe?token=${both}`)).body.publish).toBe(true);
    expect((await hit("/t/chat/subscribe", ADMIN_KEY)).body.publish).toBe(true);
  });

  it("auth - demand() refuses a second resource the token holds nothing on", async () => {
    const topicOnly = await mint({ "topics/news": ["manage"] });
    const both = await mint({ "topics/news": ["manage"], "queues/inbox": ["send"] });
    expect((await hit("/t/news/forward-to/inbox", topicOnly)).status).toBe(403);
    expect((await hit("/t/news/forward-to/inbox", both)).status).toBe(200);
    expect((await hit("/t/news/forward-to/other", both)).status).toBe(403);
    expect((await hit("/t/news/forward-to/inbox", ADMIN_KEY)).status).toBe(200);
  });
});
