/** The partition's append-only log: publish, read, retention, compaction. (Topics part 1.) */
import type { Env } from "../worker/env";
import type { PartitionHooks } from "./topic";
import type { LogEntry, LogReader, PartitionModule } from "./topic-types";

export class TopicLog implements PartitionModule, LogReader {
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly hooks: PartitionHooks,
  ) {}

  migrate(): void {}
  nextDeadline(): number | null { return null; }
  async onAlarm(_now: number): Promise<void> {}
  first(): number { return 0; }
  next(): number { return 0; }
  read(_from: number, _limit: number): LogEntry[] { return []; }
  offsetAtTime(_timestamp: number): number { return 0; }
  exists(): boolean { return false; }
}
