// The authorisation matrix: for every route of the action table (auth-routes.ts), a token
// with exactly the capability it needs gets past auth, and tokens with every other
// capability get 403; bad tokens get 401; ?token= works only on streaming routes. Access
// keys follow the same capability model: the same pass/403 split holds for them.
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../worker/tokens";
import { accessKey, ALL_CAPABILITIES, documentedRoutes, type Names, ROUTE_ACTIONS, send } from "./auth-routes";
import { ADMIN_KEY, BASE, call, callJson, uniqueName } from "./helpers";
import { forge, tamper, type Caps } from "./token-helpers";

/** Bodies that get a request past validation, so "passes" means the handler ran. */
const BODIES: Record<string, (n: Names) => unknown> = {
  "POST /v1/tokens": () => ({ ttl: 60, capabilities: { "queues/x": ["send"] } }),
  "POST /v1/keys": () => ({ capabilities: { "queues/x": ["send"] } }),
  "POST /v1/queues/{q}/messages": () => ({ body: "m" }),
  "POST /v1/queues/{q}/ack": () => ({ receipts: ["bogus"] }),
  "POST /v1/queues/{q}/nack": () => ({ receipts: ["bogus"] }),
  "POST /v1/queues/{q}/extend": () => ({ receipts: ["bogus"], visibilityTimeout: 5 }),
  "POST /v1/topics/{t}/messages": () => ({ body: "m" }),
  "POST /v1/topics/{t}/groups/{g}/ack": () => ({ receipts: ["bogus"] }),
  "POST /v1/topics/{t}/groups/{g}/nack": () => ({ receipts: ["bogus"] }),
  "POST /v1/topics/{t}/groups/{g}/seek": () => ({ to: "earliest" }),
  // A webhook target without a dead-letter queue: a queue target, or the default dead-letter
  // queue "{t}.{s}.dlq", would also need `send` on that queue.
  "PUT /v1/topics/{t}/subscriptions/{s}": () => ({ url: "http://127.0.0.1:9/hook", deadLetterQueue: null }),
};

let documented: Set<string>;
beforeAll(async () => {
  documented = new Set(await documentedRoutes());
});

/** Fresh names with the queue, topic, group, subscription and an access key created by the admin. */
async function seeded(): Promise<Names> {
  const { accessKeyId } = await accessKey({ "queues/zz-seeded": ["send"] });
  const names = { q: uniqueName("mq"), t: uniqueName("mt"), g: uniqueName("mg"), s: uniqueName("ms"), accessKeyId };
  await call("PUT", `/v1/queues/${names.q}`, { body: {} });
  await call("PUT", `/v1/topics/${names.t}`, { body: {} });
  await call("PUT", `/v1/topics/${names.t}/groups/${names.g}`, { body: {} });
  await call("PUT", `/v1/topics/${names.t}/subscriptions/${names.s}`, { body: { url: "http://127.0.0.1:9/hook" } });
  return names;
}

const token = async (caps: Caps, ttl = 300): Promise<string> => (await mintToken(env, caps, ttl)).token;
const nameOf = (kind: "queues" | "topics", n: Names): string => (kind === "queues" ? n.q : n.t);

describe("auth matrix - the table", () => {
  it("auth matrix - every route in /openapi.json has an entry in the action table", () => {
    const missing = [...documented].filter((r) => !(r in ROUTE_ACTIONS));
    expect(missing, "add these routes to ROUTE_ACTIONS in test/workers/auth-routes.ts and to the README table").toEqual([]);
  });

  it("auth matrix - every route of API.md is served and documented in /openapi.json", () => {
    const unserved = Object.keys(ROUTE_ACTIONS).filter((r) => !documented.has(r));
    expect(unserved).toEqual([]);
  });
});

