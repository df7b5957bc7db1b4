/**
 * Where a live subscriber is served: by its partition directly, or by a relay in its region.
 *
 * The policy (`SPOOL_LIVE_RELAYS`): `auto` (the default) serves subscribers directly while
 * the partition holds fewer than `SPOOL_LIVE_DIRECT_MAX` [DIRECT_MAX] of them, and by relays
 * past that; `always` serves every subscriber by a relay; `never` serves every one directly
 * (as before relays existed: at most `SPOOL_MAX_SOCKETS_PER_OBJECT` WebSockets a partition).
 * Why a threshold: a relay adds one object hop (measured in bench/, see docs/live.md) and
 * costs one request per message per relay, which a small audience does not need; one
 * object's send loop is the limit for a large one.
 *
 * A relay is the object `"<topic>#<partition>@<region>/<shard>"`, created with the
 * region's location hint. The region comes from `request.cf` (continent, longitude,
 * country); shards of a region fill in order, each up to the socket cap.
 */
import type { Env, LocationHint } from "../../env";
import type { TopicRelay } from "./relay";
import type { RelayAddress } from "./types";

/**
 * Direct subscribers a partition keeps before `auto` places new ones on relays: the most
 * one object sends a message to in about 20 ms at 25,000 frames/s. Below it a relay would
 * add a hop (0.4-1.3 ms measured) and a request per message for nothing (docs/live.md).
 */
export const DIRECT_MAX = 500;
/** Shards a region may have per partition (each up to the socket cap). */
export const MAX_RELAY_SHARDS = 256;
/** The region of a subscriber whose location is unknown (no `request.cf`, an MQTT feed). */
export const ANY_REGION = "any";

export type RelayPolicy = "auto" | "always" | "never";

/** The policy in force; `never` when the deployment has no relay binding. */
export function relayPolicy(env: Env): RelayPolicy {
  if (!env.TOPIC_RELAYS) return "never";
  const v = env.SPOOL_LIVE_RELAYS;
  return v === "always" || v === "never" ? v : "auto";
}

/** How many subscribers a partition serves itself under `auto`. */
export function directMax(env: Env): number {
  const n = Number(env.SPOOL_LIVE_DIRECT_MAX);
  return Number.isInteger(n) && n >= 0 ? n : DIRECT_MAX;
}

/** What the Worker knows of where a request comes from (a subset of `request.cf`). */
export interface RequestOrigin {
  continent?: unknown;
  country?: unknown;
  longitude?: unknown;
}

/** Countries Cloudflare reports in Asia or Africa whose nearest hint is the Middle East. */
const MIDDLE_EAST = new Set(["AE", "BH", "IL", "IQ", "IR", "JO", "KW", "LB", "OM", "PS", "QA", "SA", "SY", "TR", "YE", "EG"]);

/** The location hint nearest to a request's origin, or null when it is unknown. */
export function regionOf(origin: RequestOrigin | null | undefined): LocationHint | null {
  if (!origin || typeof origin.continent !== "string") return null;
  const country = typeof origin.country === "string" ? origin.country : "";
  const longitude = Number(origin.longitude);
  if (MIDDLE_EAST.has(country)) return "me";
  switch (origin.continent) {
    case "NA":
      return Number.isFinite(longitude) && longitude < -100 ? "wnam" : "enam";
    case "SA":
      return "sam";
    case "EU":
      return Number.isFinite(longitude) && longitude >= 20 ? "eeur" : "weur";
    case "AS":
      return "apac";
    case "OC":
    case "AN":
      return "oc";
    case "AF":
      return "afr";
    default:
      return null;
  }
}

/** The relay object's name (`#`, `@` and `/` cannot occur in a topic name). */
export function relayObjectName(a: RelayAddress): string {
  return `${a.topic}#${a.partition}@${a.region}/${a.shard}`;
}

/** The relay at `a`, created in its region when new. */
export function relayStub(env: Env, a: RelayAddress): DurableObjectStub<TopicRelay> {
  const hint = a.region === ANY_REGION ? undefined : (a.region as LocationHint);
  return env.TOPIC_RELAYS!.getByName(relayObjectName(a), hint ? { locationHint: hint } : undefined);
}

/** A relay's address from its object name, or null for a name that is not one. */
export function relayAddressOf(name: string): RelayAddress | null {
  const m = /^(.+)#(\d+)@([a-z]+)\/(\d+)$/.exec(name);
  return m ? { topic: m[1]!, partition: Number(m[2]), region: m[3]!, shard: Number(m[4]) } : null;
}
