// Access keys (/v1/keys): created by the admin key with a secret shown once, authenticating
// `Bearer <id>:<secret>` with exactly their capabilities, listed without secrets in pages,
// revoked everywhere within 10 s, stored sealed, and managed by the admin key only.
import { createExecutionContext, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { KeyStore } from "../../durable-objects/catalog/keys";
import { openSecret, sealSecret } from "../../durable-objects/catalog/key-seal";
import { catalogStub } from "../../durable-objects/env";
import { advanceClock } from "../../durable-objects/shared/clock";
import app from "../../worker/index";
import { ADMIN_KEY, callJson, errorCode, uniqueName } from "./helpers";
import { mint } from "./token-helpers";

interface NewKey {
  accessKeyId: string;
  secretAccessKey: string;
  capabilities: Record<string, string[]>;
  description: string | null;
  createdAt: number;
}

async function createKey(capabilities: Record<string, string[]>, description?: string): Promise<NewKey> {
  const { status, body } = await callJson("POST", "/v1/keys", { body: { capabilities, description } });
  if (status !== 201) throw new Error(`create failed: ${status} ${JSON.stringify(body)}`);
  return body as NewKey;
}

const bearer = (key: NewKey): string => `${key.accessKeyId}:${key.secretAccessKey}`;

/**
 * Sends one message to queue `q` with credential `auth`; the status. The admin creates the
 * queue first: creating it by a send would also need `send` on its dead-letter queue `{q}.dlq`.
 */
async function sendWith(auth: string, q: string): Promise<number> {
  await callJson("PUT", `/v1/queues/${q}`, { body: {} });
  return (await callJson("POST", `/v1/queues/${q}/messages`, { auth, body: { body: "hello" } })).status;
}

/** Every key GET /v1/keys lists, walking all pages; also the raw text of each page. */
async function listAll(limit = 1000): Promise<{ keys: Array<Record<string, unknown>>; pages: string[] }> {
  const keys: Array<Record<string, unknown>> = [];
  const pages: string[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 10_000; i++) {
    const { status, body } = await callJson("GET", `/v1/keys?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
    expect(status).toBe(200);
    expect(body.keys.length).toBeLessThanOrEqual(limit);
    pages.push(JSON.stringify(body));
    keys.push(...body.keys);
    if (body.next === undefined) return { keys, pages };
    expect(body.keys.length, "a page with `next` is full").toBe(limit);
    cursor = body.next;
  }
  throw new Error("the list never ended");
}

describe("keys - create and use", () => {
  it("keys - the admin key creates a key: an SPK id and a 40-character secret, with its capabilities and description", async () => {
    const before = Date.now();
    const key = await createKey({ "queues/jobs": ["send"] }, "billing service");
    expect(key.accessKeyId).toMatch(/^SPK[A-Z2-7]{20}$/);
    expect(key.secretAccessKey).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(key.capabilities).toEqual({ "queues/jobs": ["send"] });
    expect(key.description).toBe("billing service");
    expect(key.createdAt).toBeGreaterThanOrEqual(before);
    const other = await createKey({ "queues/jobs": ["send"] });
    expect(other.description).toBeNull();
    expect(other.accessKeyId).not.toBe(key.accessKeyId);
    expect(other.secretAccessKey).not.toBe(key.secretAccessKey);
  });

  it("keys - a key authenticates with exactly its capabilities: 403 outside them", async () => {
    const q = uniqueName("kq");
    const key = await createKey({ [`queues/${q}`]: ["send"] });
    expect(await sendWith(bearer(key), q)).toBe(201);
    const receive = await callJson("POST", `/v1/queues/${q}/receive`, { auth: bearer(key), body: {} });
    expect(receive.status).toBe(403);
    expect(errorCode(receive.body)).toBe("FORBIDDEN");
    expect(await sendWith(bearer(key), `${q}-other`)).toBe(403);
    expect((await callJson("GET", "/v1/queues", { auth: bearer(key) })).status).toBe(403);
    expect((await callJson("POST", `/v1/topics/${q}/messages`, { auth: bearer(key), body: { body: 1 } })).status).toBe(403);
  });

  it("keys - a wrong secret, an unknown id or a malformed key credential is 401", async () => {
    const q = uniqueName("kq");
    const key = await createKey({ [`queues/${q}`]: ["send"] });
    expect(await sendWith(bearer(key), q)).toBe(201); // cached now: the secret is still checked
    const wrong = [
      `${key.accessKeyId}:${"x".repeat(40)}`,
      `${key.accessKeyId}:${key.secretAccessKey}x`,
      `${key.accessKeyId}:${key.secretAccessKey.slice(0, -1)}`,
      `${key.accessKeyId}:`,
      `${key.accessKeyId.toLowerCase()}:${key.secretAccessKey}`,
      `SPK${"A".repeat(20)}:${key.secretAccessKey}`,
      `:${key.secretAccessKey}`,
      `${key.secretAccessKey}:${key.accessKeyId}`,
      key.accessKeyId,
    ];
    for (const auth of wrong) {
      const { status, body } = await callJson("POST", `/v1/queues/${q}/messages`, { auth, body: { body: 1 } });
      expect(status, auth).toBe(401);
      expect(errorCode(body)).toBe("UNAUTHORIZED");
      expect(JSON.stringify(body)).not.toContain(key.secretAccessKey);
    }
  });

  it("keys - 'admin:<admin key>' acts as the admin key; 'admin:<anything else>' is 401", async () => {
    expect((await callJson("GET", "/v1/keys?limit=1", { auth: `admin:${ADMIN_KEY}` })).status).toBe(200);
    expect((await callJson("PUT", `/v1/queues/${uniqueName("kq")}`, { auth: `admin:${ADMIN_KEY}`, body: {} })).status).toBe(200);
    expect((await callJson("POST", "/v1/keys", { auth: `admin:${ADMIN_KEY}`, body: { capabilities: { "queues/x": ["send"] } } })).status).toBe(201);
    for (const auth of ["admin:wrong", `admin:${ADMIN_KEY}x`, "admin:", `Admin:${ADMIN_KEY}`]) {
      expect((await callJson("GET", "/v1/keys", { auth })).status, auth).toBe(401);
    }
  });

  it("keys - an access key is accepted only in the Authorization header, never in ?token=", async () => {
    const t = uniqueName("kt");
    await callJson("PUT", `/v1/topics/${t}`, { body: {} });
    const key = await createKey({ [`topics/${t}`]: ["subscribe"] });
    const { status } = await callJson("GET", `/v1/topics/${t}/events?token=${encodeURIComponent(bearer(key))}`, { auth: null });
    expect(status).toBe(401);
  });
});

describe("keys - list", () => {
  it("keys - GET /v1/keys lists keys without secrets, paged by limit and cursor with next while more remain", async () => {
    const mine = [await createKey({ "queues/a": ["send"] }, "p1"), await createKey({ "queues/b": ["receive"] }, "p2"), await createKey({ "topics/c*": ["publish"] })];
    const { keys, pages } = await listAll(2);
    for (const key of mine) {
      const listed = keys.filter((k) => k.accessKeyId === key.accessKeyId);
      expect(listed).toEqual([{ accessKeyId: key.accessKeyId, capabilities: key.capabilities, description: key.description, createdAt: key.createdAt }]);
      for (const page of pages) expect(page).not.toContain(key.secretAccessKey);
    }
    expect(keys.every((k) => !("secretAccessKey" in k))).toBe(true);
    expect(new Set(keys.map((k) => k.accessKeyId)).size, "no key on two pages").toBe(keys.length);
  });

  it("keys - limit=1 pages one key at a time and the last page has no next", async () => {
    await createKey({ "queues/a": ["send"] });
    await createKey({ "queues/a": ["send"] });
    const { keys } = await listAll(1);
    const all = (await listAll()).keys;
    expect(keys.map((k) => k.accessKeyId)).toEqual(all.map((k) => k.accessKeyId));
    expect(all.length).toBeGreaterThanOrEqual(2);
  });

  it("keys - limit outside 1-1000 or a foreign cursor is 400 VALIDATION_FAILED", async () => {
    for (const [query, field] of [["limit=0", "limit"], ["limit=1001", "limit"], ["limit=x", "limit"], ["limit=1.5", "limit"], ["cursor=nope", "cursor"], ["cursor=", "cursor"]] as const) {
      const { status, body } = await callJson("GET", `/v1/keys?${query}`);
      expect(status, query).toBe(400);
      expect(errorCode(body)).toBe("VALIDATION_FAILED");
      expect(body.error.details.field).toBe(field);
    }
  });
});

describe("keys - revocation", () => {
  it("keys - a deleted key is 401 at once where it was deleted; deleting it again is 404", async () => {
    const q = uniqueName("kq");
    const key = await createKey({ [`queues/${q}`]: ["send"] });
    expect(await sendWith(bearer(key), q)).toBe(201);
    const del = await callJson("DELETE", `/v1/keys/${key.accessKeyId}`);
    expect(del.status).toBe(204);
    expect(await sendWith(bearer(key), q)).toBe(401);
    expect((await listAll()).keys.map((k) => k.accessKeyId)).not.toContain(key.accessKeyId);
    const again = await callJson("DELETE", `/v1/keys/${key.accessKeyId}`);
    expect(again.status).toBe(404);
    expect(errorCode(again.body)).toBe("NOT_FOUND");
  });

  it("keys - a key revoked by another isolate is refused here within 10 s (this isolate's cache lapses)", async () => {
    const q = uniqueName("kq");
    const key = await createKey({ [`queues/${q}`]: ["send"] });
    expect(await sendWith(bearer(key), q)).toBe(201); // this isolate now holds the key
    // Revoke as a DELETE served by another isolate would: at the Catalog, not in this cache.
    expect(await catalogStub(env).deleteAccessKey(key.accessKeyId)).toBe(true);
    advanceClock(10_000);
    expect(await sendWith(bearer(key), q)).toBe(401);
  });

  it("keys - unknown ids are 404 and the admin key cannot be deleted (409)", async () => {
    expect((await callJson("DELETE", `/v1/keys/SPK${"A".repeat(20)}`)).status).toBe(404);
    const junk = await callJson("DELETE", "/v1/keys/not-a-key");
    expect(junk.status).toBe(404);
    expect(JSON.stringify(junk.body)).not.toContain("not-a-key");
    const admin = await callJson("DELETE", "/v1/keys/admin");
    expect(admin.status).toBe(409);
    expect(errorCode(admin.body)).toBe("CONFLICT");
    expect((await callJson("GET", "/v1/keys?limit=1", { auth: `admin:${ADMIN_KEY}` })).status).toBe(200);
  });
});

describe("keys - who may manage keys", () => {
  it("keys - a token or an access key, even with every capability, cannot create, list or delete keys (403)", async () => {
    const all = { "queues/*": ["send", "receive", "manage"], "topics/*": ["publish", "subscribe", "consume", "manage"] };
    const victim = await createKey({ "queues/v": ["send"] });
    for (const auth of [await mint(all), bearer(await createKey(all))]) {
      for (const [method, path, body] of [["POST", "/v1/keys", { capabilities: { "queues/x": ["send"] } }], ["GET", "/v1/keys", undefined], ["DELETE", `/v1/keys/${victim.accessKeyId}`, undefined]] as const) {
        const res = await callJson(method, path, { auth, body });
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(errorCode(res.body)).toBe("FORBIDDEN");
      }
    }
    expect((await listAll()).keys.map((k) => k.accessKeyId)).toContain(victim.accessKeyId);
    expect((await callJson("GET", "/v1/keys", { auth: null })).status).toBe(401);
  });

  it("keys - bad bodies are 400 VALIDATION_FAILED and create nothing", async () => {
    const before = (await listAll()).keys.map((k) => k.accessKeyId).sort();
    const bad: Array<[unknown, RegExp]> = [
      [{}, /^capabilities/],
      [{ capabilities: {} }, /^capabilities/],
      [{ capabilities: { "queues/x": ["publish"] } }, /^capabilities/],
      [{ capabilities: { "buckets/x": ["send"] } }, /^capabilities/],
      [{ capabilities: { "queues/x": "send" } }, /^capabilities/],
      [{ capabilities: ["queues/x"] }, /^capabilities/],
      [{ capabilities: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`queues/q${i}`, ["send"]])) }, /^capabilities/],
      [{ capabilities: { "queues/x": ["send"] }, description: 5 }, /^description$/],
      [{ capabilities: { "queues/x": ["send"] }, description: "d".repeat(257) }, /^description$/],
    ];
    for (const [body, field] of bad) {
      const res = await callJson("POST", "/v1/keys", { body });
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(errorCode(res.body)).toBe("VALIDATION_FAILED");
      expect(res.body.error.details.field).toMatch(field);
    }
    expect((await callJson("POST", "/v1/keys", { raw: "[", headers: { "content-type": "application/json" } })).status).toBe(400);
    expect((await listAll()).keys.map((k) => k.accessKeyId).sort()).toEqual(before);
  });

  it("keys - POST /v1/keys is 503 NOT_CONFIGURED without SPOOL_TOKEN_SECRET (nothing could seal the secret)", async () => {
    const req = new Request("http://spool.test/v1/keys", {
      method: "POST",
      headers: { authorization: `Bearer ${env.SPOOL_ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ capabilities: { "queues/x": ["send"] } }),
    });
    const res = await app.fetch(req, { ...env, SPOOL_TOKEN_SECRET: undefined }, createExecutionContext());
    expect(res.status).toBe(503);
    expect(errorCode(await res.json())).toBe("NOT_CONFIGURED");
  });

  it("keys - the three routes are in /openapi.json with their schemas", async () => {
    const { body } = await callJson("GET", "/openapi.json", { auth: null });
    expect(body.paths["/v1/keys"]?.post?.requestBody).toBeDefined();
    expect(body.paths["/v1/keys"]?.get?.parameters?.map((p: { name: string }) => p.name).sort()).toEqual(["cursor", "limit"]);
    expect(body.paths["/v1/keys/{accessKeyId}"]?.delete).toBeDefined();
  });
});

