/** Subscriptions: forwarding a partition into queues and webhooks. (Fan-out.) */
import type { Env } from "../worker/env";
import type { PartitionHooks } from "./topic";
import type { LogEntry, LogReader, PartitionModule } from "./topic-types";

export class Forwarder implements PartitionModule {
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly log: LogReader,
    private readonly hooks: PartitionHooks,
  ) {}

  migrate(): void {}
  nextDeadline(): number | null { return null; }
  async onAlarm(_now: number): Promise<void> {}
  onAppend(_entries: LogEntry[]): void {}
}
