/**
 * A prefill: the topic already holds what a long run would have left retained before the
 * load starts (`npm run soak -- --prefill N`), so how latency depends on the retained state
 * can be measured in minutes instead of an hour.
 */
import { makeId } from "./id-table.ts";
import { call, type Ledger, type Target } from "./ledger.ts";

/** Ids of the messages a prefill writes: not the load's, so the final check skips them. */
export const PREFILL_KIND = "f";

/** Publishes `count` messages to the topic (batches of 100, 4 at a time); returns each partition's end afterwards. */
export async function prefillTopic(on: Target, ledger: Ledger, topic: string, partitions: number, count: number): Promise<number[]> {
  const batches = Math.ceil(count / 100);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < batches; i = next++) {
      const n = Math.min(100, count - i * 100);
      const ids = Array.from({ length: n }, (_, j) => makeId(PREFILL_KIND, 0, i, j));
      const r = await call(on, ledger, "POST", `/v1/topics/${topic}/messages`, { messages: ids.map((id) => ({ id, key: id, body: { id } })) });
      if (r.status !== 201) throw new Error(`prefill: ${r.status} ${JSON.stringify(r.body)}`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  const r = await call(on, ledger, "GET", `/v1/topics/${topic}`);
  return Array.from({ length: partitions }, (_, p) => Number((r.body?.partitions as Array<{ next: number }> | undefined)?.[p]?.next ?? 0));
}
