/**
 * What every SQS action gets: the caller's credential (from SigV4), where the request came
 * (queue URLs are built on its origin; ARNs carry the region it was signed for), the input
 * readers that apply AWS's parameter validation, and the capability check. Actions call the
 * queue objects' RPC methods (the same ones `/v1` calls) and nothing else.
 */
import { authorize, type Credential, type QueueAction } from "../auth";
import { isValidName } from "../../protocol/names";
import type { Env } from "../../durable-objects/env";
import { SqsError, invalidParameter, missingParameter, queueDoesNotExist } from "./errors";
import type { SqsInput } from "./protocol";

/** The account id in every queue URL and ARN (Spool has one account per deployment). */
export const ACCOUNT_ID = "000000000000";

export interface SqsContext {
  env: Env;
  credential: Credential;
  /** `http://host:port` the request was sent to. */
  origin: string;
  /** The region the request was signed for (any is accepted). */
  region: string;
  /** The queue of the request's path, for query requests POSTed to a queue URL. */
  pathQueue: string | null;
}

export const queueUrl = (ctx: SqsContext, name: string): string => `${ctx.origin}/${ACCOUNT_ID}/${name}`;
export const queueArn = (ctx: SqsContext, name: string): string => `arn:aws:sqs:${ctx.region}:${ACCOUNT_ID}:${name}`;

/** The queue a request names: its `QueueUrl`'s last path segment (whatever the host), or the request path's. */
export function queueOf(ctx: SqsContext, input: SqsInput): string {
  const url = input.QueueUrl;
  if (url === undefined || url === "") {
    if (ctx.pathQueue !== null) return ctx.pathQueue;
    throw missingParameter("QueueUrl");
  }
  if (typeof url !== "string") throw invalidParameter("QueueUrl", url);
  const path = url.split(/[?#]/)[0]!;
  let name = path.slice(path.lastIndexOf("/") + 1);
  try {
    name = decodeURIComponent(name);
  } catch {
    throw queueDoesNotExist();
  }
  if (!isValidName(name)) throw queueDoesNotExist();
  return name;
}

/** `AccessDenied` unless the credential may do `action` on queue `name` (`"*"`: listing). */
export function allow(ctx: SqsContext, action: QueueAction, name: string): void {
  if (!authorize(ctx.credential, "queues", action, name)) {
    const resource = name === "*" ? `${ctx.origin}/` : queueUrl(ctx, name);
    throw new SqsError("AccessDenied", `Access to the resource ${resource} is denied.`);
  }
}

/** May the credential do any queue action on `name`? (GetQueueUrl: whoever uses a queue may find it.) */
export function mayUse(ctx: SqsContext, name: string): boolean {
  return (["send", "receive", "manage"] as const).some((a) => authorize(ctx.credential, "queues", a, name));
}

// ---- parameter readers (JSON numbers and query strings alike) ----

export function str(input: SqsInput, name: string): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw invalidParameter(name, JSON.stringify(v), "must be a string");
  return v;
}

export function requiredStr(input: SqsInput, name: string): string {
  const v = str(input, name);
  if (v === undefined || v === "") throw missingParameter(name);
  return v;
}

/** An integer in `min..max`, given as a number or a decimal string; undefined when absent. */
export function int(input: SqsInput, name: string, min: number, max: number): number | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d{1,10}$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw invalidParameter(name, typeof v === "string" ? v : JSON.stringify(v), `Must be between ${min} and ${max}, if provided.`);
  return n;
}

export function list(input: SqsInput, name: string): string[] {
  const v = input[name];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw invalidParameter(name, JSON.stringify(v).slice(0, 100), "must be a list of strings");
  return v as string[];
}

/** A string → string map (attributes, tags). */
export function stringMap(input: SqsInput, name: string): Record<string, string> {
  const v = input[name];
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw invalidParameter(name, JSON.stringify(v).slice(0, 100), "must be a map of strings");
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== "string") throw invalidParameter(`${name}.${k}`, JSON.stringify(val), "must be a string");
  }
  return v as Record<string, string>;
}

/** An object member (a message attribute value, a batch entry). */
export function record(v: unknown, name: string): SqsInput {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw invalidParameter(name, JSON.stringify(v)?.slice(0, 100), "must be a structure");
  return v as SqsInput;
}

// ---- batches ----

/** Most entries per batch request (AWS). */
export const MAX_BATCH_ENTRIES = 10;
const ENTRY_ID = /^[A-Za-z0-9_-]{1,80}$/;

/** A batch request's `Entries`, with AWS's batch rules: 1–10 entries, valid and distinct ids. */
export function batchEntries(input: SqsInput, action: string): Array<SqsInput & { Id: string }> {
  const v = input.Entries;
  if (v !== undefined && !Array.isArray(v)) throw invalidParameter("Entries", JSON.stringify(v).slice(0, 100), "must be a list");
  const entries = (v ?? []) as unknown[];
  if (entries.length === 0) throw new SqsError("EmptyBatchRequest", `There should be at least one ${action}RequestEntry in the request.`);
  if (entries.length > MAX_BATCH_ENTRIES) {
    throw new SqsError("TooManyEntriesInBatchRequest", `Maximum number of entries per request are ${MAX_BATCH_ENTRIES}. You have sent ${entries.length}.`);
  }
  const seen = new Set<string>();
  return entries.map((e, i) => {
    const entry = record(e, `Entries.${i + 1}`);
    const id = entry.Id;
    if (typeof id !== "string" || !ENTRY_ID.test(id)) {
      throw new SqsError("InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.");
    }
    if (seen.has(id)) throw new SqsError("BatchEntryIdsNotDistinct", `Id ${id} repeated.`);
    seen.add(id);
    return entry as SqsInput & { Id: string };
  });
}

/** A failed batch entry as AWS reports it. */
export interface BatchFailure {
  Id: string;
  SenderFault: boolean;
  Code: string;
  Message: string;
}

export function failure(id: string, err: SqsError): BatchFailure {
  return { Id: id, SenderFault: err.fault === "Sender", Code: err.queryCode, Message: err.message };
}
