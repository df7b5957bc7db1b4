/**
 * Generators for the fuzz tests: requests over every route of the action table with random
 * methods, names, query strings, headers, credentials and bodies, and random WebSocket
 * frames. Bodies are near-valid as often as random, so requests get past validation into
 * the handlers and objects, not only bounce off the schema.
 */
import fc from "fast-check";
import { ErrorCodes } from "../../protocol/errors";
import { ROUTE_ACTIONS } from "./auth-routes";

/** Printable ASCII: what a header value may carry. */
const printable = (max: number): fc.Arbitrary<string> => fc.string({ unit: "grapheme-ascii", maxLength: max }).map((s) => s.replace(/[^\x20-\x7e]/g, ""));

/** Names a path segment or a body field may carry: valid, invalid, absurd. */
export function nameish(valid: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...valid) },
    { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,12}$/).map((s) => `fz-${s}`) },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
    { weight: 1, arbitrary: fc.constantFrom("", ".", "..", "-x", "a b", "a/b", "x".repeat(129), "%", "é", "*", "a#1") },
  );
}

const smallInt = fc.oneof(fc.integer({ min: -3, max: 5 }), fc.constantFrom(0, 1, 20, 64, 65, 100, 101, 1000, 1001, 86_401, 2 ** 31, -1e9, 1.5, Number.MAX_SAFE_INTEGER));
const numberish = fc.oneof({ weight: 4, arbitrary: smallInt }, { weight: 1, arbitrary: fc.constantFrom("1", null, true, [], {}, "earliest", "latest") });
/** `wait` stays out of 1-20 so no request long-polls. */
const waitish = fc.constantFrom(0, -1, 21, 0.5, "1", null);

/** Header names that break naive maps: prototype keys (as own keys, via JSON.parse) and unicode. */
const oddHeaders = fc.constantFrom(
  '{"__proto__":"p"}', '{"constructor":"c","toString":"t"}', '{"__proto__":"p","hasOwnProperty":"h","valueOf":"v"}',
  '{"ключ":"значение","🔑":"k","é":"e"}', '{"":"empty name"}', '{"__proto__":1}',
).map((json) => JSON.parse(json) as Record<string, unknown>);

/** The odd names in headers the server must accept and keep exactly. */
const validOddHeaders = oddHeaders.filter((h) => Object.entries(h).every(([k, v]) => k !== "" && typeof v === "string"));

const headersish = fc.oneof(
  fc.dictionary(printable(20), printable(40), { maxKeys: 4 }),
  oddHeaders,
  fc.constant(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`h${i}`, "v"]))),
  fc.constant({ h: "x".repeat(5000) }),
  fc.constant({ ["x".repeat(300)]: "v" }),
  fc.constant("not-an-object"),
);

/** Arrays and objects nested around MAX_BODY_DEPTH (64): both sides of the limit. */
const nestedValue = fc.tuple(fc.integer({ min: 1, max: 130 }), fc.boolean()).map(([depth, objects]) => {
  let v: unknown = 0;
  for (let i = 0; i < depth; i++) v = objects && i % 2 ? { k: v } : [v];
  return v;
});

function messageish(names: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(
    {
      body: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant("x".repeat(300_000)), nestedValue),
      id: fc.oneof(printable(10), fc.constant(""), fc.constant("x".repeat(129)), fc.constant("\u0001"), fc.integer()),
      key: fc.oneof(printable(10), fc.constant(""), fc.constant("k".repeat(257))),
      group: fc.oneof(nameish(names), fc.integer()),
      delay: numberish,
      headers: headersish,
    },
    { requiredKeys: [] },
  );
}

/** JSON text of message bodies too deep to build as values (a recursive walk would overflow). */
const deepText = fc.tuple(fc.constantFrom(65, 4_000, 100_000), fc.boolean()).map(([depth, batch]) => {
  const body = `${"[".repeat(depth)}1${"]".repeat(depth)}`;
  return batch ? `{"messages":[{"body":1},{"body":${body}}]}` : `{"body":${body}}`;
});

