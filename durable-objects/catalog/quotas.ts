/**
 * Quotas (API.md, Conventions → Quotas): how many queues and topics may exist, and how many
 * consumer groups and subscriptions one topic may have. Each is a Worker var with a default
 * in protocol/limits.ts; a missing or malformed var means the default. Creating past one is
 * `409 QUOTA_EXCEEDED` and creates nothing. Who counts:
 *   queues, topics        the Catalog, in the transaction that lists a new name (entries.ts)
 *   groups per topic      the topic's home partition, in the transaction that creates the group
 *   subscriptions         the topic's home partition, in the transaction that creates one
 */
import type { ErrorValue } from "../../protocol/errors";
import { DEFAULT_QUOTAS } from "../../protocol/limits";
import type { Env } from "../env";

export type QuotaName = keyof typeof DEFAULT_QUOTAS;

/** The Worker var of each quota. */
export const QUOTA_VARS = {
  queues: "SPOOL_MAX_QUEUES",
  topics: "SPOOL_MAX_TOPICS",
  groupsPerTopic: "SPOOL_MAX_GROUPS_PER_TOPIC",
  subscriptionsPerTopic: "SPOOL_MAX_SUBSCRIPTIONS_PER_TOPIC",
} as const satisfies Record<QuotaName, keyof Env>;

/** The quota in force: the var when it is a positive integer, else the default. */
export function quotaOf(env: Pick<Env, (typeof QUOTA_VARS)[QuotaName]>, name: QuotaName): number {
  const n = Number(env[QUOTA_VARS[name]]);
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_QUOTAS[name];
}

const WHAT: Record<QuotaName, string> = {
  queues: "queues",
  topics: "topics",
  groupsPerTopic: "consumer groups on this topic",
  subscriptionsPerTopic: "subscriptions on this topic",
};

/** The refusal of one creation too many. */
export function quotaExceeded(name: QuotaName, limit: number): ErrorValue {
  return {
    code: "QUOTA_EXCEEDED",
    message: `there are already ${limit} ${WHAT[name]}, the most allowed (${QUOTA_VARS[name]}); nothing was created`,
    details: { quota: QUOTA_VARS[name], limit },
  };
}
