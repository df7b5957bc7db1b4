/**
 * MQTT 5 No Local (subscription option bit 2, §3.8.3.1): a message a connection published is
 * not forwarded to it on a No Local subscription [MQTT-3.8.3-3]. Nothing on the `/v1` wire
 * marks who published a message, so the connection remembers where its own publishes landed
 * (Spool topic, partition, offset: the publish answers with them) and delivery.ts skips
 * those for No Local subscriptions.
 *
 * The feed may bring a message before the publish that wrote it is answered, so while a
 * publish of this connection to an MQTT topic is unanswered, a No Local subscription's feed
 * waits at any message of that MQTT topic (`awaiting`): it is told apart once the offset is
 * known. Bounded: the newest OWN_PUBLISHES_REMEMBERED positions are kept in memory, each
 * forgotten once its partition's feed passes it; an own message that falls out of the bound
 * before the feed reaches it (the feed over that many own publishes behind) is delivered.
 * Memory only: a connection with subscriptions stays in memory while its socket is open,
 * and a session resumed by a later connection does not know the earlier one's publishes.
 */

/** How many of its own publishes a connection remembers for No Local. */
export const OWN_PUBLISHES_REMEMBERED = 1024;

export interface Landed {
  partition: number;
  offset: number;
}

export class OwnPublishes {
  /** `topic \n mqttTopic` → publishes of that MQTT topic not answered yet. */
  readonly #unanswered = new Map<string, number>();
  /** `topic#partition#offset` of written own publishes, oldest first (a Set keeps insertion order). */
  readonly #written = new Set<string>();

  /** A publish of `mqttTopic` to Spool topic `topic` was submitted. */
  begin(topic: string, mqttTopic: string): void {
    const k = `${topic}\n${mqttTopic}`;
    this.#unanswered.set(k, (this.#unanswered.get(k) ?? 0) + 1);
  }

  /** It was answered: written at `landed`, or not written (null). */
  settle(topic: string, mqttTopic: string, landed: Landed | null): void {
    const k = `${topic}\n${mqttTopic}`;
    const n = (this.#unanswered.get(k) ?? 1) - 1;
    if (n > 0) this.#unanswered.set(k, n);
    else this.#unanswered.delete(k);
    if (!landed) return;
    this.#written.add(positionKey(topic, landed.partition, landed.offset));
    if (this.#written.size > OWN_PUBLISHES_REMEMBERED) this.#written.delete(this.#written.values().next().value!);
  }

  /** Whether a publish of `mqttTopic` to `topic` is not answered yet (where it landed is unknown). */
  awaiting(topic: string, mqttTopic: string | null): boolean {
    return mqttTopic !== null && this.#unanswered.has(`${topic}\n${mqttTopic}`);
  }

  isOwn(topic: string, partition: number, offset: number): boolean {
    return this.#written.has(positionKey(topic, partition, offset));
  }

  /** The feed passed this position: it is not needed any more. */
  passed(topic: string, partition: number, offset: number): void {
    if (this.#written.size > 0) this.#written.delete(positionKey(topic, partition, offset));
  }
}

function positionKey(topic: string, partition: number, offset: number): string {
  return `${topic}#${partition}#${offset}`;
}
