/**
 * Live subscriptions reaching the object that serves them: a WebSocket (`/subscribe`) or an
 * SSE stream (`/events`) is served by the partition object itself or by one of its relays
 * in the subscriber's region (topic/relay/placement.ts says which). The router checks the
 * topic and the partition and hands the object a request built here from what the route
 * decided, never the client's own request, so a client cannot smuggle in the internal
 * headers (LIVE_HEADERS) that say what its credential may do.
 *
 * Placement, per policy: `never` goes to the partition; `always` to a relay; `auto` asks
 * the partition, which answers `useRelay` once it holds its share, and this isolate then
 * sends that partition's subscribers straight to relays for a while. Relays of a region
 * fill shard by shard: a full shard answers 429 with `relayFull` and the next is tried;
 * the isolate remembers the first shard with room for a while.
 */
import type { Env } from "../../env";
import { partitionObjectName } from "../../env";
import { ApiError } from "../../shared/errors";
import { fromRefusal } from "../../shared/refusals";
import { LIVE_HEADERS } from "../live/hub";
import { ANY_REGION, MAX_RELAY_SHARDS, regionOf, relayPolicy, relayStub, type RequestOrigin } from "../relay/placement";
import type { TopicInfo } from "../config";
import { requirePartition } from "./directory";
import { partitionOf } from "./router";

export interface LiveRequest {
  kind: "subscribe" | "events";
  partition: number;
  /** "latest", "earliest" or an offset. */
  from: string;
  /** Only headers the route set: the upgrade, LIVE_HEADERS, Last-Event-ID. */
  headers: Record<string, string>;
}

/** How long this isolate sends a partition's subscribers straight to relays after it said so. */
const CROWDED_MS = 10_000;
/** How long this isolate starts a region's shard search at the first shard it last found room in. */
const OPEN_SHARD_MS = 30_000;
const MAX_REMEMBERED = 1000;
const crowded = new Map<string, number>();
const openShards = new Map<string, { shard: number; until: number }>();

/**
 * The serving object's answer: a WebSocket upgrade or an event stream; throws `ApiError`
 * for a refusal (no such topic or partition, socket cap). `origin` is the request's `cf`
 * (its region picks the relay); null for an object following a topic (an MQTT feed).
 */
export async function connectLive(env: Env, topic: string, live: LiveRequest, origin: RequestOrigin | null = null): Promise<Response> {
  const info = await requirePartition(env, topic, live.partition);
  const policy = relayPolicy(env);
  const key = partitionObjectName(topic, live.partition);
  if (policy === "always" || (policy === "auto" && (crowded.get(key) ?? 0) > Date.now())) {
    return viaRelay(env, topic, live, regionOf(origin) ?? ANY_REGION);
  }
  const res = await direct(env, info, topic, live, policy === "auto");
  if (res.status === 204 && res.headers.get(LIVE_HEADERS.useRelay) === "1") {
    remember(crowded, key, Date.now() + CROWDED_MS);
    return viaRelay(env, topic, live, regionOf(origin) ?? ANY_REGION);
  }
  // A refusal (socket cap, bad offset) becomes the ApiError it stands for, so the Worker's
  // onError renders it like any other error, Retry-After included.
  if (res.status >= 400) throw await fromRefusal(res);
  return res;
}

function direct(env: Env, info: TopicInfo, topic: string, live: LiveRequest, mayRelay: boolean): Promise<Response> {
  const url = liveUrl("partition", topic, live);
  const headers = mayRelay ? { ...live.headers, [LIVE_HEADERS.mayRelay]: "1" } : live.headers;
  return partitionOf(env, info, live.partition).fetch(new Request(url, { headers }));
}

/** The first relay shard of the region with room serves the subscriber. */
async function viaRelay(env: Env, topic: string, live: LiveRequest, region: string): Promise<Response> {
  const key = `${partitionObjectName(topic, live.partition)}@${region}`;
  const known = openShards.get(key);
  let shard = known && known.until > Date.now() ? known.shard : 0;
  for (; shard < MAX_RELAY_SHARDS; shard++) {
    const url = liveUrl("relay", topic, live);
    url.searchParams.set("region", region);
    url.searchParams.set("shard", String(shard));
    const address = { topic, partition: live.partition, region, shard };
    const res = await relayStub(env, address).fetch(new Request(url, { headers: live.headers }));
    if (res.status === 429 && res.headers.get(LIVE_HEADERS.relayFull) === "1") {
      await res.body?.cancel();
      continue;
    }
    remember(openShards, key, { shard, until: Date.now() + OPEN_SHARD_MS });
    if (res.status >= 400) throw await fromRefusal(res);
    return res;
  }
  throw new ApiError("RATE_LIMITED", `every relay of this partition in region '${region}' is full`, { shards: MAX_RELAY_SHARDS }, 5);
}

function liveUrl(host: "partition" | "relay", topic: string, live: LiveRequest): URL {
  const url = new URL(`https://${host}.internal/${live.kind}`);
  url.searchParams.set("topic", topic);
  url.searchParams.set("partition", String(live.partition));
  url.searchParams.set("from", live.from);
  return url;
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  if (map.size >= MAX_REMEMBERED) map.delete(map.keys().next().value!);
  map.set(key, value);
}
