/**
 * A connection's tables (MqttConnection): its record (who, which protocol, will), the
 * session it carries while connected (subscriptions, a position per Spool partition it
 * follows, unacknowledged QoS 1 deliveries), inbound QoS 2 packet ids awaiting PUBREL,
 * topic aliases and the bytes of an unfinished packet. Everything that must outlive
 * hibernation or a restart is here, so the alarm can end a connection the runtime dropped;
 * positions and deliveries in flight as of delivery.ts's last checkpoint, not per message.
 * When the connection ends, the session part goes to the client id's MqttSession and the
 * object deletes everything.
 */
import { migrate } from "../shared/sql";
import type { MqttCredential } from "./auth";
import type { ProtocolVersion } from "./codec";

/** Numbered and additive: never edit one, append a new one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE mqtt_record (id INTEGER PRIMARY KEY CHECK (id = 1), record TEXT NOT NULL)`,
  `CREATE TABLE mqtt_subs (filter TEXT PRIMARY KEY, topic TEXT NOT NULL, qos INTEGER NOT NULL,
     rap INTEGER NOT NULL, sub_id INTEGER) WITHOUT ROWID`,
  `CREATE TABLE mqtt_feeds (topic TEXT NOT NULL, partition INTEGER NOT NULL, next INTEGER NOT NULL,
     PRIMARY KEY (topic, partition)) WITHOUT ROWID`,
  `CREATE TABLE mqtt_inflight (packet_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, packet BLOB NOT NULL)`,
  `CREATE TABLE mqtt_qos2 (packet_id INTEGER PRIMARY KEY)`,
  `CREATE TABLE mqtt_aliases (alias INTEGER PRIMARY KEY, topic TEXT NOT NULL)`,
  `CREATE TABLE mqtt_partial (id INTEGER PRIMARY KEY CHECK (id = 1), bytes BLOB NOT NULL)`,
  `ALTER TABLE mqtt_subs ADD COLUMN no_local INTEGER NOT NULL DEFAULT 0`,
];

/** The connection itself, decided at CONNECT. */
export interface ConnectionRecord {
  clientId: string;
  version: ProtocolVersion;
  /** Seconds; 0 = no keepalive. */
  keepalive: number;
  /** Seconds the session outlives the connection (0 = ends with it), at most a day. */
  sessionExpiry: number;
  credential: MqttCredential;
  will: StoredWill | null;
  /** Most unacknowledged QoS 1 deliveries the client accepts (its Receive Maximum, capped). */
  receiveMaximum: number;
  /** Largest packet the client accepts (MQTT 5 Maximum Packet Size), or null. */
  maxPacketSize: number | null;
  /** MQTT 5: the client asked for problem information (Request Problem Information = 1). */
  problemInfo: boolean;
}

/** A Last Will as stored: the payload as base64, so the record stays JSON. */
export interface StoredWill {
  topic: string;
  payload: string;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** MQTT 5 Will Delay Interval, seconds. */
  delay: number;
  /** MQTT 5 will properties that map to headers (payload.ts). */
  properties: { contentType?: string; responseTopic?: string; correlationData?: string; messageExpiryInterval?: number; userProperties?: Array<[string, string]> };
}

export interface SubscriptionRow {
  filter: string;
  topic: string;
  qos: 0 | 1;
  /** MQTT 5 Retain As Published. */
  rap: boolean;
  /** MQTT 5 Subscription Identifier, or null. */
  subId: number | null;
  /** MQTT 5 No Local (no-local.ts); absent in sessions stored before it existed. */
  noLocal?: boolean;
}

export interface FeedRow {
  topic: string;
  partition: number;
  /** The next offset to deliver from this partition. */
  next: number;
}

export interface InflightRow {
  packetId: number;
  seq: number;
  packet: Uint8Array;
}

/** What a session is, moved between a connection and the client id's MqttSession. */
export interface SessionState {
  subscriptions: SubscriptionRow[];
  feeds: FeedRow[];
  inflight: InflightRow[];
}

export function emptySession(): SessionState {
  return { subscriptions: [], feeds: [], inflight: [] };
}

