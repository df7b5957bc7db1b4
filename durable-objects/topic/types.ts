/**
 * The contract between the modules of a topic partition: the log (log/log.ts) owns the
 * messages; live subscribers, consumer groups and subscription forwarders only read it
 * and keep their own positions. Every module has its own store (its tables, migrations and
 * all its SQL) and its own part of the object's single alarm.
 */
import type { TopicMessage } from "../../protocol/topics";

/** One message as stored in a partition's log (the wire's TopicMessage). */
export type LogEntry = TopicMessage;

/** What every module of a partition offers the object. */
export interface PartitionModule {
  /** Applies this module's own migrations; called inside blockConcurrencyWhile. */
  migrate(): void;
  /** Earliest time (ms) this module needs the alarm, or null. */
  nextDeadline(): number | null;
  /** Does whatever is due at `now`. Throwing retries the alarm; the work must be idempotent. */
  onAlarm(now: number): Promise<void>;
}

/**
 * What a module may ask of its object. The object owns the one alarm (an AlarmScheduler,
 * see object.ts); modules never set it themselves.
 */
export interface PartitionHooks {
  /** Called by the log after an append committed; never awaits slow consumers. */
  afterAppend(entries: LogEntry[]): void;
  /** Recomputes the alarm from every module's next deadline (one moved later, or went away). */
  scheduleAlarm(): Promise<void>;
  /**
   * Makes sure the alarm fires no later than `deadline` (a new lease, a paused socket, a
   * publish): cheap, asks no module, leaves an earlier alarm alone.
   */
  alarmBy(deadline: number): Promise<void>;
}

/** Read access to the log, as the other modules see it. */
export interface LogReader {
  /** Lowest kept offset (equals `next()` when the partition is empty). */
  first(): number;
  /** Offset the next message will get. */
  next(): number;
  /** Up to `limit` entries with offset >= `from`, ascending; compacted offsets are simply absent. */
  read(from: number, limit: number): LogEntry[];
  /** First offset whose timestamp is >= `timestamp` (or `next()` if none). */
  offsetAtTime(timestamp: number): number;
  /** True once the topic exists in this partition (created by PUT or a first publish). */
  exists(): boolean;
  /** The topic's incarnation here (new each time the topic is created), or null. */
  incarnation?(): string | null;
}

/**
 * Figures a module may contribute to `GET /v1/topics/{t}`, called when the module
 * implements them: the live module its connected WebSocket and SSE subscribers, the
 * groups module each consumer group's lag on this partition (`next - committed`).
 */
export interface PartitionReporter {
  subscriberCount?(): number;
  groupLags?(): Array<{ name: string; lag: number }>;
}
