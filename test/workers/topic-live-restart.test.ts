// Socket bookkeeping survives a crash (issue #23): after a kill -9 the sockets are gone but
// their deadline rows (live/store.ts: `live_expiry`, `live_slow`) are not, and they kept an
// alarm armed for nobody until it next ran (a token's expiry: up to 24 h). A partition and
// a relay now reconcile those rows against `ctx.getWebSockets()` when they start, and re-arm
// the one alarm for what remains (or clear it). A restart is simulated inside the object:
// a fresh instance is constructed on the same state, whose sockets are the ones still open
// (a wake from hibernation keeps them: their rows must stay). Nothing here sleeps.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { now, toRealTime } from "../../durable-objects/shared/clock";
import { LiveStore } from "../../durable-objects/topic/live/store";
import { TopicPartition } from "../../durable-objects/topic/object";
import { TopicRelay } from "../../durable-objects/topic/relay/relay";
import { mintToken } from "../../worker/tokens";
import { uniqueName } from "./helpers";
import { putTopic, stub } from "./topic-log-helpers";
import { subscribe, type Subscriber } from "./topic-live-helpers";
import { relayOf } from "./topic-live-modes";

afterEach(() => {
  env.SPOOL_LIVE_RELAYS = undefined;
});

interface Holder {
  name: string;
  policy: "never" | "always";
  stub(topic: string): DurableObjectStub;
  /** A new instance of the object's class on `state`, as the runtime makes one after a restart. */
  restart(state: DurableObjectState): void;
}

const HOLDERS: Holder[] = [
  { name: "partition", policy: "never", stub: (t) => stub(t), restart: (state) => void new TopicPartition(state, env) },
  { name: "relay", policy: "always", stub: (t) => relayOf(t), restart: (state) => void new TopicRelay(state, env) },
];

interface AfterRestart {
  rows: { socket: string; at: number }[];
  alarm: number | null;
}

/** A topic (no messages, so no log deadline) with one subscriber whose token expires in 600 s. */
async function topicWithSubscriber(t: string): Promise<Subscriber> {
  expect((await putTopic(t)).status).toBeLessThan(300);
  const { token } = await mintToken(env, { [`topics/${t}`]: ["subscribe"] }, 600, now());
  return subscribe(t, "", { auth: token });
}

/** Every deadline row of either kind. */
function rowsOf(state: DurableObjectState): { socket: string; at: number }[] {
  return state.storage.sql.exec<{ socket: string; at: number }>(
    "SELECT socket, at FROM live_expiry UNION ALL SELECT socket, at FROM live_slow ORDER BY socket",
  ).toArray();
}

/**
 * Leaves the rows of two sockets that vanished (what a kill -9 leaves behind) and an alarm
 * armed for them, then starts a fresh instance on the same state and waits for its
 * constructor's blockConcurrencyWhile (which holds the object's input until it is done).
 */
async function crashAndRestart(holder: Holder, t: string): Promise<AfterRestart> {
  return runInDurableObject(holder.stub(t), async (_old, state) => {
    const store = new LiveStore(state.storage.sql);
    store.expiresAt("socket-gone-in-crash", now() + 1_000);
    store.paused("paused-socket-gone-in-crash", now() + 2_000);
    await state.storage.setAlarm(toRealTime(now() + 1_000));
    holder.restart(state);
    await state.blockConcurrencyWhile(async () => {});
    return { rows: rowsOf(state), alarm: await state.storage.getAlarm() };
  });
}

describe.each(HOLDERS)("socket bookkeeping after a restart ($name)", (holder) => {
  it(`restart (${holder.name}) - the rows of sockets that are gone are dropped and the alarm is cleared`, async () => {
    env.SPOOL_LIVE_RELAYS = holder.policy;
    const t = uniqueName("rs");
    const sub = await topicWithSubscriber(t);
    sub.close();
    await sub.untilClosed();
    const after = await crashAndRestart(holder, t);
    expect(after.rows).toEqual([]);
    expect(after.alarm).toBeNull();
  });

  it(`restart (${holder.name}) - an open socket's row stays and the alarm is armed for it alone`, async () => {
    env.SPOOL_LIVE_RELAYS = holder.policy;
    const t = uniqueName("rs");
    const sub = await topicWithSubscriber(t);
    const [live] = await runInDurableObject(holder.stub(t), (_o, state) => rowsOf(state));
    expect(live).toBeDefined();
    const after = await crashAndRestart(holder, t);
    expect(after.rows).toEqual([live]);
    expect(after.alarm).toBe(toRealTime(live!.at));
    sub.close();
    await sub.untilClosed();
  });

  it(`restart (${holder.name}) - a wake from hibernation keeps its sockets' rows and alarm`, async () => {
    env.SPOOL_LIVE_RELAYS = holder.policy;
    const t = uniqueName("rs");
    const sub = await topicWithSubscriber(t);
    const before = await runInDurableObject(holder.stub(t), async (_o, state) => ({ rows: rowsOf(state), alarm: await state.storage.getAlarm() }));
    expect(before.rows).toHaveLength(1);
    // Evicted with its socket still open: the next event constructs the object again.
    await evictDurableObject(holder.stub(t));
    const after = await runInDurableObject(holder.stub(t), async (_o, state) => ({ rows: rowsOf(state), alarm: await state.storage.getAlarm() }));
    expect(after).toEqual(before);
    expect(after.alarm).toBe(toRealTime(before.rows[0]!.at));
    sub.close();
    await sub.untilClosed();
  });
});
