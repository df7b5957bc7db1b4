/**
 * CONNECT (3.1.1 §3.1, 5.0 §3.1): who the client is (its password, else the upgrade's
 * credential), its client id (one is assigned to an empty id on a clean session), its Last
 * Will (checked to be publishable now, so it can be published later without asking), its
 * session (taken over from the client id's MqttSession), then CONNACK, resending what was
 * left unacknowledged and following the session's topics again.
 */
import { mqttSessionStub } from "../env";
import { now } from "../shared/clock";
import type { PublishMessage } from "../topic/router/publish";
import { credentialOfPassword, mayOnTopic, type MqttCredential } from "./auth";
import { strictUtf8 } from "./bytes";
import { encodeConnack, type ClientPacket } from "./codec";
import {
  INBOUND_RECEIVE_MAXIMUM, MAX_CLIENT_ID_LENGTH, MAX_PACKET_BYTES, TOPIC_ALIAS_MAXIMUM, type ConnectionContext,
} from "./context";
import { MAX_INFLIGHT } from "./delivery";
import { toBase64, fromBase64, toSpoolMessage } from "./payload";
import type { MqttProperties } from "./properties";
import { connackV4, ReasonCodes } from "./reasons";
import { MAX_SESSION_EXPIRY_SECONDS } from "./session";
import type { ConnectionRecord, StoredWill } from "./store";
import { checkTopicName } from "./topics";

type Connect = Extract<ClientPacket, { type: "connect" }>;

export async function handleConnect(ctx: ConnectionContext, p: Connect): Promise<void> {
  const refuse = (reason: number) => {
    ctx.send(encodeConnack(p.version, false, p.version === 5 ? reason : connackV4(reason)));
    ctx.refuse();
  };
  const cp = p.properties; // empty in 3.1.1
  // Values the spec calls a Protocol Error (§3.1.2.11.3, .4, .6, .7, .10): CONNACK 0x82 and close (§4.13.1).
  if (cp.receiveMaximum === 0 || cp.maximumPacketSize === 0 || (cp.requestResponseInformation ?? 0) > 1
    || (cp.requestProblemInformation ?? 0) > 1 || (cp.authenticationData !== undefined && cp.authenticationMethod === undefined)) {
    return refuse(ReasonCodes.PROTOCOL_ERROR);
  }
  // Enhanced authentication (§4.12) is not offered: credentials go in the password. An
  // unsupported Authentication Method gets CONNACK 0x8C and the connection closes (§3.1.4).
  if (cp.authenticationMethod !== undefined) return refuse(ReasonCodes.BAD_AUTHENTICATION_METHOD);
  const credential = await credentialOf(ctx, p.password);
  if (!credential) return refuse(ReasonCodes.NOT_AUTHORIZED);

  let clientId = p.clientId;
  let assigned = false;
  if (clientId === "") {
    // 3.1.1 §3.1.3.1: an empty id is allowed only on a clean session.
    if (p.version !== 5 && !p.clean) return refuse(ReasonCodes.CLIENT_IDENTIFIER_NOT_VALID);
    clientId = `spool-${crypto.randomUUID()}`;
    assigned = true;
  }
  if (clientId.length > MAX_CLIENT_ID_LENGTH) return refuse(ReasonCodes.CLIENT_IDENTIFIER_NOT_VALID);

  let will: StoredWill | null = null;
  if (p.will) {
    const verdict = checkTopicName(p.will.topic);
    if (!verdict.ok) return refuse(ReasonCodes.TOPIC_NAME_INVALID);
    if (!mayOnTopic(credential, "publish", verdict.spoolTopic)) return refuse(ReasonCodes.NOT_AUTHORIZED);
    const wp = p.will.properties;
    will = {
      topic: p.will.topic, payload: toBase64(p.will.payload), qos: p.will.qos, retain: p.will.retain,
      delay: Math.min(wp.willDelayInterval ?? 0, MAX_SESSION_EXPIRY_SECONDS),
      properties: {
        contentType: wp.contentType, responseTopic: wp.responseTopic, messageExpiryInterval: wp.messageExpiryInterval,
        correlationData: wp.correlationData ? toBase64(wp.correlationData) : undefined, userProperties: wp.userProperties,
      },
    };
  }

  const asked = p.version === 5 ? (p.properties.sessionExpiryInterval ?? 0) : p.clean ? 0 : MAX_SESSION_EXPIRY_SECONDS;
  const sessionExpiry = Math.min(asked, MAX_SESSION_EXPIRY_SECONDS);
  const record: ConnectionRecord = {
    clientId, version: p.version, keepalive: p.keepalive, sessionExpiry, credential, will,
    receiveMaximum: Math.min(p.properties.receiveMaximum ?? 65535, MAX_INFLIGHT),
    maxPacketSize: p.properties.maximumPacketSize ?? null,
    problemInfo: p.properties.requestProblemInformation === 1,
  };
  ctx.setRecord(record);

  let present: boolean;
  try {
    const attached = await mqttSessionStub(ctx.env, clientId).attach(ctx.connectionId, p.clean);
    present = attached.present;
    ctx.store.loadSession(attached.state);
  } catch (err) {
    console.error("mqtt: attaching the session failed", err instanceof Error ? err.message : String(err));
    return refuse(ReasonCodes.SERVER_UNAVAILABLE);
  }
  dropUnauthorized(ctx, credential);

  const props: MqttProperties = {
    receiveMaximum: INBOUND_RECEIVE_MAXIMUM, topicAliasMaximum: TOPIC_ALIAS_MAXIMUM, maximumPacketSize: MAX_PACKET_BYTES,
    retainAvailable: 1, wildcardSubscriptionAvailable: 1, subscriptionIdentifierAvailable: 1, sharedSubscriptionAvailable: 0,
  };
  if (assigned) props.assignedClientIdentifier = clientId;
  if (sessionExpiry !== asked) props.sessionExpiryInterval = sessionExpiry;
  ctx.send(encodeConnack(p.version, present, ReasonCodes.SUCCESS, props));
  ctx.delivery.load();
  ctx.delivery.resendInflight();
  ctx.delivery.start();
}

