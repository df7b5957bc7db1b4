/**
 * PUBLISH from a client (§3.3) and the acknowledgements of the QoS flows (§4.3): topic
 * aliases resolved, the topic mapped and authorised, the message written through the
 * Publisher, and PUBACK (QoS 1) or PUBREC (QoS 2, kept until PUBREL so a resend is not
 * written twice) only once the write is durable. A refused publish gets a failure reason
 * code in MQTT 5; 3.1.1 has none, so a refused one is acknowledged and dropped (§3.3.5),
 * and one that failed for a passing reason ends the connection so the client resends it.
 */
import type { ErrorCode } from "../../protocol/errors";
import { now } from "../shared/clock";
import { mayOnTopic } from "./auth";
import { encodeAck, type ClientPacket, type ProtocolVersion } from "./codec";
import { INBOUND_RECEIVE_MAXIMUM, TOPIC_ALIAS_MAXIMUM, type ConnectionContext } from "./context";
import { toSpoolMessage } from "./payload";
import { ReasonCodes } from "./reasons";
import { checkTopicName } from "./topics";

type Publish = Extract<ClientPacket, { type: "publish" }>;

export async function handlePublish(ctx: ConnectionContext, p: Publish): Promise<void> {
  const record = ctx.record();
  if (!record) return;
  const v = record.version;
  let topic = p.topic;
  // [MQTT-3.3.4-6]: a PUBLISH from a client MUST NOT carry a Subscription Identifier.
  if (p.properties.subscriptionIdentifiers !== undefined) return ctx.fail(ReasonCodes.PROTOCOL_ERROR, "subscription identifier on a PUBLISH");
  const alias = p.properties.topicAlias;
  if (alias !== undefined) {
    if (alias === 0 || alias > TOPIC_ALIAS_MAXIMUM) return ctx.fail(ReasonCodes.TOPIC_ALIAS_INVALID, "topic alias out of range");
    if (topic === "") {
      const known = ctx.store.alias(alias);
      if (known === null) return ctx.fail(ReasonCodes.PROTOCOL_ERROR, "unknown topic alias");
      topic = known;
    } else {
      ctx.store.setAlias(alias, topic);
    }
  }
  const verdict = checkTopicName(topic);
  if (!verdict.ok && verdict.why === "malformed") return ctx.fail(ReasonCodes.TOPIC_NAME_INVALID, "invalid topic name");
  if (p.qos === 2 && p.packetId !== null && ctx.store.hasQos2(p.packetId)) {
    ctx.send(encodeAck("pubrec", v, p.packetId)); // a resend of one already written
    return;
  }
  if (p.qos > 0 && ctx.inbound.pending >= INBOUND_RECEIVE_MAXIMUM) {
    return ctx.fail(ReasonCodes.RECEIVE_MAXIMUM_EXCEEDED, "too many publishes unanswered");
  }
  if (!verdict.ok) return refuse(ctx, p, v, ReasonCodes.TOPIC_NAME_INVALID);
  if (!mayOnTopic(record.credential, "publish", verdict.spoolTopic)) return refuse(ctx, p, v, ReasonCodes.NOT_AUTHORIZED);
  const mapped = toSpoolMessage({ mqttTopic: topic, payload: p.payload, qos: p.qos, retain: p.retain, properties: p.properties }, now());
  if (!mapped.ok) return refuse(ctx, p, v, ReasonCodes.IMPLEMENTATION_SPECIFIC_ERROR);
  if (p.qos > 0) ctx.inbound.pending++;
  ctx.delivery.ownPublishing(verdict.spoolTopic, topic);
  ctx.publisher.submit({
    spoolTopic: verdict.spoolTopic,
    message: mapped.message,
    done: (outcome) => {
      if (p.qos > 0) ctx.inbound.pending--;
      ctx.delivery.ownPublished(verdict.spoolTopic, topic, outcome.ok && outcome.offset >= 0 ? outcome : null);
      if (outcome.ok) return acknowledge(ctx, p, v, ReasonCodes.SUCCESS);
      const reason = reasonOf(outcome.code);
      // 3.1.1 cannot refuse: a lasting refusal is acknowledged and dropped, anything else
      // ends the connection unacknowledged so the client publishes it again.
      if (v !== 5 && p.qos > 0 && !LASTING.has(reason)) return void ctx.fail(reason, outcome.message);
      if (v === 5 && p.qos === 0 && record.problemInfo && reason === ReasonCodes.NOT_AUTHORIZED) return void ctx.fail(reason, outcome.message);
      acknowledge(ctx, p, v, reason);
    },
  });
}

/** Refusals that resending cannot cure. */
const LASTING = new Set<number>([
  ReasonCodes.NOT_AUTHORIZED, ReasonCodes.TOPIC_NAME_INVALID, ReasonCodes.PACKET_TOO_LARGE, ReasonCodes.PAYLOAD_FORMAT_INVALID,
  ReasonCodes.IMPLEMENTATION_SPECIFIC_ERROR,
]);

function refuse(ctx: ConnectionContext, p: Publish, v: ProtocolVersion, reason: number): Promise<void> | void {
  if (p.qos === 0) {
    // Dropped; MQTT 5 clients that asked for problem information hear why (API.md).
    if (v === 5 && ctx.record()?.problemInfo && reason === ReasonCodes.NOT_AUTHORIZED) {
      return ctx.fail(reason, "not authorized to publish to this topic");
    }
    return;
  }
  acknowledge(ctx, p, v, reason);
}

function acknowledge(ctx: ConnectionContext, p: Publish, v: ProtocolVersion, reason: number): void {
  if (p.qos === 0 || p.packetId === null) return;
  const code = v === 5 ? reason : ReasonCodes.SUCCESS;
  if (p.qos === 1) ctx.send(encodeAck("puback", v, p.packetId, code));
  else {
    if (code < 0x80) ctx.store.addQos2(p.packetId);
    ctx.send(encodeAck("pubrec", v, p.packetId, code));
  }
}

/** The MQTT 5 reason code for a Spool error code. */
function reasonOf(code: ErrorCode): number {
  switch (code) {
    case "FORBIDDEN": case "UNAUTHORIZED": return ReasonCodes.NOT_AUTHORIZED;
    case "PAYLOAD_TOO_LARGE": return ReasonCodes.PACKET_TOO_LARGE;
    case "TOPIC_FULL": case "QUOTA_EXCEEDED": return ReasonCodes.QUOTA_EXCEEDED;
    case "RATE_LIMITED": return ReasonCodes.SERVER_BUSY;
    case "VALIDATION_FAILED": case "BAD_REQUEST": return ReasonCodes.PAYLOAD_FORMAT_INVALID;
    default: return ReasonCodes.UNSPECIFIED_ERROR;
  }
}

type Ack = Extract<ClientPacket, { type: "puback" | "pubrec" | "pubrel" | "pubcomp" }>;

/** PUBACK ends a QoS 1 delivery; PUBREL completes an inbound QoS 2 publish. Spool never sends QoS 2, so PUBREC/PUBCOMP are ignored. */
export function handleAck(ctx: ConnectionContext, p: Ack): void {
  const record = ctx.record();
  if (!record) return;
  if (p.type === "puback") ctx.delivery.acknowledged(p.packetId);
  else if (p.type === "pubrel") {
    ctx.store.deleteQos2(p.packetId);
    ctx.send(encodeAck("pubcomp", record.version, p.packetId));
  }
}
