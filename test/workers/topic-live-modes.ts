/**
 * The two ways a live subscriber is served, for suites that must hold in both: directly by
 * its partition, or by a relay (durable-objects/topic/relay/). A suite runs once per mode
 * (`describe.each(LIVE_MODES)`) and reaches "the object that holds the subscribers" through
 * the mode: the partition, or relay shard 0 of the region a test request has (none: "any").
 * The mode is the Worker var SPOOL_LIVE_RELAYS, set on the shared test env for the suite.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll, beforeAll } from "vitest";
import type { SubscriberHub } from "../../durable-objects/topic/live/hub";
import type { TopicPartition } from "../../durable-objects/topic/object";
import { ANY_REGION, relayStub } from "../../durable-objects/topic/relay/placement";
import type { TopicRelay } from "../../durable-objects/topic/relay/relay";
import { stub } from "./topic-log-helpers";

export interface LiveMode {
  name: "direct" | "relay";
  policy: "never" | "always";
  /** The object that holds partition `p`'s subscribers. */
  holder(topic: string, p?: number): DurableObjectStub;
  /** Runs `fn` in the holder with its subscriber hub (deadlines, counts, SSE options) and state. */
  inHub<T>(topic: string, fn: (hub: SubscriberHub, state: DurableObjectState) => T, p?: number): Promise<T>;
  /** Every object on a subscriber's path (to prove hibernation and eviction of all of them). */
  path(topic: string, p?: number): DurableObjectStub[];
}

export function relayOf(topic: string, p = 0, shard = 0): DurableObjectStub<TopicRelay> {
  return relayStub(env, { topic, partition: p, region: ANY_REGION, shard });
}

export const DIRECT: LiveMode = {
  name: "direct",
  policy: "never",
  holder: (t, p = 0) => stub(t, p),
  inHub: (t, fn, p = 0) => runInDurableObject(stub(t, p), (o: TopicPartition, state) => fn(o.live.hub, state)),
  path: (t, p = 0) => [stub(t, p)],
};

export const RELAY: LiveMode = {
  name: "relay",
  policy: "always",
  holder: (t, p = 0) => relayOf(t, p),
  inHub: (t, fn, p = 0) => runInDurableObject(relayOf(t, p), (o: TopicRelay, state) => fn(o.hub, state)),
  path: (t, p = 0) => [relayOf(t, p), stub(t, p)],
};

export const LIVE_MODES: LiveMode[] = [DIRECT, RELAY];

/** Serves this suite's subscribers the mode's way (the var is read on every request). */
export function useLiveMode(mode: LiveMode): void {
  let before: string | undefined;
  beforeAll(() => {
    before = env.SPOOL_LIVE_RELAYS;
    env.SPOOL_LIVE_RELAYS = mode.policy;
  });
  afterAll(() => {
    env.SPOOL_LIVE_RELAYS = before;
  });
}

/** Fires the alarm of the object holding the subscribers. */
export function fireHolderAlarm(mode: LiveMode, topic: string, p = 0): Promise<boolean> {
  return runDurableObjectAlarm(mode.holder(topic, p));
}

/** Evicts every object on the subscribers' path (their sockets survive, memory does not). */
export async function evictPath(mode: LiveMode, topic: string, p = 0): Promise<void> {
  for (const s of mode.path(topic, p)) await evictDurableObject(s);
}
