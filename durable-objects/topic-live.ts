/** WebSocket and SSE subscribers of a partition. (Topics part 2.) */
import type { Env } from "../worker/env";
import type { PartitionHooks } from "./topic";
import type { LogEntry, LogReader, PartitionModule } from "./topic-types";

export class LiveSubscribers implements PartitionModule {
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
  async fetch(_request: Request): Promise<Response> {
    return new Response("not implemented", { status: 501 });
  }
  async onMessage(_ws: WebSocket, _message: string | ArrayBuffer): Promise<void> {}
  async onClose(_ws: WebSocket, _code: number, _reason: string): Promise<void> {}
}
