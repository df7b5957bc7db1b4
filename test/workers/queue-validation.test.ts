// Bad input on every queue endpoint: the right 4xx and code, never a 5xx, and nothing changes.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { call, callJson, errorCode, uniqueName } from "./helpers";
import { statsOf } from "./queue-helpers";

type Case = [method: string, path: string, body: unknown, status: number, code: string, field?: string];

/** Runs each case and checks status, code and (for validation failures) the field named. */
async function expectAll(cases: Case[]): Promise<void> {
  for (const [method, path, body, status, code, field] of cases) {
    const r = await callJson(method, path, body === undefined ? {} : { body });
    const label = `${method} ${path} ${JSON.stringify(body)?.slice(0, 80)}`;
    expect(r.status, label).toBe(status);
    expect(errorCode(r.body), label).toBe(code);
    if (field !== undefined) expect(r.body.error.details?.field, label).toBe(field);
  }
}

/** A queue with one visible message, to prove bad requests change nothing. */
async function seeded(): Promise<{ q: string; before: Record<string, unknown>; stats: Record<string, number> }> {
  const q = uniqueName("bad");
  await callJson("PUT", `/v1/queues/${q}`, { body: { visibilityTimeout: 40 } });
  await callJson("POST", `/v1/queues/${q}/messages`, { body: { id: "only", body: "x" } });
  const before = (await callJson("GET", `/v1/queues/${q}`)).body.config as Record<string, unknown>;
  return { q, before, stats: await statsOf(q) };
}

async function unchanged(s: { q: string; before: Record<string, unknown>; stats: Record<string, number> }): Promise<void> {
  const now = await callJson("GET", `/v1/queues/${s.q}`);
  expect(now.body.config).toEqual(s.before);
  const { oldestAgeMs: _a, ...rest } = now.body.stats as Record<string, number>;
  const { oldestAgeMs: _b, ...was } = s.stats;
  expect(rest).toEqual(was);
}

