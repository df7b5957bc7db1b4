/**
 * SpoolEntrypoint: Spool for the other Workers of the account, through a service binding
 * (`[[services]] binding = "SPOOL", service = "spool", entrypoint = "SpoolEntrypoint"`).
 *
 * Every call goes through the same Hono app as HTTP (`app.fetch`): the same routes, zod
 * schemas, authorisation and object methods, so no rule (names, depth ≤ 64, quotas,
 * dead-letter authorisation, …) has a second implementation here. A binding is configured
 * by the account owner, so a call that carries no credential acts as the admin; one that
 * carries a token or access key (the SDK's `spool.withToken(token)`) is verified and
 * authorised exactly as over HTTP (worker/auth.ts, shared/token-verify.ts).
 *
 *   fetch(request)            HTTP semantics, WebSocket upgrades and SSE included: what
 *                             `new Spool({ binding: env.SPOOL })` in spool/client uses
 *   request(method, path, …)  one API call; the answer, or the error as data (`Result`)
 *   queueSend(…), …           one typed method per operation of the HTTP API, over `request`
 *
 * RPC loses error classes, so nothing here throws an API error: `request` and the typed
 * methods answer `{ok: false, error: {code, message, details, retryAfter}}`, which
 * spool/client's `unwrapResult` turns into the SDK's typed error classes.
 */
import { WorkerEntrypoint } from "cloudflare:workers";
import type { Env } from "../durable-objects/env";
import { isErrorCode, type ErrorCode } from "../protocol/errors";
import type { GroupConfigPatch, GroupPartitionStatus, PolledMessage } from "../protocol/groups";
import type {
  AckResult, ExtendResult, NackResult, PeekedMessage, QueueConfigInput, QueueCreated, QueueInfo, QueueSendInput,
  QueueSentMessage, QueueStats, ReceivedMessage, ReceiveOptions, RedriveOptions,
} from "../protocol/queues";
import type { TopicConfig, TopicConfigPatch, TopicMessage } from "../protocol/topics";
import app from "./index";

/** The origin internal requests are addressed to (any would do: only the path is routed). */
const ORIGIN = "https://spool.binding";

/** One API call over RPC. `token` narrows the call to a token's (or access key's) capabilities. */
export interface BindingCall {
  query?: Record<string, string | number | boolean | undefined> | undefined;
  body?: unknown;
  token?: string | undefined;
}

/** A topic message to publish (`id` and `key` optional). */
export interface PublishInput { body: unknown; key?: string; id?: string; headers?: Record<string, string> }
export interface Published { id: string; partition: number; offset: number; duplicate: boolean }
export interface PageOptions { limit?: number; cursor?: string }
export interface ReadOptions { partition?: number; from?: number; since?: number; limit?: number }
export interface PollOptions { max?: number; wait?: number; partition?: number; visibilityTimeout?: number }
export type SeekOptions = { to?: number | "earliest" | "latest"; since?: number; partition?: number };
export type SubscriptionInput =
  | { queue: string; filter?: Record<string, string> }
  | { url: string; secret?: string; filter?: Record<string, string>; maxAttempts?: number; deadLetterQueue?: string; timeout?: number };
export interface KeyInput { capabilities: Record<string, string[]>; description?: string }

/** A JSON value: what bodies and details are on the wire. */
export type JsonValue = string | number | boolean | null | JsonArray | JsonObject;
export interface JsonObject { [key: string]: JsonValue }
export interface JsonArray extends Array<JsonValue> {}
/**
 * A wire type as RPC carries it: `unknown` (a message body, error details) is a JSON value.
 * Workers' RPC types drop anything not known to be serializable, so without this a
 * `Service<SpoolEntrypoint>` would see no error branch and no bodies.
 */
export type Wire<T> = unknown extends T ? JsonValue : T extends readonly (infer U)[] ? Wire<U>[] : T extends object ? { [K in keyof T]: Wire<T[K]> } : T;
/** An error as data: the API's code, message and details, and `Retry-After` in seconds. */
export interface RpcError {
  code: ErrorCode;
  message: string;
  details?: JsonObject;
  retryAfter?: number;
}
/** What every RPC method answers: the value, or the error (RPC loses error classes). */
export type RpcResult<T> = { ok: true; value: Wire<T> } | { ok: false; error: RpcError };

type Json = JsonObject;

/** The admin credential internal calls carry when the deployment has no SPOOL_ADMIN_KEY (made once per isolate). */
let internalAdminKey: string | undefined;

