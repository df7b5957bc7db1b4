// Property-based fuzzing of every route: first every route × every method once (so a HEAD
// or PATCH bug cannot hide behind the dice), then random methods, paths, names, queries,
// headers (odd names too), credentials and bodies (deep, raw bytes, invalid UTF-8). Never a
// 5xx, never an error shape other than API.md's with a known code, unsupported methods are
// 405 with Allow, and a queue and a topic seeded before the run are unchanged after it.
import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../worker/tokens";
import { ROUTE_ACTIONS } from "./auth-routes";
import { errorShapeProblem, METHODS, requestish, type FuzzRequest } from "./fuzz-arbitraries";
import { seedStore, snapshot, type Seeded } from "./fuzz-store";
import { ADMIN_KEY, BASE, callJson } from "./helpers";
import { forge, tamper } from "./token-helpers";

const RUNS = 400;

/**
 * Credentials the fuzzer picks from, with how often: mostly ones that get in (so requests
 * reach the handlers and objects), the admin key never on the seed (see guardSeed).
 */
const CREDENTIAL_WEIGHTS = [1, 1, 12, 1, 1, 1, 8, 2, 1];
async function credentials(seed: Seeded): Promise<(string | null)[]> {
  const onSeed = { [`queues/${seed.q}`]: ["send", "receive", "manage"], [`topics/${seed.t}`]: ["publish", "subscribe", "consume", "manage"] };
  const fuzzOnly = { "queues/fz-*": ["send", "receive", "manage"], "topics/fz-*": ["publish", "subscribe", "consume", "manage"] };
  return [
    null,
    "garbage",
    ADMIN_KEY,
    (await mintToken(env, onSeed, 60, Date.now() - 3_600_000)).token,
    await forge(onSeed, { alg: "none" }),
    tamper((await mintToken(env, fuzzOnly, 300)).token, (c) => (c.capabilities = onSeed)),
    (await mintToken(env, fuzzOnly, 300)).token,
    (await mintToken(env, { [`topics/${seed.t}`]: ["subscribe"] }, 300)).token,
    await forge(onSeed, { secret: "another-secret-0123456789abcdef-xyz" }),
  ];
}

/** The admin key may act only on fuzz names: swap the seed's names out of its requests. */
function guardSeed(req: FuzzRequest, seed: Seeded, admin: boolean): FuzzRequest {
  if (!admin) return req;
  const swap = (s: string): string => s.replaceAll(seed.q, "fz-admin-q").replaceAll(seed.t, "fz-admin-t");
  // Raw byte bodies never name the seed (they are generated without names).
  return { ...req, path: swap(req.path), body: typeof req.body === "string" ? swap(req.body) : req.body };
}

async function perform(req: FuzzRequest, auth: string | null): Promise<{ status: number; text: string; allow: string | null }> {
  const headers = new Headers(req.headers);
  if (auth !== null) headers.set("authorization", `Bearer ${auth}`);
  const res = await exports.default.fetch(new Request(`${BASE}${req.path}`, { method: req.method, headers, body: req.body }));
  const allow = res.headers.get("allow");
  if (res.webSocket) {
    res.webSocket.accept();
    res.webSocket.close(1000, "fuzz done");
    return { status: res.status, text: "", allow };
  }
  if (res.status < 400) {
    await res.body?.cancel();
    return { status: res.status, text: "", allow };
  }
  return { status: res.status, text: req.method === "HEAD" ? "" : await res.text(), allow };
}

describe("fuzz - http", () => {
  let seed: Seeded;
  let creds: (string | null)[];
  let before: unknown;

  beforeAll(async () => {
    seed = await seedStore();
    creds = await credentials(seed);
    // Fuzz-owned resources with content, so requests on them reach deep into the objects.
    for (const name of ["fz-a", "fz-b", "fz-admin-q", "fz-admin-t"]) {
      await callJson("POST", `/v1/queues/${name}/messages`, { body: { messages: [{ body: 1 }, { body: 2 }] } });
      await callJson("POST", `/v1/topics/${name}/messages`, { body: { messages: [{ body: 1 }, { body: 2 }] } });
      await callJson("PUT", `/v1/topics/${name}/groups/fz-a`, { body: {} });
    }
    before = await snapshot(seed);
  });

  it("fuzz - every route × every method (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS) once: never a 5xx; a method the path does not serve is 405 with Allow", async () => {
    // The methods each path serves, from the route table (HEAD comes with GET).
    const served = new Map<string, Set<string>>();
    for (const route of Object.keys(ROUTE_ACTIONS)) {
      const [method, template] = route.split(" ") as [string, string];
      served.set(template, (served.get(template) ?? new Set()).add(method));
    }
    for (const [template, methods] of served) {
      const path = template.replace(/\{\w+\}/g, "fz-every");
      const expectedAllow = new Set([...methods, ...(methods.has("GET") ? ["HEAD"] : []), "OPTIONS"]);
      for (const method of METHODS) {
        const hasBody = method !== "GET" && method !== "HEAD";
        const req: FuzzRequest = { method, path, credential: 2, headers: { "content-type": "application/json" }, body: hasBody ? "{}" : undefined };
        const { status, text, allow } = await perform(req, ADMIN_KEY);
        const where = `${method} ${path} -> ${status} ${text.slice(0, 200)}`;
        expect(status, where).toBeLessThan(500);
        if (status >= 400 && method !== "HEAD") expect(errorShapeProblem(status, text), where).toBeNull();
        if (method === "OPTIONS") expect(status, where).toBe(204);
        else if (!expectedAllow.has(method)) {
          expect(status, where).toBe(405);
          expect(new Set(allow?.split(", ")), where).toEqual(expectedAllow);
        } else expect(status, where).not.toBe(405);
      }
    }
  });

  it("fuzz - random requests to every route never 5xx, always answer errors in API.md's shape, and leave the seeded store unchanged", async () => {
    const names = [seed.q, seed.t, "fz-a", "fz-a.dlq", "fz-b"];
    const credential = fc.oneof(...CREDENTIAL_WEIGHTS.map((weight, i) => ({ weight, arbitrary: fc.constant(i) })));
    await fc.assert(
      fc.asyncProperty(requestish(names, credential), async (generated) => {
        const auth = creds[generated.credential] ?? null;
        const req = guardSeed(generated, seed, auth === ADMIN_KEY);
        const { status, text } = await perform(req, auth);
        const where = `${req.method} ${req.path.slice(0, 120)} -> ${status} ${text.slice(0, 200)}`;
        expect(status, where).toBeLessThan(500);
        // The SQS-compatible API (`/` and queue URLs) answers in AWS's error shapes instead (test/e2e/sqs-errors.test.ts).
        const sqs = /^\/(000000000000\/[^/?#]*)?([?#]|$)/.test(req.path);
        if (status >= 400 && req.method !== "HEAD" && !sqs) expect(errorShapeProblem(status, text), where).toBeNull();
      }),
      { numRuns: RUNS },
    );
    expect(await snapshot(seed)).toEqual(before);
  });
});