describe("auth matrix - per route", () => {
  for (const [route, need] of Object.entries(ROUTE_ACTIONS)) {
    if (need.type === "in-band") continue; // MQTT: CONNACK "not authorized", proved in mqtt-protocol.test.ts
    if (need.type === "public") {
      it(`${route} - needs no credential, and a bad one does not matter`, async (ctx) => {
        if (!documented.has(route)) ctx.skip();
        const names = await seeded();
        expect((await send(route, names, null)).status).toBe(200);
        expect((await send(route, names, "garbage")).status).toBe(200);
      });
      continue;
    }

    if (need.type === "admin") {
      it(`${route} - the admin key passes; a token or an access key with every capability is 403`, async (ctx) => {
        if (!documented.has(route)) ctx.skip();
        const names = await seeded();
        const body = BODIES[route]?.(names);
        const all = Object.fromEntries([["queues/*", ["send", "receive", "manage"]], ["topics/*", ["publish", "subscribe", "consume", "manage"]]]);
        const everything = await token(all);
        expect(await send(route, names, everything, { body })).toEqual({ status: 403, code: "FORBIDDEN" });
        expect(await send(route, names, (await accessKey(all)).credential, { body })).toEqual({ status: 403, code: "FORBIDDEN" });
        // Last, as it may delete what the route acts on.
        expect((await send(route, names, ADMIN_KEY, { body })).status).toBeLessThan(300);
        expect((await send(route, names, null, { body })).status).toBe(401);
      });
      continue;
    }

    const { kind, action, list, stream } = need;
    const also = need.also ?? [];
    const exact = (n: Names): string => (list ? `${kind}/*` : `${kind}/${nameOf(kind, n)}`);

    it(`${route} - '${action}' on the ${list ? "whole kind" : "resource"} passes; every other capability is 403`, async (ctx) => {
      if (!documented.has(route)) ctx.skip();
      const names = await seeded();
      const body = BODIES[route]?.(names);
      const passes = async (caps: Caps, what: string): Promise<void> => {
        const res = await send(route, names, await token(caps), { body });
        expect([401, 403], `${what}: ${JSON.stringify(res)}`).not.toContain(res.status);
        expect(res.status, what).toBeLessThan(500);
      };
      const refused = async (caps: Caps, what: string): Promise<void> => {
        expect(await send(route, names, await token(caps), { body }), what).toEqual({ status: 403, code: "FORBIDDEN" });
      };

      await refused({ [exact(names)]: ALL_CAPABILITIES.filter(([k, a]) => k === kind && a !== action && !also.includes(a)).map(([, a]) => a) }, "all other actions");
      for (const [k, a] of ALL_CAPABILITIES) {
        if (k === kind && a === action) continue;
        if (k === kind && also.includes(a)) await passes({ [`${k}/${nameOf(k, names)}`]: [a] }, `${k}:${a} (also accepted)`);
        else await refused({ [list ? `${k}/*` : `${k}/${nameOf(k, names)}`]: [a] }, `${k}:${a}`);
      }
      if (list) {
        await refused({ [`${kind}/${nameOf(kind, names)}`]: [action] }, "one name is not the kind");
        await refused({ [`${kind}/m*`]: [action] }, "a prefix is not the kind");
      } else {
        const name = nameOf(kind, names);
        await refused({ [`${kind}/${name}x`]: [action] }, "another name");
        await refused({ [`${kind}/x${name.slice(0, 4)}*`]: [action] }, "a prefix that does not match");
        await passes({ [`${kind}/${name.slice(0, 4)}*`]: [action] }, "a matching prefix");
      }
      // Last, as it may delete what the route acts on.
      await passes({ [exact(names)]: [action] }, "exactly its capability");
    });

    it(`${route} - an access key with exactly '${action}' passes; one with every other action is 403`, async (ctx) => {
      if (!documented.has(route)) ctx.skip();
      const names = await seeded();
      const body = BODIES[route]?.(names);
      const others = ALL_CAPABILITIES.filter(([k, a]) => k === kind && a !== action && !also.includes(a)).map(([, a]) => a);
      const lacking = await accessKey({ [exact(names)]: others });
      expect(await send(route, names, lacking.credential, { body })).toEqual({ status: 403, code: "FORBIDDEN" });
      const res = await send(route, names, (await accessKey({ [exact(names)]: [action] })).credential, { body });
      expect([401, 403], JSON.stringify(res)).not.toContain(res.status);
      expect(res.status).toBeLessThan(500);
    });

    it(`${route} - 401 without a credential and for expired, tampered and alg-none tokens`, async (ctx) => {
      if (!documented.has(route)) ctx.skip();
      const names = await seeded();
      const body = BODIES[route]?.(names);
      const caps = { [exact(names)]: [action] };
      const expired = (await mintToken(env, caps, 60, Date.now() - 120_000)).token;
      const narrow = await token({ [`${kind}/zz-other`]: [action] });
      const widened = tamper(narrow, (c) => (c.capabilities = caps));
      const unsigned = await forge(caps, { alg: "none" });
      const hs512 = await forge(caps, { alg: "HS512" });
      const unknownKey = `SPK${"A".repeat(20)}:${"s".repeat(40)}`;
      for (const [what, auth] of [["none", null], ["expired", expired], ["tampered", widened], ["alg none", unsigned], ["HS512", hs512], ["garbage", "x.y.z"],
        ["unknown access key", unknownKey], ["admin key id with a wrong secret", "admin:wrong"]] as const) {
        expect(await send(route, names, auth, { body }), what).toEqual({ status: 401, code: "UNAUTHORIZED" });
      }
    });

    it(`${route} - ?token= is ${stream ? "accepted (streaming route)" : "ignored (header only)"}; the admin key and access keys never are`, async (ctx) => {
      if (!documented.has(route)) ctx.skip();
      const names = await seeded();
      const body = BODIES[route]?.(names);
      const viaQuery = await send(route, names, null, { body, queryToken: await token({ [exact(names)]: [action] }) });
      if (stream) expect([401, 403]).not.toContain(viaQuery.status);
      else expect(viaQuery).toEqual({ status: 401, code: "UNAUTHORIZED" });
      expect(await send(route, names, null, { body, queryToken: ADMIN_KEY })).toEqual({ status: 401, code: "UNAUTHORIZED" });
      const key = await accessKey({ [exact(names)]: [action] });
      expect(await send(route, names, null, { body, queryToken: key.credential }), "an access key in a URL").toEqual({ status: 401, code: "UNAUTHORIZED" });
      if (stream) {
        const wrong = await send(route, names, null, { body, queryToken: await token({ [`${kind}/zz-other`]: [action] }) });
        expect(wrong).toEqual({ status: 403, code: "FORBIDDEN" });
      }
    });
  }
});

