/**
 * The retained-message table of a partition (MQTT's retained messages, API.md → MQTT over
 * WebSocket): the newest retained message per MQTT topic, a compacted view kept beside the
 * log. Rows hold the whole message, so a retained message outlives the log's retention as
 * MQTT expects; the table goes with the partition when the topic is deleted.
 */
import { migrate } from "../../shared/sql";
import type { LogEntry } from "../types";

/** Numbered and additive: never edit one, append a new one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE mqtt_retained (
     mqtt_topic TEXT PRIMARY KEY,
     offset INTEGER NOT NULL,
     id TEXT NOT NULL,
     key TEXT,
     body TEXT NOT NULL,
     headers TEXT NOT NULL,
     timestamp INTEGER NOT NULL
   ) WITHOUT ROWID`,
];

interface Row {
  offset: number;
  id: string;
  key: string | null;
  body: string;
  headers: string;
  timestamp: number;
  [column: string]: SqlStorageValue;
}

export class RetainedStore {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    migrate(this.sql, MIGRATIONS, "retained");
  }

  /** Keeps `entry` as the retained message of `mqttTopic` unless a newer one is kept already. */
  put(mqttTopic: string, entry: LogEntry): void {
    this.sql.exec(
      `INSERT INTO mqtt_retained (mqtt_topic, offset, id, key, body, headers, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (mqtt_topic) DO UPDATE SET offset = excluded.offset, id = excluded.id, key = excluded.key,
         body = excluded.body, headers = excluded.headers, timestamp = excluded.timestamp
       WHERE excluded.offset > mqtt_retained.offset`,
      mqttTopic, entry.offset, entry.id, entry.key, JSON.stringify(entry.body), JSON.stringify(entry.headers), entry.timestamp,
    );
  }

  /** Clears the retained message of `mqttTopic` (an empty retained payload). */
  clear(mqttTopic: string): void {
    this.sql.exec("DELETE FROM mqtt_retained WHERE mqtt_topic = ?", mqttTopic);
  }

  /** Retained messages whose MQTT topic starts with `prefix` (all of them for ""), at most `limit`, by topic. */
  withPrefix(prefix: string, partition: number, limit: number): LogEntry[] {
    const rows = this.sql.exec<Row>(
      "SELECT offset, id, key, body, headers, timestamp FROM mqtt_retained WHERE substr(mqtt_topic, 1, ?) = ? ORDER BY mqtt_topic LIMIT ?",
      prefix.length, prefix, limit,
    ).toArray();
    return rows.map((r) => ({
      partition, offset: r.offset, id: r.id, key: r.key, body: JSON.parse(r.body) as unknown,
      headers: JSON.parse(r.headers) as Record<string, string>, timestamp: r.timestamp,
    }));
  }

  /** Every retained message goes (the topic was deleted). */
  clearAll(): void {
    this.sql.exec("DELETE FROM mqtt_retained");
  }
}
