// GET /metrics: parsed by a real Prometheus text parser (parse-prometheus-text-format, a
// port of the reference client's parser) and checked sample by sample against the /v1
// stats of the same queues and topics; who may read it; label escaping; and what a scrape
// of 1,000 queues costs (logged, never asserted: tests do not judge timings).
import { describe, expect, it } from "vitest";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { renderMetrics, escapeLabelValue } from "../../worker/routes/metrics-format";
import { call, callJson, uniqueName } from "./helpers";
import { mint } from "./token-helpers";
import { subscribe } from "./topic-live-helpers";

interface Sample { labels?: Record<string, string>; value: string }
interface Family { name: string; help: string; type: string; metrics: Sample[] }

const FAMILIES: Record<string, { type: string; labels: string[] }> = {
  spool_queue_messages: { type: "GAUGE", labels: ["queue", "state"] },
  spool_queue_sent_total: { type: "COUNTER", labels: ["queue"] },
  spool_queue_acked_total: { type: "COUNTER", labels: ["queue"] },
  spool_queue_dead_lettered_total: { type: "COUNTER", labels: ["queue"] },
  spool_topic_next_offset: { type: "GAUGE", labels: ["topic", "partition"] },
  spool_topic_bytes: { type: "GAUGE", labels: ["topic", "partition"] },
  spool_group_lag: { type: "GAUGE", labels: ["topic", "group"] },
  spool_subscription_lag: { type: "GAUGE", labels: ["topic", "subscription"] },
  spool_live_subscribers: { type: "GAUGE", labels: ["topic"] },
};

async function scrape(auth?: string): Promise<Family[]> {
  const res = await call("GET", "/metrics", { auth });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  const text = await res.text();
  // Every family has HELP and TYPE lines before its samples, each once.
  for (const name of Object.keys(FAMILIES)) {
    expect(text.match(new RegExp(`^# HELP ${name} `, "gm"))?.length, name).toBe(1);
    expect(text.match(new RegExp(`^# TYPE ${name} `, "gm"))?.length, name).toBe(1);
  }
  return parsePrometheusTextFormat(text) as Family[];
}

/** The value of the sample of `family` whose labels are exactly `labels`. */
function valueOf(families: Family[], family: string, labels: Record<string, string>): number | undefined {
  const f = families.find((x) => x.name === family);
  const s = f?.metrics.find((m) => JSON.stringify(m.labels ?? {}) === JSON.stringify(labels));
  return s === undefined ? undefined : Number(s.value);
}

