/**
 * Consumer groups across a topic's partitions, one function per route: create a group at
 * its home (partition 0) before its copies, poll one partition or any (with the long poll
 * that waits on every partition at once), ack where the receipts point, status and seek.
 * Every call carries the caller's config and follows the router's retry policy.
 */
import {
  DEFAULT_GROUP_CONFIG, parseReceipt,
  type GroupAckResult, type GroupNackResult, type GroupConfig, type GroupConfigPatch, type GroupPartitionStatus, type PolledMessage, type PollResult,
  type SeekTarget,
} from "../groups/types";
import type { GroupCreated } from "../groups/groups";
import type { Env } from "../../env";
import { ApiError } from "../../shared/errors";
import { type ErrorValue, type Result } from "../../../protocol/errors";
import type { TopicInfo } from "../config";
import { requirePartition, requireTopic } from "./directory";
import { onPartition, partitionOf, partitionsOf, type PartitionStub } from "./router";
import type { ReceiptFailure } from "../../../protocol/queues";

/** Rounds of a long poll; each waits until some partition has work, so this only stops runaway loops. */
const MAX_POLL_ROUNDS = 50;

function fail(error: ErrorValue, topic: string, group: string): never {
  if (error.code === "NOT_FOUND" && error.details?.missing === "group") {
    throw new ApiError("NOT_FOUND", `group '${group}' does not exist on topic '${topic}'`, { topic, group });
  }
  if (error.code === "NOT_FOUND") throw new ApiError("NOT_FOUND", `topic '${topic}' does not exist`, { topic });
  throw ApiError.from(error);
}

function value<T>(r: Result<T>, topic: string, group: string): T {
  if (r.ok) return r.value;
  return fail(r.error, topic, group);
}

function isMissingGroup(r: Result<unknown>): boolean {
  return !r.ok && r.error.code === "NOT_FOUND" && r.error.details?.missing === "group";
}

/** The group's config at its home; created with the defaults when `create`, else null if missing. */
async function homeConfig(env: Env, info: TopicInfo, group: string, create: boolean): Promise<GroupConfig | null> {
  const r = await onPartition<GroupConfig>(env, info, 0, (s, i) => s.groupConfig(i, 0, group, create ? { ...DEFAULT_GROUP_CONFIG } : null));
  if (isMissingGroup(r)) return null;
  return value(r, info.name, group);
}

/** PUT: the home merges the patch; every other partition takes the home's result. */
export async function putGroup(env: Env, topic: string, group: string, patch: GroupConfigPatch): Promise<GroupCreated> {
  const info = await requireTopic(env, topic);
  const defaults = { ...DEFAULT_GROUP_CONFIG };
  const home = value(await onPartition<GroupCreated>(env, info, 0, (s, i) => s.putGroup(i, 0, group, patch, defaults)), topic, group);
  await Promise.all(partitionsOf(info).slice(1).map(async (p) =>
    value(await onPartition<GroupCreated>(env, info, p, (s, i) => s.putGroup(i, p, group, home.config, home.config)), topic, group)));
  return home;
}

export interface PollOptions {
  max: number;
  waitMs: number;
  partition?: number;
  visibilityTimeout?: number;
}

/**
 * Leases up to `max` messages, from one partition or from any (starting at a random one so
 * members spread out). With `waitMs`, waits until some partition has work or time is up.
 */
export async function pollGroup(env: Env, topic: string, group: string, o: PollOptions): Promise<PolledMessage[]> {
  const info = o.partition !== undefined ? await requirePartition(env, topic, o.partition) : await requireTopic(env, topic);
  const all = partitionsOf(info);
  const start = Math.floor(Math.random() * all.length);
  const order = o.partition !== undefined ? [o.partition] : [...all.slice(start), ...all.slice(0, start)];
  let home: GroupConfig | null = null;
  let created = false;
  // Set once the poll waits: a long poll that outlives its topic takes nothing from a new one.
  let incarnation: string | undefined;
  let gone = false;
  const pollOne = async (p: number, max: number): Promise<PolledMessage[]> => {
    const input = (createWith: GroupConfig | null) => ({ topic: info.name, group, max, visibilityTimeout: o.visibilityTimeout, createWith, incarnation });
    let r = await onPartition<PollResult>(env, info, p, (s, i) => s.pollGroup(i, p, input(p === 0 ? { ...DEFAULT_GROUP_CONFIG } : home)));
    if (isMissingGroup(r) && p !== 0) {
      home ??= await homeConfig(env, info, group, true);
      r = await onPartition<PollResult>(env, info, p, (s, i) => s.pollGroup(i, p, input(home)));
    }
    const v = value(r, info.name, group);
    created ||= v.created;
    gone ||= v.gone === true;
    return v.messages;
  };
  const deadline = Date.now() + o.waitMs;
  for (let round = 0; ; round++) {
    const out: PolledMessage[] = [];
    for (const p of order) {
      if (out.length >= o.max) break;
      out.push(...(await pollOne(p, o.max - out.length)));
    }
    if (created) {
      // A new group exists in every partition at once, so its position and lag are
      // topic-wide from the start (not only where a poll happened to look).
      created = false;
      await createEverywhere(env, info, group);
    }
    const left = deadline - Date.now();
    if (out.length > 0 || gone || left <= 0 || round >= MAX_POLL_ROUNDS) return out;
    incarnation ??= (await requireTopic(env, topic, { fresh: true })).stamp.incarnation;
    await Promise.race(order.map((p) => partitionOf(env, info, p).waitForGroupWork(group, left)));
  }
}

