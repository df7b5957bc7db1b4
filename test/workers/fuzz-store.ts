/**
 * The store the fuzz tests seed before a run and compare after it: a queue and a
 * two-partition topic holding messages, and everything an admin can read about them
 * without changing them.
 */
import { callJson, uniqueName } from "./helpers";

export interface Seeded { q: string; t: string }

/** A queue and a two-partition topic, each holding messages. */
export async function seedStore(): Promise<Seeded> {
  const seed = { q: uniqueName("seedq"), t: uniqueName("seedt") };
  await callJson("PUT", `/v1/queues/${seed.q}`, { body: { maxReceives: 3 } });
  await callJson("POST", `/v1/queues/${seed.q}/messages`, {
    body: { messages: [{ body: { n: 1 } }, { body: "two", headers: { h: "v" } }, { body: [3], id: "fixed-id" }, { body: null, delay: 600 }] },
  });
  await callJson("PUT", `/v1/topics/${seed.t}`, { body: { partitions: 2 } });
  await callJson("POST", `/v1/topics/${seed.t}/messages`, {
    body: { messages: [{ body: 1, key: "a" }, { body: 2, key: "b" }, { body: 3, key: "c" }, { body: { x: 4 }, headers: { h: "v" } }] },
  });
  return seed;
}

/** Everything an admin can read about the seed without changing it (no leases). */
export async function snapshot(seed: Seeded): Promise<unknown> {
  const queue = await callJson("GET", `/v1/queues/${seed.q}`);
  const peek = await callJson("GET", `/v1/queues/${seed.q}/messages?limit=100`);
  const topic = await callJson("GET", `/v1/topics/${seed.t}`);
  const reads = [];
  for (const p of [0, 1]) reads.push(await callJson("GET", `/v1/topics/${seed.t}/messages?partition=${p}&limit=1000`));
  // Time-dependent or connection-dependent fields are not stored state.
  const { oldestAgeMs: _age, consumers: _consumers, ...stats } = (queue.body?.stats ?? {}) as Record<string, unknown>;
  const partitions = ((topic.body?.partitions ?? []) as Record<string, unknown>[]).map(({ subscribers: _s, ...p }) => p);
  return {
    queue: { status: queue.status, config: queue.body?.config, stats },
    peek: { status: peek.status, body: peek.body },
    topic: { status: topic.status, config: topic.body?.config, partitions, groups: topic.body?.groups },
    reads: reads.map((r) => ({ status: r.status, body: r.body })),
  };
}
