/** Consumer groups of a partition: positions, leases, acks. (Topics part 2.) */
import type { Env } from "../worker/env";
import type { PartitionHooks } from "./topic";
import type { LogEntry, LogReader, PartitionModule } from "./topic-types";

export class ConsumerGroups implements PartitionModule {
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
