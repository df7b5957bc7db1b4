/**
 * Consumer groups: the values the Worker's group routes and a partition's ConsumerGroups
 * module exchange over RPC, the defaults, and the receipt format.
 */
import type { GroupConfig, GroupConfigPatch, GroupPartitionStatus, PolledMessage } from "../../../protocol/groups";

export {
  DEFAULT_GROUP_CONFIG, type GroupAckResult, type GroupNackResult, type GroupConfig, type GroupConfigPatch, type GroupPartitionStatus,
  type PolledMessage, type SeekTarget,
} from "../../../protocol/groups";
export { MAX_DELIVERIES_LIMIT, MAX_LEASE_SECONDS as MAX_VISIBILITY_TIMEOUT } from "../../../protocol/limits";

export function mergeGroupConfig(base: Readonly<GroupConfig>, patch: GroupConfigPatch): GroupConfig {
  const out: GroupConfig = { ...base };
  for (const [k, v] of Object.entries(patch) as [keyof GroupConfig, never][]) {
    if (v !== undefined) out[k] = v;
  }
  return out;
}

export interface PollInput {
  topic: string;
  group: string;
  /** 1–100. */
  max: number;
  /** Lease seconds; the group's `visibilityTimeout` when absent. */
  visibilityTimeout?: number;
  /**
   * Creates the group here with this config when it does not exist yet. Partition 0 (the
   * group's home) gets the defaults; other partitions get the home's config.
   */
  createWith: GroupConfig | null;
  /**
   * The incarnation of the topic the poll began on. A long poll that outlives its topic
   * (deleted, perhaps created again meanwhile) leases nothing and creates nothing: its
   * caller may be long gone, and a deleted topic's groups must stay gone.
   */
  incarnation?: string;
}

/** What a poll of one partition leased; `created` when the poll created the group here. */
export interface PollResult {
  messages: PolledMessage[];
  created: boolean;
  /** The poll began on an earlier incarnation of the topic (see `PollInput.incarnation`): stop polling. */
  gone?: boolean;
}

export interface GroupSummary extends GroupPartitionStatus {
  name: string;
}

/** A receipt names its partition, offset and lease: `"<partition>.<offset>.<lease>"`. */
export function makeReceipt(partition: number, offset: number, lease: string): string {
  return `${partition}.${offset}.${lease}`;
}

export interface ParsedReceipt {
  partition: number;
  offset: number;
  lease: string;
}

export function parseReceipt(receipt: string): ParsedReceipt | null {
  const m = /^(\d{1,2})\.(\d{1,16})\.([A-Za-z0-9]{8,64})$/.exec(receipt);
  if (!m) return null;
  const offset = Number(m[2]);
  return Number.isSafeInteger(offset) ? { partition: Number(m[1]), offset, lease: m[3]! } : null;
}

/** A fresh lease id: unguessable, so a receipt of another group or lease never matches. */
export function newLease(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 24);
}