describe("metrics - exposition", () => {
  it("metrics - exactly the contract's families, types and label names, nothing else", async () => {
    await callJson("POST", `/v1/queues/${uniqueName("shape")}/messages`, { body: { body: 1 } });
    await callJson("POST", `/v1/topics/${uniqueName("shape")}/messages`, { body: { body: 1 } });
    const families = await scrape();
    expect(families.map((f) => f.name).sort()).toEqual(Object.keys(FAMILIES).sort());
    for (const f of families) {
      expect(f.type, f.name).toBe(FAMILIES[f.name]!.type);
      expect(f.help.length, f.name).toBeGreaterThan(0);
      for (const m of f.metrics) {
        expect(Object.keys(m.labels ?? {}).sort(), f.name).toEqual([...FAMILIES[f.name]!.labels].sort());
        expect(Number.isFinite(Number(m.value)), `${f.name} ${m.value}`).toBe(true);
      }
    }
  });

  it("metrics - queue samples equal GET /v1/queues/{q} stats (visible, inflight, delayed, sent, acked, dead-lettered)", async () => {
    const q = uniqueName("mq");
    await callJson("PUT", `/v1/queues/${q}`, { body: { maxReceives: 1 } });
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { messages: [{ body: "a" }, { body: "b" }, { body: "c" }, { body: "d" }, { body: "later", delay: 600 }] } });
    const received = (await callJson("POST", `/v1/queues/${q}/receive`, { body: { max: 3 } })).body.messages as Array<{ receipt: string }>;
    expect(received).toHaveLength(3);
    await callJson("POST", `/v1/queues/${q}/ack`, { body: { receipts: [received[0]!.receipt] } });
    await callJson("POST", `/v1/queues/${q}/nack`, { body: { receipts: [received[1]!.receipt] } }); // last allowed delivery: dead-lettered
    const stats = (await callJson("GET", `/v1/queues/${q}`)).body.stats;
    expect(stats).toMatchObject({ visible: 1, inFlight: 1, delayed: 1, sent: 5, acked: 1, deadLettered: 1 });
    const families = await scrape();
    expect(valueOf(families, "spool_queue_messages", { queue: q, state: "visible" })).toBe(stats.visible);
    expect(valueOf(families, "spool_queue_messages", { queue: q, state: "inflight" })).toBe(stats.inFlight);
    expect(valueOf(families, "spool_queue_messages", { queue: q, state: "delayed" })).toBe(stats.delayed);
    expect(valueOf(families, "spool_queue_sent_total", { queue: q })).toBe(stats.sent);
    expect(valueOf(families, "spool_queue_acked_total", { queue: q })).toBe(stats.acked);
    expect(valueOf(families, "spool_queue_dead_lettered_total", { queue: q })).toBe(stats.deadLettered);
    // The dead-letter queue is a queue like any other.
    expect(valueOf(families, "spool_queue_messages", { queue: `${q}.dlq`, state: "visible" })).toBe(1);
  });

  it("metrics - topic samples equal GET /v1/topics/{t}: next offsets, bytes, group lag, subscription lag, live subscribers", async () => {
    const t = uniqueName("mt");
    await callJson("PUT", `/v1/topics/${t}`, { body: { partitions: 2 } });
    // A webhook that cannot be reached: the subscription's lag stays at what was published after it.
    expect((await callJson("PUT", `/v1/topics/${t}/subscriptions/hook`, { body: { url: "http://127.0.0.1:9/hook" } })).status).toBe(200);
    await callJson("PUT", `/v1/topics/${t}/groups/workers`, { body: { start: "earliest" } });
    const keys = ["a", "b", "c", "d", "e", "f", "g"];
    await callJson("POST", `/v1/topics/${t}/messages`, { body: { messages: keys.map((key) => ({ key, body: { key } })) } });
    const polled = (await callJson("POST", `/v1/topics/${t}/groups/workers/poll`, { body: { max: 2 } })).body.messages as Array<{ receipt: string }>;
    await callJson("POST", `/v1/topics/${t}/groups/workers/ack`, { body: { receipts: polled.map((m) => m.receipt) } });
    const live = await subscribe(t, "partition=1");
    try {
      const status = (await callJson("GET", `/v1/topics/${t}`)).body;
      const subscription = (await callJson("GET", `/v1/topics/${t}/subscriptions/hook`)).body;
      const families = await scrape();
      for (const p of status.partitions as Array<{ partition: number; next: number; bytes: number }>) {
        expect(valueOf(families, "spool_topic_next_offset", { topic: t, partition: String(p.partition) })).toBe(p.next);
        expect(valueOf(families, "spool_topic_bytes", { topic: t, partition: String(p.partition) })).toBe(p.bytes);
      }
      expect((status.partitions as Array<{ next: number }>).reduce((n, p) => n + p.next, 0)).toBe(keys.length);
      expect(status.groups).toEqual([{ name: "workers", lag: keys.length - 2 }]);
      expect(valueOf(families, "spool_group_lag", { topic: t, group: "workers" })).toBe(keys.length - 2);
      expect(subscription.lag).toBe(keys.length);
      expect(valueOf(families, "spool_subscription_lag", { topic: t, subscription: "hook" })).toBe(keys.length);
      const subscribers = (status.partitions as Array<{ subscribers: number }>).reduce((n, p) => n + p.subscribers, 0);
      expect(subscribers).toBe(1);
      expect(valueOf(families, "spool_live_subscribers", { topic: t })).toBe(subscribers);
    } finally {
      live.close();
    }
  });

  it("metrics - label values are escaped as the format says and parse back unchanged", () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const odd = 'we"ird\\name\nline';
    const text = renderMetrics(
      [{ name: odd, stats: { visible: 1, inFlight: 2, delayed: 3, messages: 6, bytes: 0, oldestAgeMs: 0, consumers: 0, sent: 7, received: 0, acked: 4, deadLettered: 5, duplicates: 0 } }],
      [{ name: odd, partitions: [{ partition: 0, first: 0, next: 9, bytes: 10, subscribers: 2 }], groups: [{ name: odd, lag: 11 }], subscriptions: [{ name: odd, lag: 12 }] }],
    );
    const families = parsePrometheusTextFormat(text) as Family[];
    expect(valueOf(families, "spool_queue_messages", { queue: odd, state: "delayed" })).toBe(3);
    expect(valueOf(families, "spool_queue_dead_lettered_total", { queue: odd })).toBe(5);
    expect(valueOf(families, "spool_topic_next_offset", { topic: odd, partition: "0" })).toBe(9);
    expect(valueOf(families, "spool_group_lag", { topic: odd, group: odd })).toBe(11);
    expect(valueOf(families, "spool_subscription_lag", { topic: odd, subscription: odd })).toBe(12);
    expect(valueOf(families, "spool_live_subscribers", { topic: odd })).toBe(2);
  });
});

