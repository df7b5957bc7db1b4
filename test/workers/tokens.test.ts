// Capability tokens: minting (admin only, validated), verification (401 for every kind of
// bad token), secret rotation, and the unconfigured broker.
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import app from "../../worker/index";
import { mintToken, verifyToken } from "../../worker/tokens";
import { call, callJson, errorCode } from "./helpers";
import { forge, mint, tamper } from "./token-helpers";

const CAPS = { "topics/chat.*": ["publish", "subscribe"], "queues/jobs": ["send", "receive"] };

/** Any authenticated /v1 request to an unknown path is 404; a bad credential is 401 first. */
async function statusWith(token: string): Promise<number> {
  return (await call("GET", "/v1/no-such-route", { auth: token })).status;
}

describe("tokens - minting", () => {
  it("tokens - the admin key mints an HS256 JWT carrying exp and the capabilities", async () => {
    const before = Date.now();
    const { status, body } = await callJson("POST", "/v1/tokens", { body: { ttl: 600, capabilities: CAPS } });
    expect(status).toBe(201);
    const claims = decodeJwt(body.token);
    expect(decodeProtectedHeader(body.token).alg).toBe("HS256");
    expect(claims.capabilities).toEqual(CAPS);
    expect(claims.exp! * 1000).toBe(body.expiresAt);
    expect(body.expiresAt).toBeGreaterThan(before + 598_000);
    expect(body.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
  });

  it("tokens - POST /v1/tokens is in /openapi.json with its request schema", async () => {
    const { body } = await callJson("GET", "/openapi.json", { auth: null });
    expect(body.paths["/v1/tokens"]?.post?.requestBody).toBeDefined();
  });

  it("tokens - a minted token authenticates", async () => {
    expect(await statusWith(await mint(CAPS))).toBe(404);
  });

  it("tokens - ttl must be a whole number of seconds in 1-86400", async () => {
    for (const ttl of [0, -5, 86_401, 1.5, "60", null, undefined]) {
      const { status, body } = await callJson("POST", "/v1/tokens", { body: { ttl, capabilities: CAPS } });
      expect(status, String(ttl)).toBe(400);
      expect(errorCode(body)).toBe("VALIDATION_FAILED");
      expect(body.error.details.field).toBe("ttl");
    }
    for (const ttl of [1, 86_400]) {
      expect((await callJson("POST", "/v1/tokens", { body: { ttl, capabilities: CAPS } })).status).toBe(201);
    }
  });

  it("tokens - capability keys and actions are validated per kind", async () => {
    const bad: unknown[] = [
      {},
      { "buckets/x": ["send"] },
      { "queues/": ["send"] },
      { queues: ["send"] },
      { "queues/-x": ["send"] },
      { "queues/a*b": ["send"] },
      { "queues/**": ["send"] },
      { "queues/a b": ["send"] },
      { [`queues/${"x".repeat(129)}`]: ["send"] },
      { "queues/jobs": ["publish"] },
      { "queues/jobs": ["send", "admin"] },
      { "topics/t": ["send"] },
      { "topics/t": ["receive"] },
      { "topics/t": [] },
      { "queues/jobs": "send" },
      { "queues/jobs": [1] },
      ["queues/jobs"],
      Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`queues/q${i}`, ["send"]])),
    ];
    for (const capabilities of bad) {
      const { status, body } = await callJson("POST", "/v1/tokens", { body: { ttl: 60, capabilities } });
      expect(status, JSON.stringify(capabilities).slice(0, 80)).toBe(400);
      expect(errorCode(body)).toBe("VALIDATION_FAILED");
      expect(body.error.details.field).toMatch(/^capabilities/);
    }
  });

  it("tokens - exact names, prefixes and the kind-wide '*' are accepted patterns", async () => {
    const good = {
      "queues/jobs": ["send", "receive", "manage"],
      "queues/*": ["manage"],
      "queues/img-2.v1_*": ["send"],
      "topics/chat.*": ["publish", "subscribe", "consume", "manage"],
      "topics/*": ["manage"],
    };
    const token = await mint(good);
    expect(decodeJwt(token).capabilities).toEqual(good);
  });

  it("tokens - a token can never mint tokens, not even one with every capability", async () => {
    const all = await mint({ "queues/*": ["send", "receive", "manage"], "topics/*": ["publish", "subscribe", "consume", "manage"] });
    const { status, body } = await callJson("POST", "/v1/tokens", { auth: all, body: { ttl: 60, capabilities: CAPS } });
    expect(status).toBe(403);
    expect(errorCode(body)).toBe("FORBIDDEN");
  });

  it("tokens - minting without a credential or with a bad one is 401", async () => {
    for (const auth of [null, "wrong", await forge(CAPS, { alg: "none" })]) {
      const { status, body } = await callJson("POST", "/v1/tokens", { auth, body: { ttl: 60, capabilities: CAPS } });
      expect(status).toBe(401);
      expect(errorCode(body)).toBe("UNAUTHORIZED");
    }
  });
});

