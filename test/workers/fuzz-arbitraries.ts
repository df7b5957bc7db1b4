/**
 * Generators for the fuzz tests: requests over every route of the action table with random
 * methods, names, query strings, headers, credentials and bodies, and random WebSocket
 * frames. Bodies are near-valid as often as random, so requests get past validation into
 * the handlers and objects, not only bounce off the schema.
 */
import fc from "fast-check";
import { ErrorCodes } from "../../worker/error-codes";
import { ROUTE_ACTIONS } from "./auth-routes";

/** Printable ASCII: what a header value may carry. */
const printable = (max: number): fc.Arbitrary<string> => fc.string({ unit: "grapheme-ascii", maxLength: max }).map((s) => s.replace(/[^\x20-\x7e]/g, ""));

/** Names a path segment or a body field may carry: valid, invalid, absurd. */
export function nameish(valid: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...valid) },
    { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,12}$/).map((s) => `fz-${s}`) },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
    { weight: 1, arbitrary: fc.constantFrom("", ".", "..", "-x", "a b", "a/b", "x".repeat(129), "%", "é", "*", "a#1") },
  );
}

const smallInt = fc.oneof(fc.integer({ min: -3, max: 5 }), fc.constantFrom(0, 1, 20, 64, 65, 100, 101, 1000, 1001, 86_401, 2 ** 31, -1e9, 1.5, Number.MAX_SAFE_INTEGER));
const numberish = fc.oneof({ weight: 4, arbitrary: smallInt }, { weight: 1, arbitrary: fc.constantFrom("1", null, true, [], {}, "earliest", "latest") });
/** `wait` stays out of 1-20 so no request long-polls. */
const waitish = fc.constantFrom(0, -1, 21, 0.5, "1", null);

const headersish = fc.oneof(
  fc.dictionary(printable(20), printable(40), { maxKeys: 4 }),
  fc.constant(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`h${i}`, "v"]))),
  fc.constant({ h: "x".repeat(5000) }),
  fc.constant({ ["x".repeat(300)]: "v" }),
  fc.constant("not-an-object"),
);

function messageish(names: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(
    {
      body: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant("x".repeat(300_000))),
      id: fc.oneof(printable(10), fc.constant(""), fc.constant("x".repeat(129)), fc.constant("\u0001"), fc.integer()),
      key: fc.oneof(printable(10), fc.constant(""), fc.constant("k".repeat(257))),
      group: fc.oneof(nameish(names), fc.integer()),
      delay: numberish,
      headers: headersish,
    },
    { requiredKeys: [] },
  );
}

/** A request body: absent, near-valid for some route, random JSON, or not JSON at all. */
export function bodyish(names: readonly string[]): fc.Arbitrary<string | undefined> {
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
  );
}

const ROUTES = Object.keys(ROUTE_ACTIONS);
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

export interface FuzzRequest {
  method: string;
  path: string;
  credential: number;
  headers: Record<string, string>;
  body: string | undefined;
}

/**
 * One request: a route of the table (its own method or another), or a random path; random
 * names in its parameters; a random query; a credential by index into the caller's list.
 */
export function requestish(names: readonly string[], credentials: number): fc.Arbitrary<FuzzRequest> {
  const segment = nameish(names).map((s) => encodeURIComponent(s));
  const routed = fc.record({ route: fc.constantFrom(...ROUTES), q: segment, t: segment, g: segment, s: segment, ownMethod: fc.boolean(), method: fc.constantFrom(...METHODS) }).map((r) => {
    const [own, template] = r.route.split(" ") as [string, string];
    const path = template.replace(/\{(q|t|g|s)\}/g, (_, p: "q" | "t" | "g" | "s") => r[p]);
    return { method: r.ownMethod ? own : r.method, path };
  });
  const random = fc.record({ method: fc.constantFrom(...METHODS), path: fc.webPath().map((p) => (p.startsWith("/") ? p : `/${p}`)) });
  const query = fc.oneof(
    { weight: 3, arbitrary: fc.constant("") },
    { weight: 3, arbitrary: fc.record({ partition: numberish, from: fc.oneof(numberish, fc.constantFrom("latest", "earliest")), limit: numberish, since: numberish }, { requiredKeys: [] })
      .map((q) => `?${new URLSearchParams(Object.entries(q).map(([k, v]) => [k, JSON.stringify(v)?.replace(/^"|"$/g, "") ?? ""])).toString()}`) },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((s) => `?${encodeURIComponent(s)}=${encodeURIComponent(s)}`) },
  );
  const headers = fc.record(
    {
      "content-type": fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "", "application/x+json", "multipart/form-data"),
      upgrade: fc.constantFrom("websocket", "h2c"),
      accept: fc.constantFrom("text/event-stream", "*/*"),
      "last-event-id": fc.oneof(printable(10), fc.constantFrom("5", "-1", "1e99")),
      "x-fuzz": printable(40),
    },
    { requiredKeys: [] },
  );
  return fc.record({
    target: fc.oneof({ weight: 9, arbitrary: routed }, { weight: 1, arbitrary: random }),
    query,
    credential: fc.nat({ max: credentials - 1 }),
    headers,
    body: bodyish(names),
  }).map(({ target, query, credential, headers, body }) => ({
    method: target.method,
    path: `${target.path}${query}`,
    credential,
    headers: Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== "")),
    body: target.method === "GET" || target.method === "HEAD" ? undefined : body,
  }));
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
