/**
 * Publishing to a topic: the one path every publish takes, from the HTTP route and from
 * WebSocket `publish` frames handled inside a partition object alike.
 *
 * Validate the whole batch, assign ids, pick each message's partition (key, else id),
 * split the batch by partition keeping request order inside each part, send every part
 * to its partition at once (each part is one transaction there), and answer in request
 * order. A part answered stale (the topic grew or changed since this isolate cached its
 * config) is routed again with a fresh config, by the router's one retry policy (retry.ts).
 */
import { z } from "@hono/zod-openapi";
import { monotonicFactory } from "ulidx";
import { MAX_BATCH } from "../../../protocol/limits";
import type { AppendedMessage, StoredMessageInput } from "../log/schema";
import type { Env } from "../../env";
import { ApiError } from "../../shared/errors";
import { type ErrorValue, type Result } from "../../../protocol/errors";
import { HeadersSchema, MessageBodySchema, MessageIdSchema } from "../../shared/message-schemas";
import { DEFAULT_TOPIC_CONFIG } from "../../../protocol/topics";
import { type TopicInfo } from "../config";
import { ensureTopic, getTopic } from "./directory";
import { utf8Length } from "../../../protocol/key-hash";
import { configKeptChanging, isStale, retryWhileStale, STALE } from "./retry";
import { partitionForMessage, partitionOf } from "./router";

export const MAX_PUBLISH_BATCH = MAX_BATCH;

export const TopicMessageSchema = z
  .object({
    body: MessageBodySchema,
    key: z.string().min(1).max(256).optional(),
    id: MessageIdSchema.optional(),
    headers: HeadersSchema.optional(),
  })
  .refine((m) => m.body !== undefined, { path: ["body"], message: "body is required (any JSON value)" })
  .openapi("TopicMessageInput");

export type PublishMessage = z.infer<typeof TopicMessageSchema>;

/** `{messages: [...]}` (1–1000) or one message object; both arrive as a list. */
export const PublishBodySchema = z.preprocess(
  (v) => (typeof v === "object" && v !== null && !Array.isArray(v) && !("messages" in v) ? { messages: [v] } : v),
  z.object({ messages: z.array(TopicMessageSchema).min(1).max(MAX_PUBLISH_BATCH) }),
);

export interface PublishedMessage {
  id: string;
  partition: number;
  offset: number;
  duplicate: boolean;
}

const nextId = monotonicFactory();

/**
 * Validates a publish body as the HTTP route does (for WebSocket `publish` frames):
 * `400 VALIDATION_FAILED` naming the field, else the messages.
 */
export function parsePublishBody(raw: unknown): PublishMessage[] {
  const r = PublishBodySchema.safeParse(raw);
  if (r.success) return r.data.messages;
  const issue = r.error.issues[0]!;
  const field = issue.path.map(String).join(".");
  throw new ApiError("VALIDATION_FAILED", `${field || "body"}: ${issue.message}`, { field });
}

/**
 * Publishes `messages` to `topic` (created with the default config if new) and returns,
 * in request order, where each landed. Throws `ApiError`: 413 for a message over
 * `maxMessageBytes` (nothing written), 429 TOPIC_FULL, … When a batch spans partitions
 * and one part fails, the parts already written stay written: the error's
 * `details.messages` says for every message its id and, if written, partition and offset,
 * so the caller resends exactly the ones marked `written: false`. (A resend of producer-
 * chosen ids is deduplicated anyway; server-assigned ids are not recorded for dedup.)
 */