describe("tokens - verification", () => {
  it("tokens - an expired token is 401", async () => {
    const { token } = await mintToken(env, CAPS, 60, Date.now() - 120_000);
    expect(await statusWith(token)).toBe(401);
    expect(await statusWith(await forge(CAPS, { exp: Math.floor(Date.now() / 1000) - 1 }))).toBe(401);
  });

  it("tokens - a token with a tampered payload is 401", async () => {
    const token = await mint({ "queues/jobs": ["send"] });
    const widened = tamper(token, (c) => (c.capabilities = { "queues/*": ["send", "receive", "manage"] }));
    const extended = tamper(token, (c) => (c.exp = (c.exp as number) + 86_400));
    expect(await statusWith(token)).toBe(404);
    expect(await statusWith(widened)).toBe(401);
    expect(await statusWith(extended)).toBe(401);
  });

  it("tokens - alg none, HS384, HS512 and RS256 tokens are 401 even with valid claims", async () => {
    for (const alg of ["none", "HS384", "HS512", "RS256"] as const) {
      const { status, body } = await callJson("GET", "/v1/no-such-route", { auth: await forge(CAPS, { alg }) });
      expect(status, alg).toBe(401);
      expect(errorCode(body)).toBe("UNAUTHORIZED");
    }
    expect(await statusWith(await forge(CAPS, { alg: "HS256" }))).toBe(404);
  });

  it("tokens - a token signed with another secret is 401", async () => {
    expect(await statusWith(await forge(CAPS, { secret: "some-other-secret-0123456789abcdef" }))).toBe(401);
  });

  it("tokens - malformed tokens are 401", async () => {
    const good = await mint(CAPS);
    for (const token of ["abc", "a.b.c", `${good}x`, good.split(".").slice(0, 2).join("."), `${good}.x`, "...", "eyJ.eyJ.sig"]) {
      expect(await statusWith(token), token.slice(0, 30)).toBe(401);
    }
  });

  it("tokens - a token without exp, with another issuer or with invalid capabilities is 401", async () => {
    expect(await statusWith(await forge(CAPS, { exp: null }))).toBe(401);
    expect(await statusWith(await forge(CAPS, { iss: "someone-else" }))).toBe(401);
    for (const caps of [undefined, "all", ["queues/jobs"], { "queues/jobs": ["publish"] }, { "*": ["manage"] }]) {
      expect(await statusWith(await forge(caps)), JSON.stringify(caps)).toBe(401);
    }
  });

  it("tokens - rotation: a token signed with SPOOL_TOKEN_SECRET_PREVIOUS still verifies", async () => {
    const old = await forge(CAPS, { secret: env.SPOOL_TOKEN_SECRET_PREVIOUS });
    expect(await statusWith(old)).toBe(404);
    expect((await verifyToken(old, env))?.capabilities).toEqual(CAPS);
    // Once the previous secret is dropped from the config, the old token stops verifying.
    expect(await verifyToken(old, { ...env, SPOOL_TOKEN_SECRET_PREVIOUS: undefined })).toBeNull();
  });
});

describe("tokens - unconfigured", () => {
  const unconfigured = { ...env, SPOOL_TOKEN_SECRET: undefined, SPOOL_TOKEN_SECRET_PREVIOUS: undefined };

  it("tokens - without SPOOL_TOKEN_SECRET minting is 503 NOT_CONFIGURED with Retry-After", async () => {
    const req = new Request("http://spool.test/v1/tokens", {
      method: "POST",
      headers: { authorization: `Bearer ${env.SPOOL_ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ ttl: 60, capabilities: CAPS }),
    });
    const res = await app.fetch(req, unconfigured, createExecutionContext());
    expect(res.status).toBe(503);
    expect(errorCode(await res.json())).toBe("NOT_CONFIGURED");
    expect(res.headers.get("retry-after")).not.toBeNull();
  });

  it("tokens - without SPOOL_TOKEN_SECRET no token verifies, however it was signed", async () => {
    const token = await mint(CAPS);
    expect(await verifyToken(token, unconfigured)).toBeNull();
    const req = new Request("http://spool.test/v1/no-such-route", { headers: { authorization: `Bearer ${token}` } });
    expect((await app.fetch(req, unconfigured, createExecutionContext())).status).toBe(401);
  });
});