/** Bytes that are not UTF-8 (lone continuation, bad lead, overlong, surrogate, truncated) inside JSON. */
const invalidUtf8 = fc.tuple(
  fc.constantFrom([0x80], [0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80]),
  fc.uint8Array({ maxLength: 8 }),
).map(([bad, noise]) => {
  const enc = new TextEncoder();
  return new Uint8Array([...enc.encode('{"body":"'), ...bad, ...noise.filter((b) => b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c), ...enc.encode('"}')]);
});

/** A request body: absent, near-valid for some route, random JSON, deep, raw bytes or not JSON at all. */
export function bodyish(names: readonly string[]): fc.Arbitrary<string | Uint8Array | undefined> {
  const near = fc.record(
    {
      messages: fc.oneof(fc.array(messageish(names), { maxLength: 3 }), fc.constant([]), fc.constant(Array.from({ length: 1001 }, () => ({ body: 1 })))),
      body: fc.jsonValue({ maxDepth: 2 }),
      max: numberish,
      wait: waitish,
      visibilityTimeout: numberish,
      receipts: fc.oneof(fc.array(printable(30), { maxLength: 3 }), fc.constant("r")),
      delay: numberish,
      partition: numberish,
      partitions: fc.constantFrom(-1, 0, 1, 2, 65, "2"),
      to: fc.oneof(numberish, nameish(names)),
      queue: nameish(names),
      url: fc.constantFrom("http://127.0.0.1:9/h", "ftp://x", "not a url", "https://example.invalid/h"),
      filter: fc.oneof(headersish, fc.constant(null)),
      start: fc.constantFrom("earliest", "latest", "middle"),
      since: numberish,
      fifo: fc.oneof(fc.boolean(), fc.constant("yes")),
      retention: numberish,
      maxReceives: numberish,
      deadLetterQueue: fc.oneof(nameish(names), fc.constant(null)),
      ttl: numberish,
      capabilities: fc.oneof(
        fc.dictionary(fc.constantFrom("queues/*", "topics/*", "queues/fz-*", "topics/x", "buckets/y", "*"), fc.array(fc.constantFrom("send", "receive", "manage", "publish", "subscribe", "consume", "root"), { maxLength: 3 }), { maxKeys: 2 }),
        fc.constant("all"),
      ),
    },
    { requiredKeys: [] },
  );
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 6, arbitrary: near.map((b) => JSON.stringify(b)) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
    { weight: 1, arbitrary: fc.constantFrom("{", "[1,", "\u0000", "x".repeat(1024 * 1024 + 1), "{}".repeat(10)) },
    { weight: 1, arbitrary: deepText },
    { weight: 1, arbitrary: fc.oneof(invalidUtf8, fc.uint8Array({ maxLength: 32 })) },
  );
}

/**
 * A body the route accepts, with small values (no long polls, few partitions), so a good
 * share of requests runs the handler and the object, not only the schema.
 */
