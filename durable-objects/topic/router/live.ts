/**
 * Live subscriptions reaching their partition: a WebSocket (`/subscribe`) or an SSE stream
 * (`/events`) is served by the partition object itself. The router checks the topic and
 * the partition and hands the object a request built here from what the route decided,
 * never the client's own request, so a client cannot smuggle in the internal headers
 * (LIVE_HEADERS) that say what its credential may do.
 */
import type { Env } from "../../env";
import { fromRefusal } from "../../shared/refusals";
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

/** The partition's answer: a WebSocket upgrade or an event stream; throws `ApiError` for a refusal (no such topic or partition, socket cap). */
export async function connectLive(env: Env, topic: string, live: LiveRequest): Promise<Response> {
  const info = await requirePartition(env, topic, live.partition);
  const url = new URL(`https://partition.internal/${live.kind}`);
  url.searchParams.set("topic", topic);
  url.searchParams.set("partition", String(live.partition));
  url.searchParams.set("from", live.from);
  const res = await partitionOf(env, info, live.partition).fetch(new Request(url, { headers: live.headers }));
  // A refusal (socket cap, bad offset) becomes the ApiError it stands for, so the Worker's
  // onError renders it like any other error, Retry-After included.
  if (res.status >= 400) throw await fromRefusal(res);
  return res;
}
