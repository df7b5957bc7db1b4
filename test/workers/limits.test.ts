// Input limits on the write paths of queues and topics: each breach is a 4xx with the
// documented code, the whole batch is refused, and nothing already stored changes. The
// same table runs against a queue send and a topic publish.
import { describe, expect, it } from "vitest";
import { call, callJson, errorCode, uniqueName } from "./helpers";

interface Target {
  kind: string;
  create(name: string, config: Record<string, unknown>): Promise<number>;
  write(name: string, body: unknown): Promise<{ status: number; body: any }>;
  /** What is stored, read without changing it. */
  state(name: string): Promise<unknown>;
}

const queue: Target = {
  kind: "queue",
  create: async (name, config) => (await callJson("PUT", `/v1/queues/${name}`, { body: config })).status,
  write: (name, body) => callJson("POST", `/v1/queues/${name}/messages`, { body }),
  state: async (name) => {
    const peek = await callJson("GET", `/v1/queues/${name}/messages?limit=100`);
    const info = await callJson("GET", `/v1/queues/${name}`);
    const { oldestAgeMs: _age, ...stats } = info.body.stats;
    return { peek: peek.body, stats };
  },
};

const topic: Target = {
  kind: "topic",
  create: async (name, config) => (await callJson("PUT", `/v1/topics/${name}`, { body: config })).status,
  write: (name, body) => callJson("POST", `/v1/topics/${name}/messages`, { body }),
  state: async (name) => (await callJson("GET", `/v1/topics/${name}/messages?limit=1000`)).body,
};

const headers = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, "v"]));
const ok = { body: "fine" };

/** [what, body, status, code]: each a batch that must be refused whole. */
const BREACHES: Array<[string, unknown, number, string]> = [
  ["an empty batch", { messages: [] }, 400, "VALIDATION_FAILED"],
  ["1001 messages", { messages: Array.from({ length: 1001 }, () => ok) }, 400, "VALIDATION_FAILED"],
  ["33 headers", { messages: [ok, { body: 1, headers: headers(33) }] }, 400, "VALIDATION_FAILED"],
  ["a header value over 4096 characters", { messages: [ok, { body: 1, headers: { h: "x".repeat(4097) } }] }, 400, "VALIDATION_FAILED"],
  ["a header name over 256 characters", { messages: [ok, { body: 1, headers: { ["h".repeat(257)]: "v" } }] }, 400, "VALIDATION_FAILED"],
  ["a non-string header value", { messages: [ok, { body: 1, headers: { h: 1 } }] }, 400, "VALIDATION_FAILED"],
  ["an id of 129 characters", { messages: [ok, { body: 1, id: "i".repeat(129) }] }, 400, "VALIDATION_FAILED"],
  ["an empty id", { messages: [ok, { body: 1, id: "" }] }, 400, "VALIDATION_FAILED"],
  ["an id with a control character", { messages: [ok, { body: 1, id: "a\nb" }] }, 400, "VALIDATION_FAILED"],
  ["a message over maxMessageBytes", { messages: [ok, { body: "x".repeat(2000) }] }, 413, "PAYLOAD_TOO_LARGE"],
];

for (const target of [queue, topic]) {
  describe(`limits - ${target.kind} writes`, () => {
    it(`limits - ${target.kind}: every breach is refused whole with its code and changes nothing stored`, async () => {
      const name = uniqueName(`lim-${target.kind}`);
      expect(await target.create(name, { maxMessageBytes: 1024 })).toBe(200);
      expect((await target.write(name, { messages: [{ body: "seed", headers: { a: "b" } }] })).status).toBe(201);
      const before = await target.state(name);
      for (const [what, body, status, code] of BREACHES) {
        const res = await target.write(name, body);
        expect(res.status, what).toBe(status);
        expect(errorCode(res.body), what).toBe(code);
      }
      expect(await target.state(name)).toEqual(before);
    });

    it(`limits - ${target.kind}: the limits themselves are accepted (1000 messages, 32 headers, 128-character ids)`, async () => {
      const name = uniqueName(`lim-${target.kind}`);
      const edge = { body: 1, id: "i".repeat(128), headers: { ...headers(31), ["h".repeat(256)]: "v".repeat(4096) } };
      expect((await target.write(name, { messages: [edge] })).status).toBe(201);
      const batch = await target.write(name, { messages: Array.from({ length: 1000 }, (_, i) => ({ body: i })) });
      expect(batch.status).toBe(201);
      expect(batch.body.messages).toHaveLength(1000);
    });

    it(`limits - ${target.kind}: a request body over SPOOL_MAX_BODY_BYTES is 413 before parsing and changes nothing`, async () => {
      const name = uniqueName(`lim-${target.kind}`);
      expect((await target.write(name, ok)).status).toBe(201);
      const before = await target.state(name);
      const path = `/v1/${target.kind === "queue" ? "queues" : "topics"}/${name}/messages`;
      const res = await call("POST", path, { raw: JSON.stringify({ body: "x".repeat(1024 * 1024) }), headers: { "content-type": "application/json" } });
      expect(res.status).toBe(413);
      expect(errorCode(await res.json())).toBe("PAYLOAD_TOO_LARGE");
      expect(await target.state(name)).toEqual(before);
    });
  });
}

describe("limits - topic keys", () => {
  it("limits - a topic key of 257 characters is refused, 256 accepted", async () => {
    const name = uniqueName("lim-key");
    expect((await topic.write(name, { messages: [{ body: 1, key: "k".repeat(256) }] })).status).toBe(201);
    const before = await topic.state(name);
    const res = await topic.write(name, { messages: [{ body: 2 }, { body: 1, key: "k".repeat(257) }] });
    expect(res.status).toBe(400);
    expect(errorCode(res.body)).toBe("VALIDATION_FAILED");
    expect(await topic.state(name)).toEqual(before);
  });
});

describe("limits - names", () => {
  const BAD = ["-lead", ".dot", "a b", "a%2Fb", "é", "x".repeat(129), "a*", "a#0"];
  const ROUTES: Array<(n: string) => [string, string]> = [
    (n) => ["POST", `/v1/queues/${n}/messages`],
    (n) => ["POST", `/v1/topics/${n}/messages`],
    (n) => ["PUT", `/v1/topics/lim-ok/groups/${n}`],
    (n) => ["PUT", `/v1/topics/lim-ok/subscriptions/${n}`],
  ];

  it("limits - names outside ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ are 400 INVALID_NAME on every kind of resource", async () => {
    for (const route of ROUTES) {
      for (const bad of BAD) {
        const [method, path] = route(encodeURIComponent(bad).replace("%252F", "%2F"));
        const { status, body } = await callJson(method, path, { body: { body: 1, queue: "q" } });
        expect(status, `${method} ${path}`).toBe(400);
        expect(errorCode(body), `${method} ${path}`).toBe("INVALID_NAME");
      }
    }
  });

  it("limits - a 128-character name is accepted", async () => {
    const long = `a${"b".repeat(127)}`;
    // "<q>.dlq" would be too long a name, so a queue this long names its dead-letter queue.
    expect((await callJson("PUT", `/v1/queues/${long}`, { body: { deadLetterQueue: null } })).status).toBe(200);
    expect((await callJson("POST", `/v1/queues/${long}/messages`, { body: { body: 1 } })).status).toBe(201);
    expect((await callJson("POST", `/v1/topics/${long}/messages`, { body: { body: 1 } })).status).toBe(201);
  });
});
