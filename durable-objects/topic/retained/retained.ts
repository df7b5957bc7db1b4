/**
 * The partition's retained MQTT messages (API.md, MQTT over WebSocket → Retained): every
 * appended message with header `mqtt-retain: 1` becomes the retained message of its MQTT
 * topic (header `mqtt-topic`, else its key); one whose body is the empty string clears it.
 * Written in the same turn as the append's announcement, before the publish is answered,
 * so a PUBACK means the retained message is stored too. Read on MQTT SUBSCRIBE.
 */
import type { LogEntry, PartitionModule } from "../types";
import { RetainedStore } from "./store";

/** Headers that mark a retained message and name its MQTT topic (durable-objects/mqtt/payload.ts). */
const RETAIN_HEADER = "mqtt-retain";
const TOPIC_HEADER = "mqtt-topic";

/** Most retained messages one query returns from one partition. */
export const MAX_RETAINED_PER_QUERY = 1000;

export class RetainedMessages implements PartitionModule {
  readonly store: RetainedStore;

  constructor(ctx: DurableObjectState) {
    this.store = new RetainedStore(ctx.storage.sql);
  }

  migrate(): void {
    this.store.migrate();
  }

  nextDeadline(): number | null {
    return null;
  }

  async onAlarm(): Promise<void> {}

  /** After an append committed: keep or clear the retained message of each retained entry. */
  onAppend(entries: readonly LogEntry[]): void {
    for (const e of entries) {
      if (e.headers[RETAIN_HEADER] !== "1") continue;
      const mqttTopic = e.headers[TOPIC_HEADER] ?? e.key;
      if (!mqttTopic) continue;
      if (e.body === "") this.store.clear(mqttTopic);
      else this.store.put(mqttTopic, e);
    }
  }

  /** Retained messages whose MQTT topic starts with `prefix`, at most `limit` (capped). */
  withPrefix(prefix: string, partition: number, limit: number): LogEntry[] {
    return this.store.withPrefix(prefix, partition, Math.min(Math.max(limit, 0), MAX_RETAINED_PER_QUERY));
  }
}