/**
 * Routes that write into a queue named in their body demand `send` on it (worker/auth.ts
 * `demand`). A subscription's target queue exists here: creating it would also need `send` on
 * its default dead-letter queue (dead-letter-auth.test.ts).
 */
const SECOND_RESOURCE: Array<[string, (target: string) => unknown]> = [
  ["PUT /v1/topics/{t}/subscriptions/{s}", (target) => ({ queue: target })],
  ["PUT /v1/topics/{t}/subscriptions/{s}", (target) => ({ url: "http://127.0.0.1:9/hook", deadLetterQueue: target })],
  ["POST /v1/queues/{q}/redrive", (target) => ({ to: target })],
  ["PUT /v1/queues/{q}", (target) => ({ deadLetterQueue: target })],
  ["PUT /v1/topics/{t}/groups/{g}", (target) => ({ deadLetterQueue: target })],
];

describe("auth matrix - a second resource in the body", () => {
  for (const [route, bodyFor] of SECOND_RESOURCE) {
    const need = ROUTE_ACTIONS[route]!;
    it(`${route} ${JSON.stringify(bodyFor("<queue>"))} - needs 'send' on that queue too`, async () => {
      if (need.type !== "capability") throw new Error("expected a capability route");
      const names = await seeded();
      const target = uniqueName("other");
      await call("PUT", `/v1/queues/${target}`, { body: {} });
      const own = { [`${need.kind}/${nameOf(need.kind, names)}`]: [need.action] };
      const body = bodyFor(target);
      expect(await send(route, names, await token(own), { body })).toEqual({ status: 403, code: "FORBIDDEN" });
      const withSend = await send(route, names, await token({ ...own, [`queues/${target}`]: ["send"] }), { body });
      expect([401, 403], JSON.stringify(withSend)).not.toContain(withSend.status);
      expect(withSend.status).toBeLessThan(500);
    });
  }
});

describe("auth matrix - frames on a subscription socket", () => {
  async function socketWith(topic: string, caps: Caps): Promise<{ reply: (frame: unknown) => Promise<any> }> {
    const url = `${BASE}/v1/topics/${topic}/subscribe?token=${await token(caps)}`;
    const res = await exports.default.fetch(new Request(url, { headers: { upgrade: "websocket" } }));
    const ws = res.webSocket!;
    ws.accept();
    return {
      reply: (frame) =>
        new Promise((ok) => {
          ws.addEventListener("message", (e) => {
            const f = JSON.parse(e.data as string);
            if (f.type === "published" || f.type === "error") ok(f);
          });
          ws.send(JSON.stringify(frame));
        }),
    };
  }

  it("auth matrix - a subscription socket publishes only with 'publish' as well as 'subscribe'", async () => {
    const { t } = await seeded();
    const frame = { type: "publish", messages: [{ body: "over the socket" }] };
    const refused = await (await socketWith(t, { [`topics/${t}`]: ["subscribe"] })).reply(frame);
    expect(refused).toMatchObject({ type: "error", code: "FORBIDDEN" });
    expect((await callJson("GET", `/v1/topics/${t}/messages`)).body.messages).toEqual([]);
    const published = await (await socketWith(t, { [`topics/${t}`]: ["subscribe", "publish"] })).reply(frame);
    expect(published.type).toBe("published");
    expect((await callJson("GET", `/v1/topics/${t}/messages`)).body.messages.map((m: { body: unknown }) => m.body)).toEqual(["over the socket"]);
  });
});
