/**
 * SUBSCRIBE and UNSUBSCRIBE (§3.8, §3.10). A filter is checked (wildcards below the first
 * level only, no shared subscriptions), authorised on its Spool topic and counted against
 * the session's limits; its Spool topic is created if it does not exist (MQTT clients
 * subscribe before anyone publishes) and followed from its current end. SUBACK grants
 * QoS 0 or 1 (2 is granted as 1). Then the retained messages the filter matches are sent,
 * per its Retain Handling.
 */
import { ApiError } from "../shared/errors";
import { ensureTopic } from "../topic/router/directory";
import { retainedMessages } from "../topic/router/retained";
import { topicStatus } from "../topic/router/topics";
import { mayOnTopic } from "./auth";
import { encodeSuback, encodeUnsuback, type ClientPacket, type Subscription } from "./codec";
import { MAX_FOLLOWED_TOPICS, MAX_RETAINED_PER_SUBSCRIPTION, MAX_SUBSCRIPTIONS, type ConnectionContext } from "./context";
import { outgoingProperties, payloadOf, publishedQos } from "./payload";
import { ReasonCodes, SUBACK_FAILURE } from "./reasons";
import type { SubscriptionRow } from "./store";
import { checkFilter, mqttTopicOf, topicMatches } from "./topics";
import { now } from "../shared/clock";

type Subscribe = Extract<ClientPacket, { type: "subscribe" }>;
type Unsubscribe = Extract<ClientPacket, { type: "unsubscribe" }>;

interface Accepted {
  sub: Subscription;
  row: SubscriptionRow;
  existed: boolean;
}

export async function handleSubscribe(ctx: ConnectionContext, p: Subscribe): Promise<void> {
  const record = ctx.record();
  if (!record) return;
  const v5 = record.version === 5;
  const fail = (reason: number) => (v5 ? reason : SUBACK_FAILURE);
  const existing = new Map(ctx.store.subscriptions().map((s) => [s.filter, s]));
  const topics = new Set([...existing.values()].map((s) => s.topic));
  // §3.8.2.1.2: at most one Subscription Identifier, 1 to 268,435,455; anything else is a Protocol Error.
  const ids = p.properties.subscriptionIdentifiers ?? [];
  if (ids.length > 1 || ids[0] === 0) return ctx.fail(ReasonCodes.PROTOCOL_ERROR, "bad subscription identifier");
  // §3.8.3.1 [MQTT-3.8.3-4]: No Local on a Shared Subscription is a Protocol Error (before refusing the share).
  if (p.subscriptions.some((s) => s.noLocal && s.filter.startsWith("$share/"))) return ctx.fail(ReasonCodes.PROTOCOL_ERROR, "No Local on a shared subscription");
  const subId = ids[0] ?? null;
  const codes: number[] = [];
  const accepted: Accepted[] = [];
  for (const sub of p.subscriptions) {
    const verdict = checkFilter(sub.filter);
    if (!verdict.ok) {
      codes.push(verdict.why === "shared" ? fail(ReasonCodes.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED)
        : verdict.why === "first-level-wildcard" ? SUBACK_FAILURE : fail(ReasonCodes.TOPIC_FILTER_INVALID));
      continue;
    }
    const topic = verdict.spoolTopic;
    if (!mayOnTopic(record.credential, "subscribe", topic)) {
      codes.push(fail(ReasonCodes.NOT_AUTHORIZED));
      continue;
    }
    const existed = existing.has(sub.filter);
    if ((!existed && existing.size >= MAX_SUBSCRIPTIONS) || (!topics.has(topic) && topics.size >= MAX_FOLLOWED_TOPICS)) {
      codes.push(fail(ReasonCodes.QUOTA_EXCEEDED));
      continue;
    }
    const row: SubscriptionRow = { filter: sub.filter, topic, qos: sub.qos === 0 ? 0 : 1, rap: sub.retainAsPublished, subId, noLocal: sub.noLocal };
    existing.set(sub.filter, row);
    topics.add(topic);
    codes.push(row.qos);
    accepted.push({ sub, row, existed });
  }
  // Follow each new Spool topic from its end now, so nothing published after SUBACK is missed.
  const failedTopics = new Set<string>();
  for (const topic of new Set(accepted.map((a) => a.row.topic))) {
    if (ctx.delivery.follows(topic)) continue;
    try {
      await ensureTopic(ctx.env, topic);
      const status = await topicStatus(ctx.env, topic);
      ctx.delivery.follow(topic, status.partitions.map((line) => line.next));
    } catch (err) {
      console.error("mqtt: following a topic failed", err instanceof ApiError ? err.code : String(err));
      failedTopics.add(topic);
    }
  }
  let i = 0;
  for (let k = 0; k < codes.length; k++) {
    if (codes[k]! >= 0x80) continue;
    const a = accepted[i++]!;
    if (failedTopics.has(a.row.topic)) codes[k] = fail(ReasonCodes.UNSPECIFIED_ERROR);
    else ctx.store.putSubscription(a.row);
  }
  ctx.delivery.subscriptionsChanged();
  ctx.delivery.start();
  ctx.send(encodeSuback(record.version, p.packetId, codes));
  for (const a of accepted) {
    if (failedTopics.has(a.row.topic)) continue;
    if (a.sub.retainHandling === 2 || (a.sub.retainHandling === 1 && a.existed)) continue;
    await sendRetained(ctx, a.row);
  }
}

