/**
 * SQS queue attributes ↔ Spool queue config (API.md, SQS-compatible API → Mapping):
 * `VisibilityTimeout`, `DelaySeconds`, `MessageRetentionPeriod`, `MaximumMessageSize` and
 * `RedrivePolicy` (`maxReceiveCount` → `maxReceives`, `deadLetterTargetArn` →
 * `deadLetterQueue`) are config; `FifoQueue` is `fifo`; the counts come from stats.
 * Attributes SQS has and Spool config has not (`ContentBasedDeduplication`,
 * `ReceiveMessageWaitTimeSeconds`, `Policy`, the KMS and FIFO throughput settings, …) are
 * kept by the queue object as strings (queue/tags.ts), so they read back as set. Ranges are
 * AWS's (SetQueueAttributes), narrowed where Spool's are (a visibility timeout of at least
 * 1 s).
 */
import type { QueueConfig, QueueConfigInput, QueueDescription } from "../../protocol/queues";
import { isValidName } from "../../protocol/names";
import { SqsError } from "./errors";
import { queueArn, type SqsContext } from "./context";

/** What a set of SQS attributes means for a queue: config, and attributes only the SQS API reads. */
export interface TranslatedAttributes {
  config: QueueConfigInput;
  kept: Record<string, string>;
}

type Setter = (value: string, out: TranslatedAttributes, fifo: boolean) => void;

const invalidValue = (name: string): SqsError => new SqsError("InvalidAttributeValue", `Invalid value for the parameter ${name}.`);

function intIn(name: string, value: string, min: number, max: number): number {
  const n = /^\d{1,10}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw invalidValue(name);
  return n;
}

const bool = (name: string, value: string): string => {
  if (value !== "true" && value !== "false") throw invalidValue(name);
  return value;
};

const keep = (name: string, check: (v: string) => string = (v) => v): Setter => (value, out) => {
  out.kept[name] = check(value);
};

const fifoOnly = (name: string, setter: Setter): Setter => (value, out, fifo) => {
  if (!fifo) throw new SqsError("InvalidAttributeName", `Unknown Attribute ${name}.`);
  setter(value, out, fifo);
};

const oneOf = (name: string, allowed: readonly string[]) => (v: string): string => {
  if (!allowed.includes(v)) throw invalidValue(name);
  return v;
};

/** Attributes CreateQueue and SetQueueAttributes accept, and what each does. */
const SETTERS: Record<string, Setter> = {
  DelaySeconds: (v, out) => void (out.config.delay = intIn("DelaySeconds", v, 0, 900)),
  MaximumMessageSize: (v, out) => void (out.config.maxMessageBytes = intIn("MaximumMessageSize", v, 1024, 1_048_576)),
  MessageRetentionPeriod: (v, out) => void (out.config.retention = intIn("MessageRetentionPeriod", v, 60, 1_209_600)),
  VisibilityTimeout: (v, out) => void (out.config.visibilityTimeout = intIn("VisibilityTimeout", v, 1, 43_200)),
  ReceiveMessageWaitTimeSeconds: keep("ReceiveMessageWaitTimeSeconds", (v) => String(intIn("ReceiveMessageWaitTimeSeconds", v, 0, 20))),
  RedrivePolicy: (v, out) => Object.assign(out.config, redrivePolicy(v)),
  RedriveAllowPolicy: keep("RedriveAllowPolicy", (v) => jsonObject("RedriveAllowPolicy", v)),
  Policy: keep("Policy", (v) => (v === "" ? v : jsonObject("Policy", v))),
  KmsMasterKeyId: keep("KmsMasterKeyId"),
  KmsDataKeyReusePeriodSeconds: keep("KmsDataKeyReusePeriodSeconds", (v) => String(intIn("KmsDataKeyReusePeriodSeconds", v, 60, 86_400))),
  SqsManagedSseEnabled: keep("SqsManagedSseEnabled", (v) => bool("SqsManagedSseEnabled", v)),
  ContentBasedDeduplication: fifoOnly("ContentBasedDeduplication", keep("ContentBasedDeduplication", (v) => bool("ContentBasedDeduplication", v))),
  DeduplicationScope: fifoOnly("DeduplicationScope", keep("DeduplicationScope", oneOf("DeduplicationScope", ["messageGroup", "queue"]))),
  FifoThroughputLimit: fifoOnly("FifoThroughputLimit", keep("FifoThroughputLimit", oneOf("FifoThroughputLimit", ["perQueue", "perMessageGroupId"]))),
};

function jsonObject(name: string, v: string): string {
  try {
    const parsed: unknown = JSON.parse(v);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return v;
  } catch {
    // fall through
  }
  throw invalidValue(name);
}

