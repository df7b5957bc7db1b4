/**
 * MQTT reason codes (5.0 §2.4) and 3.1.1 CONNACK return codes that Spool sends, and the
 * error a packet that breaks the spec raises inside the codec. One table, so every
 * refusal names its code once.
 */

/** MQTT 5 reason codes Spool uses. */
export const ReasonCodes = {
  SUCCESS: 0x00,
  GRANTED_QOS_1: 0x01,
  NO_SUBSCRIPTION_EXISTED: 0x11,
  UNSPECIFIED_ERROR: 0x80,
  MALFORMED_PACKET: 0x81,
  PROTOCOL_ERROR: 0x82,
  IMPLEMENTATION_SPECIFIC_ERROR: 0x83,
  UNSUPPORTED_PROTOCOL_VERSION: 0x84,
  CLIENT_IDENTIFIER_NOT_VALID: 0x85,
  NOT_AUTHORIZED: 0x87,
  SERVER_UNAVAILABLE: 0x88,
  SERVER_BUSY: 0x89,
  BAD_AUTHENTICATION_METHOD: 0x8c,
  KEEP_ALIVE_TIMEOUT: 0x8d,
  SESSION_TAKEN_OVER: 0x8e,
  TOPIC_FILTER_INVALID: 0x8f,
  TOPIC_NAME_INVALID: 0x90,
  PACKET_IDENTIFIER_IN_USE: 0x91,
  RECEIVE_MAXIMUM_EXCEEDED: 0x93,
  TOPIC_ALIAS_INVALID: 0x94,
  PACKET_TOO_LARGE: 0x95,
  MESSAGE_RATE_TOO_HIGH: 0x96,
  QUOTA_EXCEEDED: 0x97,
  PAYLOAD_FORMAT_INVALID: 0x99,
  SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: 0x9e,
  SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED: 0xa1,
  WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED: 0xa2,
} as const;

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3). */
export const ConnackV4 = {
  ACCEPTED: 0,
  UNACCEPTABLE_PROTOCOL_VERSION: 1,
  IDENTIFIER_REJECTED: 2,
  SERVER_UNAVAILABLE: 3,
  BAD_USERNAME_OR_PASSWORD: 4,
  NOT_AUTHORIZED: 5,
} as const;

/** 3.1.1 SUBACK failure (§3.9.3); MQTT 5 uses the same value as "unspecified error". */
export const SUBACK_FAILURE = 0x80;

/** A packet the codec refuses: the connection ends with `reason` (5.0 DISCONNECT) or just closes (3.1.1). */
export class MalformedPacket extends Error {
  constructor(message: string, readonly reason: number = ReasonCodes.MALFORMED_PACKET) {
    super(message);
    this.name = "MalformedPacket";
  }
}

/** The 3.1.1 CONNACK return code that stands for an MQTT 5 CONNACK reason code. */
export function connackV4(reason: number): number {
  switch (reason) {
    case ReasonCodes.SUCCESS: return ConnackV4.ACCEPTED;
    case ReasonCodes.UNSUPPORTED_PROTOCOL_VERSION: return ConnackV4.UNACCEPTABLE_PROTOCOL_VERSION;
    case ReasonCodes.CLIENT_IDENTIFIER_NOT_VALID: return ConnackV4.IDENTIFIER_REJECTED;
    case ReasonCodes.NOT_AUTHORIZED: return ConnackV4.NOT_AUTHORIZED;
    case ReasonCodes.BAD_AUTHENTICATION_METHOD: return ConnackV4.BAD_USERNAME_OR_PASSWORD;
    default: return ConnackV4.SERVER_UNAVAILABLE;
  }
}