describe("metrics - who may scrape", () => {
  it("metrics - the admin key, or manage on queues/* and topics/* (token or access key); anything less is 401 or 403", async () => {
    const both = { "queues/*": ["manage"], "topics/*": ["manage"] };
    expect((await call("GET", "/metrics", { auth: null })).status).toBe(401);
    expect((await call("GET", "/metrics", { auth: "not-a-credential" })).status).toBe(401);
    expect((await call("GET", "/metrics", { auth: await mint({ "queues/*": ["manage"] }) })).status).toBe(403);
    expect((await call("GET", "/metrics", { auth: await mint({ "topics/*": ["manage"] }) })).status).toBe(403);
    // A prefix pattern is not the list capability.
    expect((await call("GET", "/metrics", { auth: await mint({ "queues/a*": ["manage"], "topics/*": ["manage"] }) })).status).toBe(403);
    const token = await mint(both);
    expect((await call("GET", "/metrics", { auth: token })).status).toBe(200);
    // Tokens are accepted in the header only here: /metrics is not a stream.
    expect((await call("GET", `/metrics?token=${token}`, { auth: null })).status).toBe(401);
    const key = (await callJson("POST", "/v1/keys", { body: { capabilities: both } })).body;
    expect((await call("GET", "/metrics", { auth: `${key.accessKeyId}:${key.secretAccessKey}` })).status).toBe(200);
    expect((await call("GET", "/metrics")).status).toBe(200);
  });
});

describe("metrics - cost", () => {
  it("metrics - a scrape with 1,000 queues answers every queue (time logged for the README, not asserted)", async () => {
    const prefix = uniqueName("scale");
    const names = Array.from({ length: 1000 }, (_, i) => `${prefix}-${String(i).padStart(4, "0")}`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map((q) => callJson("POST", `/v1/queues/${q}/messages`, { body: { body: i } })));
    }
    const timings: number[] = [];
    let families: Family[] = [];
    for (let run = 0; run < 3; run++) {
      const started = performance.now();
      const res = await call("GET", "/metrics");
      const text = await res.text();
      timings.push(performance.now() - started);
      families = parsePrometheusTextFormat(text) as Family[];
    }
    const visible = families.find((f) => f.name === "spool_queue_messages")!.metrics.filter((m) => m.labels?.state === "visible" && m.labels.queue?.startsWith(prefix));
    expect(visible).toHaveLength(1000);
    expect(visible.every((m) => Number(m.value) === 1)).toBe(true);
    console.log(`metrics scrape with ${families.find((f) => f.name === "spool_queue_sent_total")!.metrics.length} queues: ${timings.map((t) => `${Math.round(t)} ms`).join(", ")}`);
  }, 180_000);
});