/** `{"deadLetterTargetArn": "arn:aws:sqs:…:dlq", "maxReceiveCount": 5}` → config; `""` removes it. */
function redrivePolicy(v: string): Pick<QueueConfig, "maxReceives" | "deadLetterQueue"> {
  if (v === "") return { maxReceives: 0, deadLetterQueue: null };
  let policy: { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
  try {
    policy = JSON.parse(v) as typeof policy;
  } catch {
    throw new SqsError("InvalidAttributeValue", "Invalid value for the parameter RedrivePolicy. Reason: Redrive policy is not a valid JSON map.");
  }
  const count = Number(policy?.maxReceiveCount);
  if (!Number.isInteger(count) || count < 1 || count > 1000) {
    throw new SqsError("InvalidAttributeValue", "Invalid value for the parameter RedrivePolicy. Reason: Value for maxReceiveCount must be an integer from 1 to 1000.");
  }
  const arn = policy.deadLetterTargetArn;
  const target = typeof arn === "string" ? arn.slice(arn.lastIndexOf(":") + 1) : "";
  if (typeof arn !== "string" || !arn.startsWith("arn:") || !isValidName(target)) {
    throw new SqsError("InvalidAttributeValue", "Invalid value for the parameter RedrivePolicy. Reason: Invalid value for deadLetterTargetArn.");
  }
  return { maxReceives: count, deadLetterQueue: target };
}

/** Translates CreateQueue / SetQueueAttributes `Attributes` for a queue that is (or will be) `fifo`. */
export function translateAttributes(attributes: Record<string, string>, fifo: boolean, creating: boolean): TranslatedAttributes {
  const out: TranslatedAttributes = { config: {}, kept: {} };
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "FifoQueue" && creating) continue; // decided with the name by CreateQueue
    const setter = Object.hasOwn(SETTERS, name) ? SETTERS[name] : undefined;
    if (!setter) throw new SqsError("InvalidAttributeName", `Unknown Attribute ${name}.`);
    setter(value, out, fifo);
  }
  return out;
}

/** Every attribute GetQueueAttributes can name. */
export const QUEUE_ATTRIBUTE_NAMES = [
  "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
  "CreatedTimestamp", "LastModifiedTimestamp", "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "Policy",
  "QueueArn", "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout", "RedrivePolicy", "RedriveAllowPolicy",
  "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled", "FifoQueue", "ContentBasedDeduplication",
  "DeduplicationScope", "FifoThroughputLimit",
] as const;

const FIFO_DEFAULTS: Record<string, string> = { ContentBasedDeduplication: "false", DeduplicationScope: "queue", FifoThroughputLimit: "perQueue" };

/** Every attribute of a queue as GetQueueAttributes shows it (absent ones are left out, as AWS does). */
export function queueAttributes(ctx: SqsContext, q: QueueDescription): Record<string, string> {
  const { config, stats, attributes } = q;
  const created = String(Math.floor(q.createdAt / 1000));
  const out: Record<string, string> = {
    QueueArn: queueArn(ctx, q.name),
    ApproximateNumberOfMessages: String(stats.visible),
    ApproximateNumberOfMessagesNotVisible: String(stats.inFlight),
    ApproximateNumberOfMessagesDelayed: String(stats.delayed),
    CreatedTimestamp: created,
    LastModifiedTimestamp: attributes.LastModifiedTimestamp ?? created,
    VisibilityTimeout: String(config.visibilityTimeout),
    MaximumMessageSize: String(config.maxMessageBytes),
    MessageRetentionPeriod: String(config.retention),
    DelaySeconds: String(config.delay),
    ReceiveMessageWaitTimeSeconds: attributes.ReceiveMessageWaitTimeSeconds ?? "0",
    SqsManagedSseEnabled: attributes.SqsManagedSseEnabled ?? "false",
  };
  if (config.maxReceives > 0 && config.deadLetterQueue !== null) {
    out.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: queueArn(ctx, config.deadLetterQueue), maxReceiveCount: config.maxReceives });
  }
  for (const name of ["Policy", "RedriveAllowPolicy", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds"]) {
    if (attributes[name] !== undefined) out[name] = attributes[name];
  }
  if (config.fifo) {
    out.FifoQueue = "true";
    for (const [name, fallback] of Object.entries(FIFO_DEFAULTS)) out[name] = attributes[name] ?? fallback;
  }
  return out;
}

/** The attributes GetQueueAttributes asked for (`All` for every one); unknown names are `InvalidAttributeName`. */
export function selectQueueAttributes(all: Record<string, string>, names: readonly string[]): Record<string, string> {
  for (const n of names) {
    if (n !== "All" && !(QUEUE_ATTRIBUTE_NAMES as readonly string[]).includes(n)) throw new SqsError("InvalidAttributeName", `Unknown Attribute ${n}.`);
  }
  if (names.includes("All")) return all;
  return Object.fromEntries(names.filter((n) => all[n] !== undefined).map((n) => [n, all[n]!]));
}

// ---- what sends and receives need to know about a queue, cached briefly ----

/** The facts of a queue that shape SendMessage and ReceiveMessage. */
export interface QueueProfile {
  fifo: boolean;
  contentBasedDeduplication: boolean;
  receiveWaitSeconds: number;
  maxMessageBytes: number;
}

export function profileOf(q: QueueDescription): QueueProfile {
  return {
    fifo: q.config.fifo,
    contentBasedDeduplication: q.attributes.ContentBasedDeduplication === "true",
    receiveWaitSeconds: Number(q.attributes.ReceiveMessageWaitTimeSeconds ?? "0"),
    maxMessageBytes: q.config.maxMessageBytes,
  };
}
