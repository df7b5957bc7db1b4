/**
 * Publishing what an MQTT client sends, through the one topic publish path
 * (topic/router/publish.ts) so every Spool rule applies. Publishes are taken in the order
 * they arrive and written in batches: while one batch is being written the next gathers,
 * grouped per Spool topic (each group one publish call, in order), and each publish is
 * answered (PUBACK) in arrival order once its write is durable.
 */
import type { ErrorCode } from "../../protocol/errors";
import { MAX_BATCH } from "../../protocol/limits";
import type { Env } from "../env";
import { asApiError } from "../shared/errors";
import { publishToTopic } from "../topic/router/publish";
import type { SpoolPublish } from "./payload";

/** A written publish says where it landed (for No Local, no-local.ts). */
export type PublishOutcome = { ok: true; partition: number; offset: number } | { ok: false; code: ErrorCode; message: string };

export interface PublishJob {
  spoolTopic: string;
  message: SpoolPublish;
  /** Called once, in submission order, when the write is durable or failed. */
  done(outcome: PublishOutcome): void;
}

export class Publisher {
  #queue: PublishJob[] = [];
  #running: Promise<void> | null = null;

  constructor(private readonly env: Env) {}

  submit(job: PublishJob): void {
    this.#queue.push(job);
    this.#running ??= this.#run().finally(() => (this.#running = null));
  }

  /** Resolves when everything submitted so far is answered. */
  async drained(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, MAX_BATCH);
      const groups = new Map<string, number[]>();
      batch.forEach((job, i) => (groups.get(job.spoolTopic) ?? groups.set(job.spoolTopic, []).get(job.spoolTopic)!).push(i));
      const outcomes: PublishOutcome[] = new Array(batch.length);
      await Promise.all([...groups].map(async ([topic, idx]) => {
        const results = await this.#publish(topic, idx.map((i) => batch[i]!.message));
        idx.forEach((i, k) => (outcomes[i] = results[k]!));
      }));
      for (let i = 0; i < batch.length; i++) {
        try {
          batch[i]!.done(outcomes[i]!);
        } catch (err) {
          console.error("mqtt: answering a publish failed", err instanceof Error ? err.message : String(err));
        }
      }
    }
  }

  /** One outcome per message; after a partial failure, the ones written are still ok. */
  async #publish(topic: string, messages: SpoolPublish[]): Promise<PublishOutcome[]> {
    try {
      const landed = await publishToTopic(this.env, topic, messages);
      return landed.map((m) => ({ ok: true, partition: m.partition, offset: m.offset }));
    } catch (err) {
      const e = asApiError(err);
      const written = (e.details as { messages?: Array<{ written?: boolean; partition?: number; offset?: number }> } | undefined)?.messages;
      return messages.map((_, i): PublishOutcome => {
        const w = written?.[i];
        return w?.written ? { ok: true, partition: w.partition ?? -1, offset: w.offset ?? -1 } : { ok: false, code: e.code, message: e.message };
      });
    }
  }
}