function validBody(route: string, names: readonly string[]): fc.Arbitrary<unknown> {
  const fuzzName = fc.constantFrom(...names.filter((n) => n.startsWith("fz-")));
  const msg = fc.record({ body: fc.jsonValue({ maxDepth: 2 }), id: printable(8).filter((x) => x.length > 0), key: printable(6).filter((x) => x.length > 0), headers: fc.oneof(fc.dictionary(printable(6).filter((x) => x.length > 0), printable(8), { maxKeys: 3 }), validOddHeaders) }, { requiredKeys: ["body"] });
  const receipts = fc.record({ receipts: fc.array(printable(40), { minLength: 1, maxLength: 3 }) });
  const bodies: Record<string, fc.Arbitrary<unknown>> = {
    "POST /v1/tokens": fc.record({ ttl: fc.integer({ min: 1, max: 600 }), capabilities: fc.constant({ "queues/fz-*": ["send"] }) }),
    "PUT /v1/queues/{q}": fc.record({ visibilityTimeout: fc.integer({ min: 1, max: 60 }), maxReceives: fc.integer({ min: 1, max: 5 }), delay: fc.integer({ min: 0, max: 3 }), deadLetterQueue: fc.oneof(fuzzName, fc.constant(null)) }, { requiredKeys: [] }),
    "POST /v1/queues/{q}/messages": fc.oneof(msg, fc.record({ messages: fc.array(msg, { minLength: 1, maxLength: 4 }) })),
    "POST /v1/queues/{q}/receive": fc.record({ max: fc.integer({ min: 1, max: 5 }), wait: fc.constant(0), visibilityTimeout: fc.integer({ min: 1, max: 60 }) }, { requiredKeys: [] }),
    "POST /v1/queues/{q}/ack": receipts,
    "POST /v1/queues/{q}/nack": receipts,
    "POST /v1/queues/{q}/extend": receipts.map((r) => ({ ...r, visibilityTimeout: 5 })),
    "POST /v1/queues/{q}/redrive": fc.record({ to: fuzzName, max: fc.integer({ min: 1, max: 3 }) }, { requiredKeys: [] }),
    "PUT /v1/topics/{t}": fc.record({ partitions: fc.integer({ min: 1, max: 3 }), compaction: fc.boolean() }, { requiredKeys: [] }),
    "POST /v1/topics/{t}/messages": fc.oneof(msg, fc.record({ messages: fc.array(msg, { minLength: 1, maxLength: 4 }) })),
    "PUT /v1/topics/{t}/groups/{g}": fc.record({ visibilityTimeout: fc.integer({ min: 1, max: 60 }), start: fc.constantFrom("earliest", "latest") }, { requiredKeys: [] }),
    "POST /v1/topics/{t}/groups/{g}/poll": fc.record({ max: fc.integer({ min: 1, max: 5 }), wait: fc.constant(0) }, { requiredKeys: [] }),
    "POST /v1/topics/{t}/groups/{g}/ack": receipts,
    "POST /v1/topics/{t}/groups/{g}/seek": fc.record({ to: fc.oneof(fc.constantFrom("earliest", "latest"), fc.nat({ max: 5 })), partition: fc.constant(0) }, { requiredKeys: ["to"] }),
    "PUT /v1/topics/{t}/subscriptions/{s}": fc.oneof(fc.record({ queue: fuzzName }), fc.constant({ url: "http://127.0.0.1:9/h" })),
  };
  return bodies[route] ?? fc.constant({});
}

const ROUTES = Object.keys(ROUTE_ACTIONS);
export const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

export interface FuzzRequest {
  method: string;
  path: string;
  credential: number;
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
}

/**
 * One request: a route of the table (its own method or another), or a random path; random
 * names in its parameters; a random query; a credential (an index into the caller's list).
 */