export class SpoolEntrypoint extends WorkerEntrypoint<Env> {
  /**
   * HTTP through the binding: any path of the API (and `/health`, `/openapi.json`), with
   * WebSocket upgrades (`/consume`, `/subscribe`, `/v1/mqtt`) and SSE streams answered as
   * over the network. A request without `Authorization` acts as the admin.
   */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const [env, admin] = this.#adminEnv();
    const headers = new Headers(request.headers);
    if (!headers.has("authorization")) headers.set("authorization", `Bearer ${admin}`);
    return app.fetch(new Request(`${ORIGIN}${url.pathname}${url.search}`, new Request(request, { headers })), env, this.ctx);
  }

  /**
   * One API call (`request("POST", "/v1/queues/jobs/messages", {body: {...}})`): the parsed
   * answer (`null` for `204`), or the error as data. The generic form of every typed method.
   */
  async request<T = unknown>(method: string, path: string, call: BindingCall = {}): Promise<RpcResult<T>> {
    const url = new URL(path, ORIGIN);
    for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = {};
    if (call.token !== undefined) headers.authorization = `Bearer ${call.token}`;
    let body: string | undefined;
    if (call.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(call.body);
    }
    const res = await this.fetch(new Request(url, { method, headers, ...(body === undefined ? {} : { body }) }));
    const text = res.status === 204 ? "" : await res.text();
    const parsed: unknown = text === "" ? null : safeJson(text);
    if (res.ok) return { ok: true, value: parsed as Wire<T> };
    return { ok: false, error: errorValue(res, parsed) };
  }

  // ---- queues ----

  queues(page: PageOptions = {}): Promise<RpcResult<{ queues: { name: string; stats: QueueStats }[]; next?: string }>> {
    return this.request("GET", "/v1/queues", { query: { ...page } });
  }
  queueConfigure(queue: string, config: QueueConfigInput = {}): Promise<RpcResult<QueueCreated>> {
    return this.request("PUT", q(queue), { body: config });
  }
  queueInfo(queue: string): Promise<RpcResult<QueueInfo>> {
    return this.request("GET", q(queue));
  }
  queueDelete(queue: string): Promise<RpcResult<null>> {
    return this.request("DELETE", q(queue));
  }
  queueSend(queue: string, messages: QueueSendInput[]): Promise<RpcResult<{ messages: QueueSentMessage[] }>> {
    return this.request("POST", `${q(queue)}/messages`, { body: { messages } });
  }
  queueReceive(queue: string, options: Omit<ReceiveOptions, "detail"> = {}): Promise<RpcResult<{ messages: ReceivedMessage[] }>> {
    return this.request("POST", `${q(queue)}/receive`, { body: options });
  }
  queueAck(queue: string, receipts: string[]): Promise<RpcResult<AckResult>> {
    return this.request("POST", `${q(queue)}/ack`, { body: { receipts } });
  }
  queueNack(queue: string, receipts: string[], delay?: number): Promise<RpcResult<NackResult>> {
    return this.request("POST", `${q(queue)}/nack`, { body: { receipts, delay } });
  }
  queueExtend(queue: string, receipts: string[], visibilityTimeout: number): Promise<RpcResult<ExtendResult>> {
    return this.request("POST", `${q(queue)}/extend`, { body: { receipts, visibilityTimeout } });
  }
  queuePeek(queue: string, limit?: number): Promise<RpcResult<{ messages: PeekedMessage[] }>> {
    return this.request("GET", `${q(queue)}/messages`, { query: { limit } });
  }
  queuePurge(queue: string): Promise<RpcResult<{ purged: number }>> {
    return this.request("POST", `${q(queue)}/purge`);
  }
  queueRedrive(queue: string, options: RedriveOptions = {}): Promise<RpcResult<{ moved: number; needTo?: number }>> {
    return this.request("POST", `${q(queue)}/redrive`, { body: options });
  }

  // ---- topics ----

  topics(page: PageOptions = {}): Promise<RpcResult<{ topics: { name: string; partitions: number }[]; next?: string }>> {
    return this.request("GET", "/v1/topics", { query: { ...page } });
  }
  topicConfigure(topic: string, config: TopicConfigPatch = {}): Promise<RpcResult<{ name: string; config: TopicConfig; createdAt: number }>> {
    return this.request("PUT", t(topic), { body: config });
  }
  topicInfo(topic: string): Promise<RpcResult<Json>> {
    return this.request("GET", t(topic));
  }
  topicDelete(topic: string): Promise<RpcResult<null>> {
    return this.request("DELETE", t(topic));
  }
  topicPublish(topic: string, messages: PublishInput[]): Promise<RpcResult<{ messages: Published[] }>> {
    return this.request("POST", `${t(topic)}/messages`, { body: { messages } });
  }
  topicPartitions(topic: string): Promise<RpcResult<{ partitions: number }>> {
    return this.request("GET", `${t(topic)}/partitions`);
  }
  topicRead(topic: string, options: ReadOptions = {}): Promise<RpcResult<{ messages: TopicMessage[]; next: number; first: number }>> {
    return this.request("GET", `${t(topic)}/messages`, { query: { ...options } });
  }

  // ---- consumer groups ----

  groupConfigure(topic: string, group: string, config: GroupConfigPatch & { start?: "earliest" | "latest" } = {}): Promise<RpcResult<Json>> {
    return this.request("PUT", g(topic, group), { body: config });
  }
  groupStatus(topic: string, group: string): Promise<RpcResult<{ partitions: GroupPartitionStatus[] }>> {
    return this.request("GET", g(topic, group));
  }
  groupPoll(topic: string, group: string, options: PollOptions = {}): Promise<RpcResult<{ messages: (PolledMessage & { receipt: string })[] }>> {
    return this.request("POST", `${g(topic, group)}/poll`, { body: options });
  }
  groupAck(topic: string, group: string, receipts: string[]): Promise<RpcResult<{ acked: number; failed: { receipt: string; code: string }[] }>> {
    return this.request("POST", `${g(topic, group)}/ack`, { body: { receipts } });
  }
  groupNack(topic: string, group: string, receipts: string[], delay?: number): Promise<RpcResult<{ nacked: number; failed: { receipt: string; code: string }[] }>> {
    return this.request("POST", `${g(topic, group)}/nack`, { body: { receipts, delay } });
  }
  groupSeek(topic: string, group: string, target: SeekOptions): Promise<RpcResult<{ partitions: GroupPartitionStatus[] }>> {
    return this.request("POST", `${g(topic, group)}/seek`, { body: target });
  }

  // ---- subscriptions (fan-out), tokens, access keys ----

  subscriptionPut(topic: string, name: string, config: SubscriptionInput): Promise<RpcResult<Json>> {
    return this.request("PUT", s(topic, name), { body: config });
  }
  subscriptionGet(topic: string, name: string): Promise<RpcResult<Json>> {
    return this.request("GET", s(topic, name));
  }
  subscriptionDelete(topic: string, name: string): Promise<RpcResult<null>> {
    return this.request("DELETE", s(topic, name));
  }
  createToken(ttl: number, capabilities: Record<string, string[]>): Promise<RpcResult<{ token: string; expiresAt: number }>> {
    return this.request("POST", "/v1/tokens", { body: { ttl, capabilities } });
  }
  keys(page: PageOptions = {}): Promise<RpcResult<{ keys: Json[]; next?: string }>> {
    return this.request("GET", "/v1/keys", { query: { ...page } });
  }
  createKey(input: KeyInput): Promise<RpcResult<{ accessKeyId: string; secretAccessKey: string; capabilities: Record<string, string[]>; description: string; createdAt: number }>> {
    return this.request("POST", "/v1/keys", { body: input });
  }
  deleteKey(accessKeyId: string): Promise<RpcResult<null>> {
    return this.request("DELETE", `/v1/keys/${encodeURIComponent(accessKeyId)}`);
  }

  /**
   * The env internal calls run with, and the admin credential they carry: the deployment's
   * admin key, or — when it has none, which over HTTP refuses everything — a key made for
   * this isolate that never leaves it, so a binding works without one.
   */
  #adminEnv(): [Env, string] {
    if (this.env.SPOOL_ADMIN_KEY) return [this.env, this.env.SPOOL_ADMIN_KEY];
    internalAdminKey ??= `internal-${crypto.randomUUID()}`;
    return [{ ...this.env, SPOOL_ADMIN_KEY: internalAdminKey }, internalAdminKey];
  }
}

const seg = encodeURIComponent;
const q = (queue: string): string => `/v1/queues/${seg(queue)}`;
const t = (topic: string): string => `/v1/topics/${seg(topic)}`;
const g = (topic: string, group: string): string => `${t(topic)}/groups/${seg(group)}`;
const s = (topic: string, name: string): string => `${t(topic)}/subscriptions/${seg(name)}`;

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** An error answer as data: the body's `{error: {code, message, details}}` and `Retry-After`. */
function errorValue(res: Response, body: unknown): RpcError {
  const e = typeof body === "object" && body !== null ? (body as { error?: { code?: unknown; message?: unknown; details?: unknown } }).error : undefined;
  const code = isErrorCode(e?.code) ? e.code : res.status >= 500 ? "INTERNAL" : "BAD_REQUEST";
  const out: RpcError = { code, message: typeof e?.message === "string" ? e.message : `HTTP ${res.status}` };
  if (typeof e?.details === "object" && e.details !== null) out.details = e.details as Json;
  const retryAfter = Number(res.headers.get("retry-after") ?? NaN);
  if (Number.isFinite(retryAfter)) out.retryAfter = retryAfter;
  return out;
}