/** Sends the retained messages `row` matches, retain flag set, at min(granted, published) QoS. */
async function sendRetained(ctx: ConnectionContext, row: SubscriptionRow): Promise<void> {
  const record = ctx.record();
  if (!record) return;
  let entries;
  try {
    entries = await retainedMessages(ctx.env, row.topic, literalPrefix(row.filter), MAX_RETAINED_PER_SUBSCRIPTION);
  } catch (err) {
    console.error("mqtt: reading retained messages failed", err instanceof ApiError ? err.code : String(err));
    return;
  }
  let sent = 0;
  for (const e of entries) {
    if (sent >= MAX_RETAINED_PER_SUBSCRIPTION) break;
    const mqttTopic = mqttTopicOf(row.topic, e.key, e.headers);
    if (!topicMatches(row.filter, mqttTopic)) continue;
    const props = outgoingProperties(e.headers, now());
    if (props === "expired") continue;
    if (row.subId !== null) props.subscriptionIdentifiers = [row.subId];
    const qos = Math.min(row.qos, publishedQos(e.headers)) as 0 | 1;
    ctx.delivery.sendMessage(mqttTopic, payloadOf(e.body, e.headers), qos, true, record.version === 5 ? props : undefined, true);
    sent++;
  }
}

/**
 * The part of a filter before its first wildcard level (`a/b/+/c` → `a/b`), without the
 * slash: `a/#` matches `a` itself too. Candidates are then matched exactly.
 */
export function literalPrefix(filter: string): string {
  const levels = filter.split("/");
  const wild = levels.findIndex((l) => l === "+" || l === "#");
  return wild < 0 ? filter : levels.slice(0, wild).join("/");
}

export function handleUnsubscribe(ctx: ConnectionContext, p: Unsubscribe): void {
  const record = ctx.record();
  if (!record) return;
  const codes = p.filters.map((f) => (ctx.store.deleteSubscription(f) ? ReasonCodes.SUCCESS : ReasonCodes.NO_SUBSCRIPTION_EXISTED));
  const still = new Set(ctx.store.subscriptions().map((s) => s.topic));
  for (const f of p.filters) {
    const verdict = checkFilter(f);
    if (verdict.ok && !still.has(verdict.spoolTopic) && ctx.delivery.follows(verdict.spoolTopic)) ctx.delivery.unfollow(verdict.spoolTopic);
  }
  ctx.delivery.subscriptionsChanged();
  ctx.send(encodeUnsuback(record.version, p.packetId, codes));
}
