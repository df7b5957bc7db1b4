/**
 * Load generator: memory. Asks the harness for the server's RSS when idle, with 1,000 idle
 * Spool subscribers on one partition, and (for comparison) with 1,000 sockets on the bare
 * baseline object; in full runs also after the subscribers sat idle long enough for the
 * object to hibernate.
 */
import { emit, finish, generatorArgs, must, sleep } from "./common.ts";
import type { GeneratorArgs } from "./protocol.ts";
import { closeSubscribers, openSubscribers, wsUrl } from "./sockets.ts";

interface Args extends GeneratorArgs {
  subscribers: number;
  topic: string;
  baseline: string;
  settleMs: number;
  /** 0 to skip the hibernation reading. */
  hibernateMs: number;
}

const args = generatorArgs<Args>();
const auth = { authorization: `Bearer ${args.adminKey}` };
const notes: string[] = [];

await sleep(args.settleMs);
emit({ event: "sample", label: "idle" });

try {
  await must(args, "PUT", `/v1/topics/${args.topic}`, { partitions: 1 });
  const subs = await openSubscribers(wsUrl(args.url, `/v1/topics/${args.topic}/subscribe?partition=0&from=latest`), auth, args.subscribers, () => {});
  await sleep(args.settleMs);
  emit({ event: "sample", label: "spool" });
  if (args.hibernateMs > 0) {
    await sleep(args.hibernateMs);
    emit({ event: "sample", label: "spoolHibernated" });
  }
  await closeSubscribers(subs);
} catch (err) {
  notes.push(`spool subscribers: ${(err as Error).message}`);
}

await sleep(args.settleMs);
emit({ event: "sample", label: "idleAgain" });
try {
  const subs = await openSubscribers(wsUrl(args.url, `/bench/${args.baseline}/subscribe`), auth, args.subscribers, () => {});
  await sleep(args.settleMs);
  emit({ event: "sample", label: "bare" });
  await closeSubscribers(subs);
} catch (err) {
  notes.push(`bare sockets: ${(err as Error).message}`);
}

finish({ notes });
