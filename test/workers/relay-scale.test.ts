// One partition serves ten times SPOOL_MAX_SOCKETS_PER_OBJECT live subscribers: with the
// cap set low (4), the partition keeps what it may hold and relays take the rest, shard by
// shard, no object over the cap; every subscriber gets every message in offset order, and
// GET /v1/topics/{t} counts them all. The cap and the policy are Worker vars, set on this
// file's env (each test file runs in its own isolate).
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { SUBSCRIBER_TAG } from "../../durable-objects/topic/live/socket";
import type { TopicPartition } from "../../durable-objects/topic/object";
import type { TopicRelay } from "../../durable-objects/topic/relay/relay";
import { uniqueName } from "./helpers";
import { publishOk, stub, topicStatus } from "./topic-log-helpers";
import { events, SseReader, subscribe, type Subscriber } from "./topic-live-helpers";
import { relayOf } from "./topic-live-modes";

const CAP = 4;
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

afterEach(() => {
  env.SPOOL_MAX_SOCKETS_PER_OBJECT = undefined;
  env.SPOOL_LIVE_RELAYS = undefined;
});

/** Sockets each object on the path holds: the partition, then relay shards 0, 1, … until one has none. */
async function socketsPerObject(t: string): Promise<{ partition: number; relays: number[] }> {
  const partition = await runInDurableObject(stub(t), (_o: TopicPartition, s) => s.getWebSockets(SUBSCRIBER_TAG).length);
  const relays: number[] = [];
  for (let shard = 0; ; shard++) {
    const n = await runInDurableObject(relayOf(t, 0, shard), (_o: TopicRelay, s) => s.getWebSockets(SUBSCRIBER_TAG).length);
    if (n === 0) return { partition, relays };
    relays.push(n);
  }
}

describe.each([
  { policy: "auto", direct: CAP },
  { policy: "always", direct: 0 },
])("relays at scale ($policy)", ({ policy, direct }) => {
  it(`relay scale - one partition serves 10x SPOOL_MAX_SOCKETS_PER_OBJECT subscribers (${policy}): all of them everything, in order, no object over the cap`, async () => {
    env.SPOOL_MAX_SOCKETS_PER_OBJECT = String(CAP);
    env.SPOOL_LIVE_RELAYS = policy;
    const t = uniqueName("scale");
    await publishOk(t, range(0, 5).map((i) => ({ body: `before-${i}` })));
    const total = CAP * 10;
    const subs: Subscriber[] = [];
    // Half join from the start (history through relays), half from now on.
    for (let i = 0; i < total; i++) subs.push(await subscribe(t, i % 2 === 0 ? "from=earliest" : "from=latest", { autoAck: 10 }));
    const sse = new SseReader(await events(t, "from=earliest"));
    for (let i = 0; i < 6; i++) await publishOk(t, range(0, 5).map((k) => ({ body: `live-${i}-${k}` })));
    const end = 5 + 30;
    for (const [i, sub] of subs.entries()) {
      await sub.untilOffsets(i % 2 === 0 ? end : end - 5);
      expect(sub.offsets()).toEqual(range(i % 2 === 0 ? 0 : 5, end));
      expect(sub.closed).toBeNull();
    }
    await sse.until(() => sse.messages().length >= end);
    expect(sse.messages().map((m) => Number(m.id))).toEqual(range(0, end));

    const held = await socketsPerObject(t);
    expect(held.partition).toBe(direct);
    expect(Math.max(...held.relays)).toBeLessThanOrEqual(CAP);
    expect(held.partition + held.relays.reduce((a, b) => a + b, 0)).toBe(total);
    expect(held.relays.length).toBeGreaterThanOrEqual((total - direct) / CAP);
    // Every subscriber counted, WebSocket and SSE, wherever it is served.
    expect((await topicStatus(t)).body.partitions[0].subscribers).toBe(total + 1);
    // The partition sent each message once per relay, not once per socket.
    const sent = await runInDurableObject(stub(t), (o: TopicPartition) => ({ relays: o.live.relays.size, messages: o.live.relays.messagesSent }));
    expect(sent.messages).toBeLessThanOrEqual(30 * sent.relays);
    for (const sub of subs) sub.close();
    await sse.cancel();
  });
});
