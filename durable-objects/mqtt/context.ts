/**
 * What the packet handlers (connect.ts, inbound.ts, subscribe.ts) may use of their
 * connection object, and the limits Spool announces to MQTT clients.
 */
import type { Env } from "../env";
import type { MqttCredential } from "./auth";
import type { Delivery } from "./delivery";
import type { Publisher } from "./publisher";
import type { ConnectionRecord, ConnectionStore } from "./store";

/** Largest MQTT packet accepted (a message may be up to 1 MiB, API.md → maxMessageBytes). */
export const MAX_PACKET_BYTES = 1024 * 1024 + 1024;
/** Most QoS 1/2 publishes a client may have unanswered (MQTT 5 Receive Maximum we announce). */
export const INBOUND_RECEIVE_MAXIMUM = 100;
/** Highest topic alias a client may use (MQTT 5 Topic Alias Maximum we announce). */
export const TOPIC_ALIAS_MAXIMUM = 16;
/** Most subscriptions one session holds. */
export const MAX_SUBSCRIPTIONS = 100;
/** Most Spool topics one session follows at once. */
export const MAX_FOLLOWED_TOPICS = 32;
/** Most retained messages sent for one subscription. */
export const MAX_RETAINED_PER_SUBSCRIPTION = 100;
/** Longest client id accepted (the spec demands at least 23). */
export const MAX_CLIENT_ID_LENGTH = 256;
/** How long a new socket may take to send CONNECT. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Packets per second a connection may send (sustained), and the burst above it. */
export const PACKETS_PER_SECOND = 1000;
export const PACKET_BURST = 2000;

export interface ConnectionContext {
  readonly env: Env;
  readonly store: ConnectionStore;
  readonly delivery: Delivery;
  readonly publisher: Publisher;
  /** This object's id: how the session object reaches it. */
  readonly connectionId: string;
  record(): ConnectionRecord | null;
  /** CONNECT accepted: the connection is this record from now on. */
  setRecord(record: ConnectionRecord): void;
  /** Sends bytes to the client; false once the socket is gone. */
  send(bytes: Uint8Array): boolean;
  /** Ends the connection for a protocol violation (MQTT 5: DISCONNECT with `reason` first). */
  fail(reason: number, message: string): Promise<void>;
  /** Ends the connection because the client sent DISCONNECT. */
  disconnected(publishWill: boolean): Promise<void>;
  /** Closes the socket without a session (a refused CONNECT). */
  refuse(): void;
  /** The credential the Worker verified on the upgrade, if any. */
  upgradeCredential(): Promise<MqttCredential | null>;
  /** Publishes (QoS 1/2) not yet answered, for Receive Maximum. */
  inbound: { pending: number };
}