export async function publishToTopic(env: Env, topic: string, messages: PublishMessage[]): Promise<PublishedMessage[]> {
  const known = await getTopic(env, topic);
  let stored = prepare(messages, known);
  const info = known ?? (await ensureTopic(env, topic));
  if (!known) stored = prepare(messages, info);
  const results: Array<PublishedMessage | undefined> = new Array(messages.length);
  // Indexes of the messages still to place; after a stale answer, only those of its parts.
  let todo = stored.map((_, i) => i);
  const refetch = async (): Promise<TopicInfo> => {
    const fresh = await ensureTopic(env, topic, { fresh: true });
    // The fresh config may have another maxMessageBytes; ids stay the ones assigned.
    stored = prepare(messages, fresh, stored);
    return fresh;
  };
  const giveUp = () => partialError(configKeptChanging().toValue(), stored, results);
  await retryWhileStale(info, { refetch, giveUp }, async (current) => {
    todo = await sendParts(env, current, stored, todo, results);
    return todo.length > 0 ? STALE : null;
  });
  return results as PublishedMessage[];
}

/**
 * Sends messages `todo` of `stored`, split by partition, each part to its partition at
 * once; fills `results` for every part written and answers the indexes of the parts that
 * were stale. A failed part ends the publish with the partial error.
 */
async function sendParts(
  env: Env, info: TopicInfo, stored: StoredMessageInput[], todo: number[], results: Array<PublishedMessage | undefined>,
): Promise<number[]> {
  const parts = new Map<number, number[]>();
  for (const i of todo) {
    const p = partitionForMessage(info, stored[i]!.key, stored[i]!.id);
    (parts.get(p) ?? parts.set(p, []).get(p)!).push(i);
  }
  const routed = [...parts.entries()];
  const answers = await Promise.allSettled(
    routed.map(([p, idx]) => partitionOf(env, info, p).publish({ topic: info.name, partition: p, info, messages: idx.map((i) => stored[i]!) })),
  );
  const stale: number[] = [];
  let failure: ErrorValue | null = null;
  answers.forEach((a, k) => {
    const [p, idx] = routed[k]!;
    const r: Result<{ messages: AppendedMessage[] }> =
      a.status === "fulfilled" ? a.value : { ok: false, error: { code: "INTERNAL", message: `partition ${p} did not answer` } };
    if (isStale(r)) stale.push(...idx);
    else if (!r.ok) failure ??= r.error;
    else r.value.messages.forEach((m, j) => (results[idx[j]!] = { id: stored[idx[j]!]!.id, partition: p, ...m }));
  });
  if (failure) throw partialError(failure, stored, results);
  return stale.sort((a, b) => a - b);
}

/** Serialises and measures each message, assigning ids; `413` for one over the limit. */
function prepare(messages: PublishMessage[], info: TopicInfo | null, before?: StoredMessageInput[]): StoredMessageInput[] {
  const limit = (info?.config ?? DEFAULT_TOPIC_CONFIG).maxMessageBytes;
  return messages.map((m, i) => {
    const id = before?.[i]?.id ?? m.id ?? nextId();
    const body = JSON.stringify(m.body);
    const headers = m.headers && Object.keys(m.headers).length > 0 ? JSON.stringify(m.headers) : null;
    const key = m.key ?? null;
    const size = utf8Length(body) + (headers ? utf8Length(headers) : 0) + utf8Length(id) + (key ? utf8Length(key) : 0);
    if (size > limit) {
      throw new ApiError("PAYLOAD_TOO_LARGE", `messages.${i}: ${size} bytes exceeds maxMessageBytes ${limit}`, {
        field: `messages.${i}`, index: i, size, maxMessageBytes: limit,
      });
    }
    return { id, key, body, headers, size, assigned: m.id === undefined };
  });
}

function partialError(error: ErrorValue, stored: StoredMessageInput[], results: Array<PublishedMessage | undefined>): ApiError {
  const written = results.filter((r) => r !== undefined).length;
  const details: Record<string, unknown> = { ...error.details };
  if (written > 0 || stored.length > 1) {
    details.messages = stored.map((m, i) => {
      const r = results[i];
      return r ? { id: m.id, written: true, partition: r.partition, offset: r.offset, duplicate: r.duplicate } : { id: m.id, written: false };
    });
  }
  return new ApiError(error.code, error.message, details, error.retryAfter);
}