/** Makes the group's copy in every partition that lacks one, with the home's config. */
async function createEverywhere(env: Env, info: TopicInfo, group: string): Promise<void> {
  const config = await homeConfig(env, info, group, true);
  await Promise.all(partitionsOf(info).slice(1).map(async (p) =>
    value(await onPartition<GroupConfig>(env, info, p, (s, i) => s.groupConfig(i, p, group, config)), info.name, group)));
}

/** A partition's answer to an ack or a nack. */
type ReceiptAnswer = { acked?: number; nacked?: number; failed: ReceiptFailure[] };

/**
 * Splits receipts by the partition they name, applies `call` to each partition's share and
 * sums the answers; a receipt that names no partition of the topic, or that its partition
 * failed, is `RECEIPT_INVALID` (in request order). Ack and nack both go through here.
 */
async function onReceipts(
  env: Env, topic: string, group: string, receipts: string[],
  call: (stub: PartitionStub, info: TopicInfo, p: number, list: string[]) => Promise<Result<ReceiptAnswer>>,
): Promise<{ done: number; failed: ReceiptFailure[] }> {
  const info = await requireTopic(env, topic);
  const failedAt = new Map<number, string>();
  const byPartition = new Map<number, number[]>();
  receipts.forEach((receipt, i) => {
    const r = parseReceipt(receipt);
    if (!r || r.partition >= info.config.partitions) failedAt.set(i, receipt);
    else (byPartition.get(r.partition) ?? byPartition.set(r.partition, []).get(r.partition)!).push(i);
  });
  let done = 0;
  await Promise.all([...byPartition.entries()].map(async ([p, idx]) => {
    const list = idx.map((i) => receipts[i]!);
    const r = value(await onPartition<ReceiptAnswer>(env, info, p, (s, i) => call(s, i, p, list)), info.name, group);
    done += r.acked ?? r.nacked ?? 0;
    const bad = new Set(r.failed.map((f) => f.receipt));
    for (const i of idx) if (bad.has(receipts[i]!)) failedAt.set(i, receipts[i]!);
  }));
  const failed = [...failedAt.entries()].sort(([x], [y]) => x - y).map(([, receipt]) => ({ receipt, code: "RECEIPT_INVALID" as const }));
  return { done, failed };
}

/** Acks receipts on the partitions they name; anything not a live lease of this group fails. */
export async function ackGroup(env: Env, topic: string, group: string, receipts: string[]): Promise<GroupAckResult> {
  const { done, failed } = await onReceipts(env, topic, group, receipts, (s, i, p, list) => s.ackGroup(i, p, group, list));
  return { acked: done, failed };
}

/** Hands receipts back on the partitions they name (lease over now, or after `delay` s); anything not a live lease fails. */
export async function nackGroup(env: Env, topic: string, group: string, receipts: string[], delay: number, attempted: boolean): Promise<GroupNackResult> {
  const { done, failed } = await onReceipts(env, topic, group, receipts, (s, i, p, list) => s.nackGroup(i, p, group, list, delay, attempted));
  return { nacked: done, failed };
}

/** Per partition: committed offset, lag and in-flight count. `404` for a group never created. */
export async function groupStatus(env: Env, topic: string, group: string): Promise<GroupPartitionStatus[]> {
  const info = await requireTopic(env, topic);
  const config = await homeConfig(env, info, group, false);
  if (!config) fail({ code: "NOT_FOUND", message: "", details: { missing: "group" } }, info.name, group);
  return Promise.all(partitionsOf(info).map(async (p) => {
    const r = value(await onPartition<GroupPartitionStatus | null>(env, info, p, (s, i) => s.groupStatus(i, p, group, config)), info.name, group);
    return r ?? { partition: p, committed: 0, lag: 0, inFlight: 0 };
  }));
}

/** Moves the group in one partition, or in all; `404` for a group never created, `400` for no such partition. */
export async function seekGroup(env: Env, topic: string, group: string, target: SeekTarget, partition?: number): Promise<GroupPartitionStatus[]> {
  const info = partition !== undefined ? await requirePartition(env, topic, partition) : await requireTopic(env, topic);
  const config = await homeConfig(env, info, group, false);
  if (!config) fail({ code: "NOT_FOUND", message: "", details: { missing: "group" } }, info.name, group);
  const parts = partition !== undefined ? [partition] : partitionsOf(info);
  return Promise.all(parts.map(async (p) =>
    value(await onPartition<GroupPartitionStatus>(env, info, p, (s, i) => s.seekGroup(i, p, group, target, config)), info.name, group)));
}
