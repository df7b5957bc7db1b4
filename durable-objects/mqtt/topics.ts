/**
 * MQTT topic names and filters, and how they map onto Spool topics (API.md, MQTT over
 * WebSocket → Topics): the first level names the Spool topic, the whole MQTT topic is the
 * message key (so order holds per MQTT topic: one key, one partition). Filters may use `+`
 * and `#` below the first level only.
 */
import { NAME_PATTERN } from "../../protocol/names";

/** A message key is at most 256 characters (API.md, Conventions). */
export const MAX_MQTT_TOPIC_LENGTH = 256;

export type TopicVerdict = { ok: true; spoolTopic: string } | { ok: false; why: "malformed" | "invalid" };

/**
 * An MQTT topic name a client publishes to. `malformed`: the spec forbids it (empty,
 * wildcards), the connection ends; `invalid`: legal MQTT that Spool cannot map (its first
 * level is not a Spool name, or it is longer than a key may be), refused per message.
 */
export function checkTopicName(topic: string): TopicVerdict {
  if (topic.length === 0 || topic.includes("+") || topic.includes("#")) return { ok: false, why: "malformed" };
  return mapped(topic);
}

/** The Spool topic of a filter or name: its first level, when that is a valid Spool name. */
function mapped(topic: string): TopicVerdict {
  const slash = topic.indexOf("/");
  const first = slash < 0 ? topic : topic.slice(0, slash);
  if (!NAME_PATTERN.test(first) || topic.length > MAX_MQTT_TOPIC_LENGTH) return { ok: false, why: "invalid" };
  return { ok: true, spoolTopic: first };
}

export type FilterVerdict =
  | { ok: true; spoolTopic: string }
  | { ok: false; why: "malformed" | "first-level-wildcard" | "shared" | "invalid" };

/** A subscription filter (§4.7): `+` and `#` only as whole levels, `#` only last. */
export function checkFilter(filter: string): FilterVerdict {
  if (filter.length === 0) return { ok: false, why: "malformed" };
  const levels = filter.split("/");
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1)) return { ok: false, why: "malformed" };
    if (level.includes("+") && level !== "+") return { ok: false, why: "malformed" };
  }
  if (levels[0] === "$share") return { ok: false, why: "shared" };
  if (levels[0] === "+" || levels[0] === "#") return { ok: false, why: "first-level-wildcard" };
  const verdict = mapped(filter);
  return verdict.ok ? verdict : { ok: false, why: "invalid" };
}

/** Whether an MQTT topic name matches a filter (§4.7). `$`-topics never match a first-level wildcard, which Spool refuses anyway. */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === "#") return true; // matches the parent level too: "a/#" matches "a"
    if (i >= t.length) return false;
    if (level !== "+" && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * The MQTT topic of a Spool message: its `mqtt-topic` header when it came from MQTT; else
 * its key when the key is already an MQTT topic of this Spool topic; else `<t>/<key>`, or
 * `<t>` alone for a message without a key.
 */
export function mqttTopicOf(spoolTopic: string, key: string | null, headers: Record<string, string>): string {
  const header = headers["mqtt-topic"];
  if (typeof header === "string" && header.length > 0) return header;
  if (key === null || key === "") return spoolTopic;
  if (key === spoolTopic || key.startsWith(`${spoolTopic}/`)) return key;
  return `${spoolTopic}/${key}`;
}