describe("keys - secrets at rest", () => {
  afterEach(() => vi.restoreAllMocks());

  it("keys - the stored row never holds the secret in clear, and nothing logs it", async () => {
    const logged: string[] = [];
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(" ")));
    }
    const q = uniqueName("kq");
    const key = await createKey({ [`queues/${q}`]: ["send"] });
    expect(await sendWith(bearer(key), q)).toBe(201);
    expect(await sendWith(`${key.accessKeyId}:${key.secretAccessKey}WRONG`, q)).toBe(401);
    await runInDurableObject(catalogStub(env), (_instance, state) => {
      const rows = state.storage.sql.exec("SELECT * FROM access_keys WHERE id = ?", key.accessKeyId).toArray();
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain(key.secretAccessKey);
    });
    expect(logged.join("\n")).not.toContain(key.secretAccessKey);
  });

  it("keys - a sealed secret opens only for its own key id and master secret", async () => {
    const sealed = await sealSecret("s3cret", "SPKAAAAAAAAAAAAAAAAAAAAA", "master-one");
    expect(sealed).not.toContain("s3cret");
    expect(await openSecret(sealed, "SPKAAAAAAAAAAAAAAAAAAAAA", ["master-one"])).toEqual({ secret: "s3cret", usedMaster: 0 });
    expect(await openSecret(sealed, "SPKBBBBBBBBBBBBBBBBBBBBB", ["master-one"])).toBeNull();
    expect(await openSecret(sealed, "SPKAAAAAAAAAAAAAAAAAAAAA", ["master-two"])).toBeNull();
    expect(await openSecret(`${sealed.slice(0, -2)}AA`, "SPKAAAAAAAAAAAAAAAAAAAAA", ["master-one"])).toBeNull();
    expect(await sealSecret("s3cret", "SPKAAAAAAAAAAAAAAAAAAAAA", "master-one")).not.toBe(sealed);
  });

  it("keys - a rotation of SPOOL_TOKEN_SECRET keeps keys working: opened under the previous secret, sealed again under the new one", async () => {
    // A Catalog of its own, so keys sealed under made-up masters never reach the real one.
    await runInDurableObject(env.CATALOG.getByName(uniqueName("catalog")), async (_instance, state) => {
      const created = await new KeyStore(state.storage.sql, () => ["old-master"]).create({ "queues/x": ["send"] }, null, 1);
      const rotating = await new KeyStore(state.storage.sql, () => ["new-master", "old-master"]).credential(created.accessKeyId);
      expect(rotating?.secretAccessKey).toBe(created.secretAccessKey);
      const rotated = await new KeyStore(state.storage.sql, () => ["new-master"]).credential(created.accessKeyId);
      expect(rotated).toEqual({ accessKeyId: created.accessKeyId, secretAccessKey: created.secretAccessKey, capabilities: { "queues/x": ["send"] } });
    });
  });
});