export function requestish(names: readonly string[], credential: fc.Arbitrary<number>): fc.Arbitrary<FuzzRequest> {
  const segment = nameish(names).map((s) => encodeURIComponent(s));
  const routed = fc.constantFrom(...ROUTES).chain((route) =>
    fc.record({
      q: segment, t: segment, g: segment, s: segment,
      ownMethod: fc.nat({ max: 9 }).map((n) => n > 0),
      method: fc.constantFrom(...METHODS),
      valid: fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: validBody(route, names).map((b) => JSON.stringify(b)) }),
    }).map((r) => {
      const [own, template] = route.split(" ") as [string, string];
      const path = template.replace(/\{(q|t|g|s)\}/g, (_, p: "q" | "t" | "g" | "s") => r[p]);
      return { method: r.ownMethod ? own : r.method, path, socket: /\/(consume|subscribe)$/.test(template), valid: r.valid };
    }),
  );
  const random = fc.record({ method: fc.constantFrom(...METHODS), path: fc.webPath().map((p) => (p.startsWith("/") ? p : `/${p}`)), socket: fc.constant(false), valid: fc.constant(undefined) });
  const query = fc.oneof(
    { weight: 3, arbitrary: fc.constant("") },
    { weight: 3, arbitrary: fc.record({ partition: numberish, from: fc.oneof(numberish, fc.constantFrom("latest", "earliest")), limit: numberish, since: numberish }, { requiredKeys: [] })
      .map((q) => `?${new URLSearchParams(Object.entries(q).map(([k, v]) => [k, JSON.stringify(v)?.replace(/^"|"$/g, "") ?? ""])).toString()}`) },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((s) => `?${encodeURIComponent(s)}=${encodeURIComponent(s)}`) },
  );
  const headers = fc.record(
    {
      "content-type": fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom("application/json", "application/json; charset=utf-8") },
        { weight: 2, arbitrary: fc.constantFrom("text/plain", "", "application/x+json", "multipart/form-data") },
      ),
      accept: fc.constantFrom("text/event-stream", "*/*"),
      "last-event-id": fc.oneof(printable(10), fc.constantFrom("5", "-1", "1e99")),
      "x-fuzz": printable(40),
    },
    { requiredKeys: ["content-type"] },
  );
  // An upgrade header turns any request into a GET in workerd, so it is rare except on sockets.
  const upgrade = fc.nat({ max: 9 });
  return fc.record({
    target: fc.oneof({ weight: 9, arbitrary: routed }, { weight: 1, arbitrary: random }),
    query,
    credential,
    headers,
    upgrade,
    body: bodyish(names),
  }).map(({ target, query, credential, headers, upgrade, body }) => {
    const withUpgrade = target.socket ? upgrade > 1 : upgrade === 0;
    return {
      method: target.method,
      path: `${target.path}${query}`,
      credential,
      headers: { ...Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== "")), ...(withUpgrade ? { upgrade: upgrade % 2 ? "websocket" : "h2c" } : {}) },
      body: target.method === "GET" || target.method === "HEAD" ? undefined : (target.valid ?? body),
    };
  });
}

/** Random client → server frames for /consume and /subscribe sockets. */
export function frameish(names: readonly string[]): fc.Arbitrary<string | ArrayBuffer> {
  const json = fc.record(
    {
      type: fc.constantFrom("credit", "ack", "nack", "extend", "publish", "subscribe", "ping", "", 7),
      n: numberish,
      receipts: fc.oneof(fc.array(printable(30), { maxLength: 3 }), fc.constant(null)),
      delay: numberish,
      visibilityTimeout: numberish,
      messages: fc.oneof(fc.array(messageish(names), { maxLength: 3 }), fc.constant("m")),
    },
    { requiredKeys: [] },
  );
  return fc.oneof(
    { weight: 6, arbitrary: json.map((f) => JSON.stringify(f)) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 16 }).map((a) => a.buffer as ArrayBuffer) },
  );
}

/** The codes API.md allows in an error body. */
export const KNOWN_CODES = new Set(Object.keys(ErrorCodes));

/** Why a non-2xx body is not the API's error shape, or null when it is. */
export function errorShapeProblem(status: number, text: string): string | null {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `not JSON: ${text.slice(0, 100)}`;
  }
  if (typeof body !== "object" || body === null || Object.keys(body).join() !== "error") return `not {error}: ${text.slice(0, 200)}`;
  const err = (body as { error: Record<string, unknown> }).error;
  const extra = Object.keys(err).filter((k) => !["code", "message", "details"].includes(k));
  if (extra.length) return `extra fields ${extra.join()}`;
  if (typeof err.code !== "string" || !KNOWN_CODES.has(err.code)) return `unknown code ${String(err.code)}`;
  if (typeof err.message !== "string" || err.message.length === 0) return "no message";
  if (err.details !== undefined && (typeof err.details !== "object" || err.details === null || Array.isArray(err.details))) return "details not an object";
  if (ErrorCodes[err.code as keyof typeof ErrorCodes] !== status) return `code ${err.code} with status ${status}`;
  return null;
}
