/**
 * SQS queue actions: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, GetQueueAttributes,
 * SetQueueAttributes, PurgeQueue, ListDeadLetterSourceQueues, TagQueue, UntagQueue and
 * ListQueueTags, each a translation onto the queue objects' RPC methods (`configure`,
 * `describe`, `setAttributes`, `delete`, `purge`, `tag`, `untag`) and the Catalog's list.
 * Queues are the Spool queues of the same name; `/v1` sees the same ones.
 */
import { catalogStub, queueStub } from "../../durable-objects/env";
import type { CatalogPage } from "../../durable-objects/catalog/catalog";
import type { QueueConfigInput, QueueDescription, QueueInfo } from "../../protocol/queues";
import type { Result } from "../../protocol/errors";
import { now } from "../../durable-objects/shared/clock";
import { authorize } from "../auth";
import {
  allow, int, list, mayUse, queueOf, queueUrl, requiredStr, str, stringMap, type SqsContext,
} from "./context";
import { SqsError, invalidParameter, missingParameter, sqsErrorOf } from "./errors";
import { profileOf, queueAttributes, selectQueueAttributes, translateAttributes, type QueueProfile } from "./queue-attributes";
import type { SqsInput } from "./protocol";

/** SQS queue names: 1–80 of `A-Z a-z 0-9 - _`, a FIFO queue's ending in `.fifo`. */
const SQS_QUEUE_NAME = /^[A-Za-z0-9_-]{1,75}(\.fifo)?$|^[A-Za-z0-9_-]{76,80}$/;
const MAX_TAG_KEY = 128;
const MAX_TAG_VALUE = 256;
/** Queues asked at once while ListDeadLetterSourceQueues reads configs. */
const SCAN_CONCURRENCY = 16;

function unwrapSqs<T>(r: Result<T>): T {
  if (r.ok) return r.value;
  throw sqsErrorOf(r.error);
}

// ---- the queue facts sends and receives need, cached per isolate ----

/**
 * How long an isolate trusts a queue's profile. AWS says attribute changes take up to 60 s
 * to propagate; here a change made through this isolate is seen at once (`forgetProfile`)
 * and one made elsewhere within this many ms.
 */
const PROFILE_TTL_MS = 5_000;
const PROFILE_CACHE_SIZE = 1_000;
const profiles = new Map<string, { until: number; profile: QueueProfile }>();

function rememberProfile(q: QueueDescription): QueueProfile {
  const profile = profileOf(q);
  profiles.delete(q.name);
  profiles.set(q.name, { until: now() + PROFILE_TTL_MS, profile });
  if (profiles.size > PROFILE_CACHE_SIZE) profiles.delete(profiles.keys().next().value!);
  return profile;
}

const forgetProfile = (name: string): boolean => profiles.delete(name);

/** The queue's profile (one `describe` call at most every few seconds); `QueueDoesNotExist` when absent. */
export async function queueProfile(ctx: SqsContext, name: string): Promise<QueueProfile> {
  const cached = profiles.get(name);
  if (cached && cached.until > now()) return cached.profile;
  return rememberProfile(unwrapSqs((await queueStub(ctx.env, name).describe()) as Result<QueueDescription>));
}

async function describeQueue(ctx: SqsContext, name: string): Promise<QueueDescription> {
  const q = unwrapSqs((await queueStub(ctx.env, name).describe()) as Result<QueueDescription>);
  rememberProfile(q);
  return q;
}

/** `send` on the dead-letter queue a config names, as `/v1` demands for it. */
function allowDeadLetterQueue(ctx: SqsContext, config: QueueConfigInput): void {
  if (config.deadLetterQueue) allow(ctx, "send", config.deadLetterQueue);
}

// ---- actions ----

