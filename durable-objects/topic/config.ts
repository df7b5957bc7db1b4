/**
 * How a topic's partitions agree on its config. Partition 0's object is the topic's home
 * and holds the authoritative copy; every partition keeps the copy it was last given,
 * stamped with a version, and callers pass the copy they routed by (see log/home.ts).
 */
import { DEFAULT_TOPIC_CONFIG, type TopicConfig, type TopicConfigPatch } from "../../protocol/topics";

export { DEFAULT_TOPIC_CONFIG, type TopicConfig, type TopicConfigPatch } from "../../protocol/topics";

/**
 * Which configuration a copy is: `incarnation` changes when the topic is deleted and
 * created again, `version` grows with every change the home accepts.
 */
export interface ConfigStamp {
  incarnation: string;
  version: number;
}

/** What the home answers about a topic, and what the Worker caches and hands partitions. */
export interface TopicInfo {
  name: string;
  config: TopicConfig;
  createdAt: number;
  stamp: ConfigStamp;
}

export function mergeConfig(base: Readonly<TopicConfig>, patch: TopicConfigPatch): TopicConfig {
  const out: TopicConfig = { ...base };
  for (const [k, v] of Object.entries(patch) as [keyof TopicConfig, never][]) {
    if (v !== undefined) out[k] = v;
  }
  return out;
}

export function sameConfig(a: Readonly<TopicConfig>, b: Readonly<TopicConfig>): boolean {
  return (Object.keys(DEFAULT_TOPIC_CONFIG) as (keyof TopicConfig)[]).every((k) => a[k] === b[k]);
}

export function sameStamp(a: ConfigStamp, b: ConfigStamp): boolean {
  return a.incarnation === b.incarnation && a.version === b.version;
}
