// The soak in two minutes: producers, lease consumers with nacks and expiries, a push
// consumer, a partitioned topic with WebSocket and SSE subscribers that reconnect, a consumer
// group and a topic→queue subscription, against a real local server that is killed with
// SIGKILL once midway and started again on the same state. Guarantees only, no timings: no
// acknowledged send lost, nothing delivered after its ack, no hole in topic offsets, live
// subscribers without gap or duplicate, forwarding exactly once (consumed as it arrives). The run (bench/soak) always
// stops its servers, also when it fails.
import { describe, expect, it } from "vitest";
import { runSoak } from "../../bench/soak/soak.ts";

describe("soak", () => {
  it("soak - two minutes of mixed load with one kill -9 keep every guarantee", async () => {
    const report = await runSoak({
      durationMs: 120_000, killEveryMs: 60_000, partitions: 2,
      producers: 2, leaseConsumers: 3, pushConsumers: 1, publishers: 1, wsSubscribers: 3, sseSubscribers: 2,
      // Modest rates, so a loaded 2-core machine keeps up and the drains end well in time.
      batch: 5, pauseMs: 200, reconnectMs: [10_000, 30_000], drainMs: 90_000,
    });
    expect(report.counts.kills).toBe(1);
    expect(report.guarantees).toEqual({ lostSends: [], redeliveredAfterAck: [], topicHoles: [], live: [], group: [], forwarding: [] });
    expect(report.counts.sends).toBeGreaterThan(0);
    expect(report.counts.publishes).toBeGreaterThan(0);
    expect(report.counts.liveDeliveries).toBeGreaterThan(0);
    expect(report.counts.forwarded).toBe(report.counts.groupDelivered);
  }, 600_000);
});