async function createQueue(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  const name = requiredStr(input, "QueueName");
  const attributes = stringMap(input, "Attributes");
  // The JSON protocol's CreateQueue member is `tags` (lower case); the query protocol's `Tag.N` arrives as `Tags`.
  const tags = checkTags(stringMap(input, input.tags !== undefined ? "tags" : "Tags"));
  const fifo = name.endsWith(".fifo");
  if (!SQS_QUEUE_NAME.test(name)) {
    throw new SqsError("InvalidParameterValue", "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length (a FIFO queue's name ends in .fifo).");
  }
  const fifoAttr = attributes.FifoQueue;
  if (fifoAttr !== undefined && fifoAttr !== "true" && fifoAttr !== "false") throw new SqsError("InvalidAttributeValue", "Invalid value for the parameter FifoQueue.");
  if (fifo !== (fifoAttr === "true")) {
    throw new SqsError("InvalidParameterValue", fifo
      ? "The name of a FIFO queue must end with .fifo and the queue must be created with the attribute FifoQueue set to true."
      : "A queue with the attribute FifoQueue set to true must have a name that ends with .fifo.");
  }
  allow(ctx, "manage", name);
  const translated = translateAttributes(attributes, fifo, true);
  allowDeadLetterQueue(ctx, translated.config);
  const stub = queueStub(ctx.env, name);
  const existing = (await stub.describe()) as Result<QueueDescription>;
  if (existing.ok) {
    // AWS: the same name with the same attribute values is the existing queue; any difference is an error.
    const current = queueAttributes(ctx, existing.value);
    for (const [attr, value] of Object.entries(attributes)) {
      if (attr === "FifoQueue" ? value !== (current.FifoQueue ?? "false") : !sameAttribute(attr, current[attr], value)) {
        throw new SqsError("QueueNameExists", `A queue already exists with the same name and a different value for attribute ${attr}`);
      }
    }
    return { QueueUrl: queueUrl(ctx, name) };
  }
  if (existing.error.code !== "NOT_FOUND") throw sqsErrorOf(existing.error);
  // A queue created through SQS without a RedrivePolicy never dead-letters, as in SQS.
  const config: QueueConfigInput = { maxReceives: 0, deadLetterQueue: null, ...translated.config, fifo };
  unwrapSqs(await stub.configure(config, { defaultDeadLetterQueueAllowed: false }));
  if (Object.keys(translated.kept).length > 0) unwrapSqs(await stub.setAttributes({}, translated.kept));
  if (Object.keys(tags).length > 0) unwrapSqs(await stub.tag(tags));
  forgetProfile(name);
  return { QueueUrl: queueUrl(ctx, name) };
}

/** Whether an attribute as stored reads back as the value given (RedrivePolicy compared as JSON). */
function sameAttribute(attr: string, current: string | undefined, given: string): boolean {
  if (attr !== "RedrivePolicy") return (current ?? "") === given;
  if (current === undefined || given === "") return current === undefined && given === "";
  try {
    const a = JSON.parse(current) as Record<string, unknown>;
    const b = JSON.parse(given) as Record<string, unknown>;
    return a.deadLetterTargetArn === b.deadLetterTargetArn && Number(a.maxReceiveCount) === Number(b.maxReceiveCount);
  } catch {
    return false;
  }
}

async function getQueueUrl(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  const name = requiredStr(input, "QueueName");
  if (!mayUse(ctx, name)) allow(ctx, "manage", name); // throws AccessDenied
  await describeQueue(ctx, name);
  return { QueueUrl: queueUrl(ctx, name) };
}

/** ListQueues / ListDeadLetterSourceQueues `NextToken`: the last name listed, base64url. */
const encodeToken = (name: string): string => btoa(name).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
function decodeToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  try {
    return atob(token.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    throw invalidParameter("NextToken", token, "Invalid NextToken value.");
  }
}

async function listQueues(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  allow(ctx, "manage", "*");
  const prefix = str(input, "QueueNamePrefix") ?? "";
  const maxResults = int(input, "MaxResults", 1, 1000);
  const token = decodeToken(str(input, "NextToken"));
  // Names sort after the greatest string below the prefix; the first that does not start with it ends the list.
  const before = prefix === "" ? undefined : `${prefix.slice(0, -1)}${String.fromCharCode(prefix.charCodeAt(prefix.length - 1) - 1)}\uffff`;
  const page = (await catalogStub(ctx.env).page("queues", maxResults ?? 1000, token ?? before)) as CatalogPage;
  const names = page.entries.map((e) => e.name).filter((n) => n.startsWith(prefix));
  const out: SqsInput = { QueueUrls: names.map((n) => queueUrl(ctx, n)) };
  if (maxResults !== undefined && page.next !== undefined && names.length === page.entries.length) out.NextToken = encodeToken(page.next);
  return out;
}

async function deleteQueue(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  const name = queueOf(ctx, input);
  allow(ctx, "manage", name);
  forgetProfile(name);
  unwrapSqs(await queueStub(ctx.env, name).delete());
  return {};
}

async function getQueueAttributes(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  const name = queueOf(ctx, input);
  allow(ctx, "manage", name);
  const names = list(input, "AttributeNames");
  const q = await describeQueue(ctx, name);
  const attributes = selectQueueAttributes(queueAttributes(ctx, q), names);
  return Object.keys(attributes).length > 0 ? { Attributes: attributes } : {};
}

