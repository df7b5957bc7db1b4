/**
 * THE table of what each route needs (API.md, Tokens), in one place a reader can check at a
 * glance. The authorisation matrix and the fuzz test walk it; the matrix fails when
 * /openapi.json has a route this table lacks, or the table a route the Worker does not serve.
 * README "Which action each route needs" is this table in prose.
 */
import { exports } from "cloudflare:workers";
import { ADMIN_KEY, BASE } from "./helpers";

export type Kind = "queues" | "topics";
export type Need =
  | { type: "public" }
  | { type: "admin" }
  /** Authenticates inside its own protocol (MQTT's CONNECT password; test/workers/mqtt-protocol.test.ts). */
  | { type: "in-band" }
  /** `also`: other actions that pass as well (any one of them will do). */
  | { type: "capability"; kind: Kind; action: string; also?: string[]; list?: boolean; stream?: "ws" | "sse" };

const q = (action: string, extra: { list?: boolean; stream?: "ws" } = {}): Need => ({ type: "capability", kind: "queues", action, ...extra });
const t = (action: string, extra: { list?: boolean; stream?: "ws" | "sse"; also?: string[] } = {}): Need => ({ type: "capability", kind: "topics", action, ...extra });

export const ROUTE_ACTIONS: Record<string, Need> = {
  "GET /health": { type: "public" },
  "POST /v1/tokens": { type: "admin" },
  "POST /v1/keys": { type: "admin" },
  "GET /v1/keys": { type: "admin" },
  "DELETE /v1/keys/{accessKeyId}": { type: "admin" },

  "GET /v1/queues": q("manage", { list: true }),
  "PUT /v1/queues/{q}": q("manage"),
  "GET /v1/queues/{q}": q("manage"),
  "DELETE /v1/queues/{q}": q("manage"),
  "POST /v1/queues/{q}/messages": q("send"),
  "POST /v1/queues/{q}/receive": q("receive"),
  "POST /v1/queues/{q}/ack": q("receive"),
  "POST /v1/queues/{q}/nack": q("receive"),
  "POST /v1/queues/{q}/extend": q("receive"),
  "GET /v1/queues/{q}/consume": q("receive", { stream: "ws" }),
  "GET /v1/queues/{q}/messages": q("manage"),
  "POST /v1/queues/{q}/purge": q("manage"),
  "POST /v1/queues/{q}/redrive": q("manage"),

  "GET /v1/topics": t("manage", { list: true }),
  "PUT /v1/topics/{t}": t("manage"),
  "GET /v1/topics/{t}": t("manage"),
  "DELETE /v1/topics/{t}": t("manage"),
  "POST /v1/topics/{t}/messages": t("publish"),
  "GET /v1/topics/{t}/messages": t("subscribe"),
  "GET /v1/topics/{t}/partitions": t("subscribe", { also: ["publish", "manage"] }),
  "GET /v1/topics/{t}/subscribe": t("subscribe", { stream: "ws" }),
  "GET /v1/topics/{t}/events": t("subscribe", { stream: "sse" }),
  "GET /v1/mqtt": { type: "in-band" },
  "PUT /v1/topics/{t}/groups/{g}": t("manage"),
  "POST /v1/topics/{t}/groups/{g}/poll": t("consume"),
  "POST /v1/topics/{t}/groups/{g}/ack": t("consume"),
  "POST /v1/topics/{t}/groups/{g}/nack": t("consume"),
  "POST /v1/topics/{t}/groups/{g}/seek": t("consume"),
  "GET /v1/topics/{t}/groups/{g}": t("consume"),
  "PUT /v1/topics/{t}/subscriptions/{s}": t("manage"),
  "GET /v1/topics/{t}/subscriptions/{s}": t("manage"),
  "DELETE /v1/topics/{t}/subscriptions/{s}": t("manage"),
};

/** Every action of every kind, for "every other capability". */
export const ALL_CAPABILITIES: ReadonlyArray<readonly [Kind, string]> = [
  ["queues", "send"], ["queues", "receive"], ["queues", "manage"],
  ["topics", "publish"], ["topics", "subscribe"], ["topics", "consume"], ["topics", "manage"],
];

/** A queue, a topic, a group, a subscription and an access key (by id) a request acts on. */
export interface Names { q: string; t: string; g: string; s: string; accessKeyId: string }

/** A fresh access key from `POST /v1/keys` (admin key), as the `id:secret` a Bearer header carries. */
export async function accessKey(capabilities: Record<string, string[]>): Promise<{ credential: string; accessKeyId: string }> {
  const res = await exports.default.fetch(new Request(`${BASE}/v1/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ capabilities }),
  }));
  const body = (await res.json()) as { accessKeyId: string; secretAccessKey: string };
  if (res.status !== 201) throw new Error(`creating an access key failed: ${res.status} ${JSON.stringify(body)}`);
  return { credential: `${body.accessKeyId}:${body.secretAccessKey}`, accessKeyId: body.accessKeyId };
}

/** The concrete path of a route (`"GET /v1/queues/{q}"`) for these names. */
export function pathOf(route: string, names: Names): { method: string; path: string } {
  const [method, template] = route.split(" ") as [string, string];
  const path = template.replace(/\{(q|t|g|s|accessKeyId)\}/g, (_, p: keyof Names) => names[p]);
  return { method, path };
}

/** The operations `/openapi.json` documents, as `"METHOD /path"`. */
export async function documentedRoutes(): Promise<string[]> {
  const res = await exports.default.fetch(new Request(`${BASE}/openapi.json`));
  const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
  const out: string[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const method of Object.keys(ops)) {
      if (["get", "put", "post", "delete", "patch"].includes(method)) out.push(`${method.toUpperCase()} ${path}`);
    }
  }
  return out.sort();
}

/**
 * Sends one request as a client would, upgrading streaming routes as a browser does, and
 * releases whatever it opened (socket or stream). Returns the status and the error code.
 */
export async function send(
  route: string,
  names: Names,
  auth: string | null,
  options: { queryToken?: string; body?: unknown } = {},
): Promise<{ status: number; code?: string }> {
  const need = ROUTE_ACTIONS[route];
  const { method, path } = pathOf(route, names);
  const headers = new Headers();
  if (auth !== null) headers.set("authorization", `Bearer ${auth}`);
  if (need?.type === "capability" && need.stream === "ws") headers.set("upgrade", "websocket");
  if (need?.type === "capability" && need.stream === "sse") headers.set("accept", "text/event-stream");
  let body: string | undefined;
  if (method === "POST" || method === "PUT") {
    headers.set("content-type", "application/json");
    body = JSON.stringify(options.body ?? {});
  }
  const url = `${BASE}${path}${options.queryToken ? `?token=${encodeURIComponent(options.queryToken)}` : ""}`;
  const res = await exports.default.fetch(new Request(url, { method, headers, body }));
  if (res.webSocket) {
    res.webSocket.accept();
    res.webSocket.close(1000, "test done");
    return { status: res.status };
  }
  if (res.status < 400) {
    await res.body?.cancel();
    return { status: res.status };
  }
  const parsed = (await res.json()) as { error?: { code?: string } };
  return { status: res.status, code: parsed.error?.code };
}