describe("queue bad input", () => {
  it("queue - PUT with an out-of-range or unknown config field is 400 VALIDATION_FAILED naming it", async () => {
    const s = await seeded();
    const p = `/v1/queues/${s.q}`;
    await expectAll([
      ["PUT", p, { visibilityTimeout: 0 }, 400, "VALIDATION_FAILED", "visibilityTimeout"],
      ["PUT", p, { visibilityTimeout: 43201 }, 400, "VALIDATION_FAILED", "visibilityTimeout"],
      ["PUT", p, { visibilityTimeout: 1.5 }, 400, "VALIDATION_FAILED", "visibilityTimeout"],
      ["PUT", p, { maxReceives: -1 }, 400, "VALIDATION_FAILED", "maxReceives"],
      ["PUT", p, { maxReceives: 0.5 }, 400, "VALIDATION_FAILED", "maxReceives"],
      ["PUT", p, { maxReceives: 1001 }, 400, "VALIDATION_FAILED", "maxReceives"],
      ["PUT", p, { deduplicationWindow: -1 }, 400, "VALIDATION_FAILED", "deduplicationWindow"],
      ["PUT", p, { deduplicationWindow: 86401 }, 400, "VALIDATION_FAILED", "deduplicationWindow"],
      ["PUT", p, { delay: 901 }, 400, "VALIDATION_FAILED", "delay"],
      ["PUT", p, { retention: 59 }, 400, "VALIDATION_FAILED", "retention"],
      ["PUT", p, { retention: 1209601 }, 400, "VALIDATION_FAILED", "retention"],
      ["PUT", p, { maxMessages: 0 }, 400, "VALIDATION_FAILED", "maxMessages"],
      ["PUT", p, { maxBytes: "big" }, 400, "VALIDATION_FAILED", "maxBytes"],
      ["PUT", p, { maxMessageBytes: 2_000_000 }, 400, "VALIDATION_FAILED", "maxMessageBytes"],
      ["PUT", p, { delivery: "exactly-once" }, 400, "VALIDATION_FAILED", "delivery"],
      ["PUT", p, { fifo: "yes" }, 400, "VALIDATION_FAILED", "fifo"],
      ["PUT", p, { deadLetterQueue: "has space" }, 400, "VALIDATION_FAILED", "deadLetterQueue"],
      ["PUT", p, { deadLetterQueue: s.q }, 400, "VALIDATION_FAILED", "deadLetterQueue"],
      ["PUT", p, { locationHint: "mars" }, 400, "VALIDATION_FAILED", "locationHint"],
      ["PUT", p, { visibiltyTimeout: 10 }, 400, "VALIDATION_FAILED"],
      ["PUT", p, [1, 2], 400, "VALIDATION_FAILED"],
      ["PUT", p, { fifo: true }, 409, "CONFLICT", "fifo"],
    ]);
    await unchanged(s);
  });

  it("queue - a bad send is 400 and writes nothing, nor creates the queue", async () => {
    const s = await seeded();
    const fresh = uniqueName("bad");
    const many = Array.from({ length: 1001 }, () => ({ body: 1 }));
    const headers33 = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`h${i}`, "v"]));
    for (const q of [s.q, fresh]) {
      const p = `/v1/queues/${q}/messages`;
      await expectAll([
        ["POST", p, {}, 400, "VALIDATION_FAILED", "body"],
        ["POST", p, { id: "no-body" }, 400, "VALIDATION_FAILED", "body"],
        ["POST", p, { messages: [] }, 400, "VALIDATION_FAILED", "messages"],
        ["POST", p, { messages: many }, 400, "VALIDATION_FAILED", "messages"],
        ["POST", p, { messages: [{ body: 1 }, { id: "x" }] }, 400, "VALIDATION_FAILED", "messages.1.body"],
        ["POST", p, { messages: [{ body: 1 }], body: 2 }, 400, "VALIDATION_FAILED", "body"],
        ["POST", p, { body: 1, id: "x".repeat(129) }, 400, "VALIDATION_FAILED", "id"],
        ["POST", p, { body: 1, id: "tab\there" }, 400, "VALIDATION_FAILED", "id"],
        ["POST", p, { body: 1, id: "" }, 400, "VALIDATION_FAILED", "id"],
        ["POST", p, { body: 1, headers: headers33 }, 400, "VALIDATION_FAILED", "headers"],
        ["POST", p, { body: 1, headers: { n: 1 } }, 400, "VALIDATION_FAILED", "headers.n"],
        ["POST", p, { body: 1, delay: 901 }, 400, "VALIDATION_FAILED", "delay"],
        ["POST", p, { body: 1, delay: -1 }, 400, "VALIDATION_FAILED", "delay"],
        ["POST", p, { body: 1, group: "" }, 400, "VALIDATION_FAILED", "group"],
        ["POST", p, "just a string", 400, "VALIDATION_FAILED"],
      ]);
      const text = await call("POST", p, { raw: "body", headers: { "content-type": "text/plain" } });
      expect(text.status).toBe(415);
      expect(errorCode(await text.json())).toBe("UNSUPPORTED_MEDIA_TYPE");
      const broken = await call("POST", p, { raw: '{"body":', headers: { "content-type": "application/json" } });
      expect(broken.status).toBe(400);
      expect(errorCode(await broken.json())).toBe("BAD_REQUEST");
      const huge = await call("POST", p, { raw: JSON.stringify({ body: "x".repeat(1_100_000) }), headers: { "content-type": "application/json" } });
      expect(huge.status).toBe(413);
      expect(errorCode(await huge.json())).toBe("PAYLOAD_TOO_LARGE");
    }
    await unchanged(s);
    expect((await callJson("GET", `/v1/queues/${fresh}`)).status).toBe(404);
  });

  it("queue - bad receive, ack, nack, extend, peek and redrive bodies are 400 and change nothing", async () => {
    const s = await seeded();
    const p = `/v1/queues/${s.q}`;
    await expectAll([
      ["POST", `${p}/receive`, { max: 0 }, 400, "VALIDATION_FAILED", "max"],
      ["POST", `${p}/receive`, { max: 101 }, 400, "VALIDATION_FAILED", "max"],
      ["POST", `${p}/receive`, { max: "1" }, 400, "VALIDATION_FAILED", "max"],
      ["POST", `${p}/receive`, { wait: 21 }, 400, "VALIDATION_FAILED", "wait"],
      ["POST", `${p}/receive`, { visibilityTimeout: 0 }, 400, "VALIDATION_FAILED", "visibilityTimeout"],
      ["POST", `${p}/ack`, {}, 400, "VALIDATION_FAILED", "receipts"],
      ["POST", `${p}/ack`, { receipts: "r" }, 400, "VALIDATION_FAILED", "receipts"],
      ["POST", `${p}/ack`, { receipts: [1] }, 400, "VALIDATION_FAILED", "receipts.0"],
      ["POST", `${p}/nack`, { receipts: ["r"], delay: -1 }, 400, "VALIDATION_FAILED", "delay"],
      ["POST", `${p}/nack`, { receipts: ["r"], delay: 43201 }, 400, "VALIDATION_FAILED", "delay"],
      ["POST", `${p}/extend`, { receipts: ["r"] }, 400, "VALIDATION_FAILED", "visibilityTimeout"],
      ["POST", `${p}/extend`, { receipts: ["r"], visibilityTimeout: 43201 }, 400, "VALIDATION_FAILED", "visibilityTimeout"],
      ["GET", `${p}/messages?limit=0`, undefined, 400, "VALIDATION_FAILED", "limit"],
      ["GET", `${p}/messages?limit=101`, undefined, 400, "VALIDATION_FAILED", "limit"],
      ["GET", `${p}/messages?limit=many`, undefined, 400, "VALIDATION_FAILED", "limit"],
      ["POST", `${p}/redrive`, { to: "bad name" }, 400, "VALIDATION_FAILED", "to"],
      ["POST", `${p}/redrive`, { to: s.q }, 400, "VALIDATION_FAILED", "to"],
      ["POST", `${p}/redrive`, { max: 0 }, 400, "VALIDATION_FAILED", "max"],
      ["GET", "/v1/queues/bad%20name", undefined, 400, "INVALID_NAME"],
      ["POST", "/v1/queues/-dash/receive", {}, 400, "INVALID_NAME"],
    ]);
    await unchanged(s);
  });

  it("queue - every call but send and PUT on a queue never created is 404 NOT_FOUND and creates nothing", async () => {
    const q = uniqueName("none");
    const p = `/v1/queues/${q}`;
    await expectAll([
      ["GET", p, undefined, 404, "NOT_FOUND"],
      ["DELETE", p, undefined, 404, "NOT_FOUND"],
      ["POST", `${p}/receive`, {}, 404, "NOT_FOUND"],
      ["POST", `${p}/receive`, { wait: 1 }, 404, "NOT_FOUND"],
      ["POST", `${p}/ack`, { receipts: ["1.0123456789abcdef"] }, 404, "NOT_FOUND"],
      ["POST", `${p}/nack`, { receipts: [] }, 404, "NOT_FOUND"],
      ["POST", `${p}/extend`, { receipts: [], visibilityTimeout: 5 }, 404, "NOT_FOUND"],
      ["GET", `${p}/messages`, undefined, 404, "NOT_FOUND"],
      ["POST", `${p}/purge`, undefined, 404, "NOT_FOUND"],
      ["POST", `${p}/redrive`, {}, 404, "NOT_FOUND"],
    ]);
    expect((await callJson("GET", "/v1/queues")).body.queues.some((e: { name: string }) => e.name === q)).toBe(false);
  });

  it("queue - arbitrary JSON bodies on send and receive never produce a 5xx", async () => {
    const s = await seeded();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("messages", "receive", "ack", "nack", "extend", "redrive"), fc.jsonValue(), async (op, body) => {
        const r = await call("POST", `/v1/queues/${s.q}/${op}`, { raw: JSON.stringify(body), headers: { "content-type": "application/json" } });
        await r.body?.cancel();
        expect(r.status).toBeLessThan(500);
      }),
      { numRuns: 60 },
    );
  });
});