async function setQueueAttributes(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  const name = queueOf(ctx, input);
  allow(ctx, "manage", name);
  if (input.Attributes === undefined || input.Attributes === null) throw missingParameter("Attributes");
  const attributes = stringMap(input, "Attributes");
  if (Object.hasOwn(attributes, "FifoQueue")) throw new SqsError("InvalidAttributeName", "Unknown Attribute FifoQueue.");
  const profile = await queueProfile(ctx, name);
  const translated = translateAttributes(attributes, profile.fifo, false);
  allowDeadLetterQueue(ctx, translated.config);
  const kept = { ...translated.kept, LastModifiedTimestamp: String(Math.floor(now() / 1000)) };
  forgetProfile(name);
  rememberProfile(unwrapSqs((await queueStub(ctx.env, name).setAttributes(translated.config, kept)) as Result<QueueDescription>));
  return {};
}

async function purgeQueue(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  const name = queueOf(ctx, input);
  allow(ctx, "manage", name);
  unwrapSqs(await queueStub(ctx.env, name).purge());
  return {};
}

/**
 * Queues whose RedrivePolicy names this one. Configs live in each queue, so this reads them
 * (a page of the Catalog at a time, a few queues at once) and shows only sources the
 * caller may `manage`.
 */
async function listDeadLetterSourceQueues(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  const name = queueOf(ctx, input);
  allow(ctx, "manage", name);
  const maxResults = int(input, "MaxResults", 1, 1000);
  let after = decodeToken(str(input, "NextToken"));
  await describeQueue(ctx, name); // QueueDoesNotExist for a missing dead-letter queue
  const found: string[] = [];
  const limit = maxResults ?? 1000;
  for (;;) {
    const page = (await catalogStub(ctx.env).page("queues", 100, after)) as CatalogPage;
    const candidates = page.entries.map((e) => e.name).filter((n) => n !== name && authorize(ctx.credential, "queues", "manage", n));
    for (let i = 0; i < candidates.length; i += SCAN_CONCURRENCY) {
      const chunk = candidates.slice(i, i + SCAN_CONCURRENCY);
      const infos = await Promise.all(chunk.map((n) => queueStub(ctx.env, n).info() as Promise<Result<QueueInfo>>));
      for (const [j, r] of infos.entries()) {
        if (r.ok && r.value.config.maxReceives > 0 && r.value.config.deadLetterQueue === name) found.push(chunk[j]!);
        if (found.length === limit) {
          const out: SqsInput = { queueUrls: found.map((n) => queueUrl(ctx, n)) };
          const more = j < chunk.length - 1 || i + SCAN_CONCURRENCY < candidates.length || page.next !== undefined;
          if (maxResults !== undefined && more) out.NextToken = encodeToken(chunk[j]!);
          return out;
        }
      }
    }
    if (page.next === undefined) break;
    after = page.next;
  }
  return { queueUrls: found.map((n) => queueUrl(ctx, n)) };
}

/** Tag keys 1–128 and values 0–256 characters (AWS). */
function checkTags(tags: Record<string, string>): Record<string, string> {
  for (const [key, value] of Object.entries(tags)) {
    if (key.length < 1 || key.length > MAX_TAG_KEY) throw invalidParameter("Tags", key, `Tag keys must be 1 to ${MAX_TAG_KEY} characters.`);
    if (value.length > MAX_TAG_VALUE) throw invalidParameter("Tags", value, `Tag values must be at most ${MAX_TAG_VALUE} characters.`);
  }
  return tags;
}

async function tagQueue(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  const name = queueOf(ctx, input);
  allow(ctx, "manage", name);
  const tags = checkTags(stringMap(input, "Tags"));
  if (Object.keys(tags).length === 0) throw new SqsError("MissingParameter", "The request must contain the parameter Tags.");
  unwrapSqs(await queueStub(ctx.env, name).tag(tags));
  return {};
}

async function untagQueue(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  const name = queueOf(ctx, input);
  allow(ctx, "manage", name);
  const keys = list(input, "TagKeys");
  if (keys.length === 0) throw new SqsError("MissingParameter", "The request must contain the parameter TagKeys.");
  unwrapSqs(await queueStub(ctx.env, name).untag(keys));
  return {};
}

async function listQueueTags(ctx: SqsContext, input: SqsInput): Promise<SqsInput> {
  const name = queueOf(ctx, input);
  allow(ctx, "manage", name);
  const { tags } = await describeQueue(ctx, name);
  return Object.keys(tags).length > 0 ? { Tags: tags } : {};
}

export type SqsAction = (ctx: SqsContext, input: SqsInput) => Promise<SqsInput>;

export const QUEUE_ACTIONS: Record<string, SqsAction> = {
  CreateQueue: createQueue,
  GetQueueUrl: getQueueUrl,
  ListQueues: listQueues,
  DeleteQueue: deleteQueue,
  GetQueueAttributes: getQueueAttributes,
  SetQueueAttributes: setQueueAttributes,
  PurgeQueue: purgeQueue,
  ListDeadLetterSourceQueues: listDeadLetterSourceQueues,
  TagQueue: tagQueue,
  UntagQueue: untagQueue,
  ListQueueTags: listQueueTags,
};