export class ConnectionStore {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    migrate(this.sql, MIGRATIONS, "mqtt-connection");
  }

  record(): ConnectionRecord | null {
    const row = this.sql.exec<{ record: string }>("SELECT record FROM mqtt_record WHERE id = 1").toArray()[0];
    return row ? (JSON.parse(row.record) as ConnectionRecord) : null;
  }

  saveRecord(r: ConnectionRecord): void {
    this.sql.exec("INSERT OR REPLACE INTO mqtt_record (id, record) VALUES (1, ?)", JSON.stringify(r));
  }

  /** Replaces the session part with `s` (after CONNECT). */
  loadSession(s: SessionState): void {
    this.sql.exec("DELETE FROM mqtt_subs");
    this.sql.exec("DELETE FROM mqtt_feeds");
    this.sql.exec("DELETE FROM mqtt_inflight");
    for (const sub of s.subscriptions) this.putSubscription(sub);
    for (const f of s.feeds) this.setFeed(f.topic, f.partition, f.next);
    for (const i of s.inflight) this.putInflight(i.packetId, i.seq, i.packet);
  }

  subscriptions(): SubscriptionRow[] {
    return this.sql.exec<{ filter: string; topic: string; qos: number; rap: number; sub_id: number | null; no_local: number }>(
      "SELECT filter, topic, qos, rap, sub_id, no_local FROM mqtt_subs ORDER BY filter",
    ).toArray().map((r) => ({ filter: r.filter, topic: r.topic, qos: r.qos === 0 ? 0 : 1, rap: r.rap === 1, subId: r.sub_id, noLocal: r.no_local === 1 }));
  }

  putSubscription(s: SubscriptionRow): void {
    this.sql.exec("INSERT OR REPLACE INTO mqtt_subs (filter, topic, qos, rap, sub_id, no_local) VALUES (?, ?, ?, ?, ?, ?)",
      s.filter, s.topic, s.qos, s.rap ? 1 : 0, s.subId, s.noLocal ? 1 : 0);
  }

  /** Removes a subscription; whether it existed. */
  deleteSubscription(filter: string): boolean {
    return this.sql.exec("DELETE FROM mqtt_subs WHERE filter = ?", filter).rowsWritten > 0;
  }

  feeds(): FeedRow[] {
    return this.sql.exec<{ topic: string; partition: number; next: number }>("SELECT topic, partition, next FROM mqtt_feeds").toArray()
      .map((r) => ({ topic: r.topic, partition: r.partition, next: r.next }));
  }

  setFeed(topic: string, partition: number, next: number): void {
    this.sql.exec("INSERT OR REPLACE INTO mqtt_feeds (topic, partition, next) VALUES (?, ?, ?)", topic, partition, next);
  }

  deleteFeeds(topic: string): void {
    this.sql.exec("DELETE FROM mqtt_feeds WHERE topic = ?", topic);
  }

  inflight(): InflightRow[] {
    return this.sql.exec<{ packet_id: number; seq: number; packet: ArrayBuffer }>("SELECT packet_id, seq, packet FROM mqtt_inflight ORDER BY seq")
      .toArray().map((r) => ({ packetId: r.packet_id, seq: r.seq, packet: new Uint8Array(r.packet) }));
  }

  putInflight(packetId: number, seq: number, packet: Uint8Array): void {
    this.sql.exec("INSERT OR REPLACE INTO mqtt_inflight (packet_id, seq, packet) VALUES (?, ?, ?)", packetId, seq, packet);
  }

  /** The client acknowledged `packetId`; whether it was in flight. */
  deleteInflight(packetId: number): boolean {
    return this.sql.exec("DELETE FROM mqtt_inflight WHERE packet_id = ?", packetId).rowsWritten > 0;
  }

  hasQos2(packetId: number): boolean {
    return this.sql.exec("SELECT 1 FROM mqtt_qos2 WHERE packet_id = ?", packetId).toArray().length > 0;
  }

  addQos2(packetId: number): void {
    this.sql.exec("INSERT OR IGNORE INTO mqtt_qos2 (packet_id) VALUES (?)", packetId);
  }

  deleteQos2(packetId: number): void {
    this.sql.exec("DELETE FROM mqtt_qos2 WHERE packet_id = ?", packetId);
  }

  alias(alias: number): string | null {
    return this.sql.exec<{ topic: string }>("SELECT topic FROM mqtt_aliases WHERE alias = ?", alias).toArray()[0]?.topic ?? null;
  }

  setAlias(alias: number, topic: string): void {
    this.sql.exec("INSERT OR REPLACE INTO mqtt_aliases (alias, topic) VALUES (?, ?)", alias, topic);
  }

  partial(): Uint8Array {
    const row = this.sql.exec<{ bytes: ArrayBuffer }>("SELECT bytes FROM mqtt_partial WHERE id = 1").toArray()[0];
    return row ? new Uint8Array(row.bytes) : new Uint8Array(0);
  }

  setPartial(bytes: Uint8Array): void {
    if (bytes.length === 0) this.sql.exec("DELETE FROM mqtt_partial");
    else this.sql.exec("INSERT OR REPLACE INTO mqtt_partial (id, bytes) VALUES (1, ?)", bytes);
  }
}
