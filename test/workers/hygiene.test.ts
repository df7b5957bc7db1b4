// Input hygiene at the edge (API.md, Conventions): bodies nested deeper than 64 are refused
// and nothing is stored, invalid UTF-8 is 400, header names come back exactly as sent
// (`__proto__` too), HEAD is never a 5xx, unsupported methods are 405 with Allow, and no
// credential reaches a handler, a forwarded request or a log line.
import { exports } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { MAX_BODY_DEPTH } from "../../protocol/limits";
import { nestedDeeperThan } from "../../durable-objects/shared/message-schemas";
import { toApiError } from "../../worker/errors";
import { describeForLog, redactCredentials, withoutCredentials } from "../../worker/http";
import { ADMIN_KEY, BASE, call, callJson, errorCode, uniqueName } from "./helpers";
import { subscribe } from "./topic-live-helpers";

/** JSON text of `n` arrays nested around a 0: depth `n`. */
const nested = (n: number): string => `${"[".repeat(n)}0${"]".repeat(n)}`;

const postRaw = (path: string, body: string | Uint8Array): Promise<Response> =>
  exports.default.fetch(new Request(`${BASE}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body,
  }));

async function expectRefused(res: Response, status: number, code: string, field?: string): Promise<void> {
  const text = await res.text();
  expect(res.status, text.slice(0, 300)).toBe(status);
  const body = JSON.parse(text) as { error: { code: string; details?: { field?: string } } };
  expect(errorCode(body)).toBe(code);
  if (field !== undefined) expect(body.error.details?.field).toBe(field);
}

const queuePeek = async (q: string): Promise<unknown[]> => (await callJson("GET", `/v1/queues/${q}/messages?limit=100`)).body.messages;
const topicRead = async (t: string): Promise<Array<{ body: unknown; headers: Record<string, string> }>> =>
  (await callJson("GET", `/v1/topics/${t}/messages?limit=1000`)).body.messages;

describe("hygiene - nesting depth", () => {
  it("hygiene - depth is counted without recursion and stops at the limit", () => {
    expect(nestedDeeperThan(JSON.parse(nested(MAX_BODY_DEPTH)), MAX_BODY_DEPTH)).toBe(false);
    expect(nestedDeeperThan(JSON.parse(nested(MAX_BODY_DEPTH + 1)), MAX_BODY_DEPTH)).toBe(true);
    expect(nestedDeeperThan(JSON.parse(nested(200_000)), MAX_BODY_DEPTH)).toBe(true);
    expect(nestedDeeperThan(JSON.parse(`{"a":[1,{"b":${nested(61)}}]}`), MAX_BODY_DEPTH)).toBe(false);
    expect(nestedDeeperThan(JSON.parse(`{"a":[1,{"b":${nested(62)}}]}`), MAX_BODY_DEPTH)).toBe(true);
    expect(nestedDeeperThan("x", 0)).toBe(false);
  });

  it("hygiene - a queue message body nested deeper than 64 is 400 VALIDATION_FAILED naming the field, nothing stored", async () => {
    const q = uniqueName("deep-q");
    expect((await postRaw(`/v1/queues/${q}/messages`, `{"body":${nested(MAX_BODY_DEPTH)}}`)).status).toBe(201);
    await expectRefused(await postRaw(`/v1/queues/${q}/messages`, `{"body":${nested(MAX_BODY_DEPTH + 1)}}`), 400, "VALIDATION_FAILED", "body");
    await expectRefused(await postRaw(`/v1/queues/${q}/messages`, `{"messages":[{"body":1},{"body":{"a":${nested(MAX_BODY_DEPTH)}}}]}`), 400, "VALIDATION_FAILED", "messages.1.body");
    // So deep that any recursive walk (stringify, RPC clone) would overflow: still a 400.
    await expectRefused(await postRaw(`/v1/queues/${q}/messages`, `{"body":${nested(100_000)}}`), 400, "VALIDATION_FAILED", "body");
    const stored = await queuePeek(q);
    expect(stored).toHaveLength(1);
  });

  it("hygiene - a topic message body nested deeper than 64 is 400 VALIDATION_FAILED naming the field, nothing stored", async () => {
    const t = uniqueName("deep-t");
    expect((await postRaw(`/v1/topics/${t}/messages`, `{"body":${nested(MAX_BODY_DEPTH)}}`)).status).toBe(201);
    await expectRefused(await postRaw(`/v1/topics/${t}/messages`, `{"messages":[{"body":1},{"body":${nested(4000)}}]}`), 400, "VALIDATION_FAILED", "messages.1.body");
    await expectRefused(await postRaw(`/v1/topics/${t}/messages`, `{"body":${nested(100_000)}}`), 400, "VALIDATION_FAILED", "messages.0.body");
    expect(await topicRead(t)).toHaveLength(1);
  });

  it("hygiene - a WebSocket publish frame with a body nested deeper than 64 gets a VALIDATION_FAILED error frame, nothing stored", async () => {
    const t = uniqueName("deep-ws");
    expect((await callJson("PUT", `/v1/topics/${t}`, { body: {} })).status).toBe(200);
    const sub = await subscribe(t);
    sub.ws.send(`{"type":"publish","messages":[{"body":"fine"},{"body":${nested(20_000)}}]}`);
    await sub.until(() => sub.ofType("error").length === 1, "error frame");
    expect(sub.ofType("error")[0]).toMatchObject({ code: "VALIDATION_FAILED", details: { field: "messages.1.body" } });
    expect(await topicRead(t)).toHaveLength(0);
    sub.close();
  });
});

describe("hygiene - UTF-8", () => {
  const invalid: Array<[string, number[]]> = [
    ["a lone continuation byte", [0x80]],
    ["an invalid lead byte", [0xff]],
    ["an overlong encoding of '/'", [0xc0, 0xaf]],
    ["an encoded surrogate", [0xed, 0xa0, 0x80]],
    ["a truncated sequence", [0xe2, 0x82]],
  ];
  const bodyWith = (bytes: number[]): Uint8Array => new Uint8Array([...new TextEncoder().encode('{"body":"a'), ...bytes, ...new TextEncoder().encode('b"}')]);

  it("hygiene - request bodies that are not valid UTF-8 are 400 BAD_REQUEST, never stored as U+FFFD", async () => {
    const q = uniqueName("utf8-q");
    const t = uniqueName("utf8-t");
    for (const [what, bytes] of invalid) {
      await expectRefused(await postRaw(`/v1/queues/${q}/messages`, bodyWith(bytes)), 400, "BAD_REQUEST").catch((e: Error) => { throw new Error(`${what}: ${e.message}`); });
      await expectRefused(await postRaw(`/v1/topics/${t}/messages`, bodyWith(bytes)), 400, "BAD_REQUEST");
    }
    expect((await callJson("GET", `/v1/queues/${q}`)).status).toBe(404);
    expect((await callJson("GET", `/v1/topics/${t}`)).status).toBe(404);
    // Valid multi-byte text still goes through unchanged.
    expect((await postRaw(`/v1/queues/${q}/messages`, new TextEncoder().encode('{"body":"é€😀"}'))).status).toBe(201);
    expect(await queuePeek(q)).toMatchObject([{ body: "é€😀" }]);
  });
});

describe("hygiene - header names", () => {
  // Raw JSON: an object literal `{__proto__: …}` would set a prototype, not a key.
  const HEADERS_JSON = '{"__proto__":"p","constructor":"c","toString":"t","hasOwnProperty":"h","ключ":"значение","🔑":"k"}';
  const expected = Object.entries(JSON.parse(HEADERS_JSON) as Record<string, string>).sort();
  const entriesOf = (h: Record<string, string>): string[][] => Object.entries(h).filter(([k]) => !k.startsWith("spool-")).sort();

  it("hygiene - header names such as __proto__ and constructor come back exactly from queue receive and peek", async () => {
    const q = uniqueName("hdr-q");
    expect((await postRaw(`/v1/queues/${q}/messages`, `{"body":1,"headers":${HEADERS_JSON}}`)).status).toBe(201);
    const peekText = await (await call("GET", `/v1/queues/${q}/messages`)).text();
    expect(entriesOf((JSON.parse(peekText) as { messages: Array<{ headers: Record<string, string> }> }).messages[0]!.headers)).toEqual(expected);
    const recvText = await (await call("POST", `/v1/queues/${q}/receive`, { body: {} })).text();
    expect(entriesOf((JSON.parse(recvText) as { messages: Array<{ headers: Record<string, string> }> }).messages[0]!.headers)).toEqual(expected);
  });

  it("hygiene - header names such as __proto__ and constructor come back exactly from topic read, group poll and live frames", async () => {
    const t = uniqueName("hdr-t");
    expect((await postRaw(`/v1/topics/${t}/messages`, `{"body":1,"headers":${HEADERS_JSON}}`)).status).toBe(201);
    const readText = await (await call("GET", `/v1/topics/${t}/messages`)).text();
    expect(entriesOf((JSON.parse(readText) as { messages: Array<{ headers: Record<string, string> }> }).messages[0]!.headers)).toEqual(expected);
    const pollText = await (await call("POST", `/v1/topics/${t}/groups/g/poll`, { body: {} })).text();
    expect(entriesOf((JSON.parse(pollText) as { messages: Array<{ headers: Record<string, string> }> }).messages[0]!.headers)).toEqual(expected);
    const sub = await subscribe(t, "from=earliest");
    await sub.untilOffsets(1);
    expect(entriesOf(sub.ofType("message")[0]!.headers as Record<string, string>)).toEqual(expected);
    sub.close();
  });

  it("hygiene - a header value that is not a string is still refused, naming the header", async () => {
    const q = uniqueName("hdr-bad");
    await expectRefused(await postRaw(`/v1/queues/${q}/messages`, '{"body":1,"headers":{"__proto__":1}}'), 400, "VALIDATION_FAILED", "headers.__proto__");
    await expectRefused(await postRaw(`/v1/queues/${q}/messages`, '{"body":1,"headers":[]}'), 400, "VALIDATION_FAILED", "headers");
    expect((await callJson("GET", `/v1/queues/${q}`)).status).toBe(404);
  });
});

describe("hygiene - methods", () => {
  it("hygiene - HEAD /v1/queues/{q}/consume is not a 5xx (it answers as GET would, without a body)", async () => {
    const q = uniqueName("head");
    for (const path of [`/v1/queues/${q}/consume`, `/v1/topics/${q}/subscribe`, `/v1/topics/${q}/events`]) {
      const missing = await call("HEAD", path);
      expect(missing.status, path).toBe(404);
      expect(await missing.text()).toBe("");
    }
    await callJson("PUT", `/v1/queues/${q}`, { body: {} });
    const head = await call("HEAD", `/v1/queues/${q}/consume`);
    expect(head.status).toBe(426);
    expect(await head.text()).toBe("");
    expect((await call("HEAD", `/v1/queues/${q}`)).status).toBe(200);
  });

  it("hygiene - a method a known path does not support is 405 METHOD_NOT_ALLOWED with Allow", async () => {
    const q = uniqueName("m405");
    const cases: Array<[string, string, string]> = [
      ["PATCH", `/v1/queues/${q}`, "GET, HEAD, PUT, DELETE, OPTIONS"],
      ["POST", `/v1/queues/${q}`, "GET, HEAD, PUT, DELETE, OPTIONS"],
      ["GET", `/v1/queues/${q}/receive`, "POST, OPTIONS"],
      ["HEAD", `/v1/queues/${q}/ack`, "POST, OPTIONS"],
      ["DELETE", `/v1/queues/${q}/messages`, "GET, HEAD, POST, OPTIONS"],
      ["PUT", "/v1/queues", "GET, HEAD, OPTIONS"],
      ["POST", "/health", "GET, HEAD, OPTIONS"],
    ];
    for (const [method, path, allow] of cases) {
      const res = await call(method, path, { raw: method === "GET" || method === "HEAD" ? undefined : "not json", headers: { "content-type": "text/plain" } });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get("allow"), `${method} ${path}`).toBe(allow);
      if (method !== "HEAD") expect(errorCode(await res.json())).toBe("METHOD_NOT_ALLOWED");
    }
    // Still 401 first for a caller without a credential, and 404 for paths nobody serves.
    expect((await call("PATCH", `/v1/queues/${q}`, { auth: null })).status).toBe(401);
    expect((await call("PATCH", `/v1/queues/${q}/nothing`)).status).toBe(404);
    expect((await callJson("GET", `/v1/queues/${q}`)).status).toBe(404);
  });
});

describe("hygiene - credentials", () => {
  it("hygiene - handlers (and whatever they forward) never see the Authorization header or ?token=", async () => {
    const app = new Hono();
    app.use("*", withoutCredentials);
    app.all("*", (c) => c.json({ url: c.req.url, auth: c.req.header("authorization") ?? null }));
    const res = await app.fetch(new Request("http://spool.test/v1/topics/t/events?partition=1&token=eyJhbGciOi.x.y&from=2", { headers: { authorization: "Bearer secret-admin-key" } }));
    const seen = (await res.json()) as { url: string; auth: string | null };
    expect(seen.auth).toBeNull();
    expect(seen.url).toBe("http://spool.test/v1/topics/t/events?partition=1&from=2");
    // A body still arrives intact.
    const post = new Hono();
    post.use("*", withoutCredentials);
    post.post("*", async (c) => c.text(await c.req.text()));
    const echoed = await post.fetch(new Request("http://spool.test/x?token=abc", { method: "POST", body: "payload", headers: { authorization: "Bearer k" } }));
    expect(await echoed.text()).toBe("payload");
  });

  it("hygiene - the log redaction strips ?token=, bearer values and JWTs", () => {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJjYXAiOnt9fQ.c2lnbmF0dXJl";
    const text = redactCredentials(`GET https://spool.example/v1/topics/t/events?partition=0&token=${jwt}&from=1 Authorization: Bearer admin-key-123 {"authorization":"Bearer x"} raw ${jwt}`);
    expect(text).not.toContain(jwt);
    expect(text).not.toContain("admin-key-123");
    expect(text).toContain("token=[redacted]&from=1");
    const err = new Error(`fetch failed for http://x/y?token=${jwt}`);
    expect(describeForLog(err)).not.toContain(jwt);
    expect(describeForLog(`?token=plain-admin-key`)).toBe("?token=[redacted]");
  });

  it("hygiene - internal errors reach users as a plain sentence, never a stack, reference or credential", () => {
    for (const err of [new RangeError("Maximum call stack size exceeded"), new Error("internal error; reference = 0123456789abcdef"), new Error(`bad ?token=eyJx.y.z`)]) {
      const api = toApiError(err);
      expect(api.code).toBe("INTERNAL");
      expect(api.message).toBe("internal error");
    }
  });
});