/** The password's credential when there is a password, else the upgrade's. */
async function credentialOf(ctx: ConnectionContext, password: Uint8Array | null): Promise<MqttCredential | null> {
  if (password === null) return ctx.upgradeCredential();
  const text = strictUtf8(password);
  return text === null ? null : credentialOfPassword(ctx.env, text);
}

/**
 * A resumed session keeps only the subscriptions this connection's credential may still
 * hold: a client id is not a credential, so taking one over never widens what is read.
 */
function dropUnauthorized(ctx: ConnectionContext, credential: MqttCredential): void {
  const kept = new Set<string>();
  const dropped = new Set<string>();
  for (const s of ctx.store.subscriptions()) {
    if (mayOnTopic(credential, "subscribe", s.topic)) kept.add(s.topic);
    else {
      ctx.store.deleteSubscription(s.filter);
      dropped.add(s.topic);
    }
  }
  for (const t of dropped) if (!kept.has(t)) ctx.store.deleteFeeds(t);
  // Positions of topics no subscription names any more are dropped too.
  for (const f of ctx.store.feeds()) if (!kept.has(f.topic)) ctx.store.deleteFeeds(f.topic);
}

/** The Spool publish a stored will becomes (published as its connection ends). */
export function willMessage(will: StoredWill): { topic: string; message: PublishMessage } | null {
  const verdict = checkTopicName(will.topic);
  if (!verdict.ok) return null;
  const wp = will.properties;
  const mapped = toSpoolMessage({
    mqttTopic: will.topic, payload: fromBase64(will.payload) ?? new Uint8Array(0), qos: will.qos, retain: will.retain,
    properties: {
      contentType: wp.contentType, responseTopic: wp.responseTopic, messageExpiryInterval: wp.messageExpiryInterval,
      correlationData: wp.correlationData !== undefined ? (fromBase64(wp.correlationData) ?? undefined) : undefined,
      userProperties: wp.userProperties,
    },
  }, now());
  return mapped.ok ? { topic: verdict.spoolTopic, message: mapped.message } : null;
}
