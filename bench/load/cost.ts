/**
 * Load generator: cost per message. For each operation, turns the bench Worker's meter on
 * (/bench/meter/start, bench/worker/meter.ts), does the operation through the public API,
 * and reads what Spool's objects were billed for: requests, incoming WebSocket messages,
 * rows read and written. Deterministic: no timing is measured, only counted. Work that
 * runs by itself after a publish (forwarding, webhooks, live delivery) is measured as
 * publish + that work, minus the same publish measured alone.
 */
import type { CostCounts } from "../worker/cost-counts.ts";
import { emit, finish, generatorArgs, must, sampleMessage, sleep } from "./common.ts";
import type { GeneratorArgs } from "./protocol.ts";
import { closeSubscribers, confirmProgress, openSubscribers, wsUrl } from "./sockets.ts";

interface Args extends GeneratorArgs {
  /** A unique prefix for this run's queues and topics. */
  prefix: string;
}

export interface CostResult {
  id: string;
  messages: number;
  counts: CostCounts;
  /** Set when the operation did not complete (the figures are then not comparable). */
  error?: string;
}

const args = generatorArgs<Args>();
const batch = (n: number) => ({ messages: Array.from({ length: n }, (_, i) => sampleMessage(i)) });
const results: CostResult[] = [];

/** What `fn` cost (a failing step throws; the run's `uninstall` then stops the meter). */
async function metered(fn: () => Promise<void>): Promise<CostCounts> {
  await must(args, "POST", "/bench/meter/start");
  await fn();
  return must<CostCounts>(args, "POST", "/bench/meter/stop");
}

/** `c` times `k` (one request's share of a measured series). */
function scale(c: CostCounts, k: number): CostCounts {
  return {
    requests: c.requests * k, wsMessages: c.wsMessages * k, rowsRead: c.rowsRead * k, rowsWritten: c.rowsWritten * k,
    alarmWrites: c.alarmWrites * k, statements: c.statements * k,
    calls: Object.fromEntries(Object.entries(c.calls).map(([m, v]) => [m, v * k])),
  };
}

function minus(a: CostCounts, b: CostCounts): CostCounts {
  const calls: Record<string, number> = { ...a.calls };
  for (const [k, v] of Object.entries(b.calls)) calls[k] = (calls[k] ?? 0) - v;
  return {
    requests: a.requests - b.requests, wsMessages: a.wsMessages - b.wsMessages, rowsRead: a.rowsRead - b.rowsRead,
    rowsWritten: a.rowsWritten - b.rowsWritten, alarmWrites: a.alarmWrites - b.alarmWrites, statements: a.statements - b.statements,
    calls: Object.fromEntries(Object.entries(calls).filter(([, v]) => v !== 0)),
  };
}

function record(id: string, messages: number, counts: CostCounts, error?: string): void {
  results.push({ id, messages, counts, ...(error ? { error } : {}) });
  emit({ event: "log", message: `${id}: ${(counts.rowsWritten / messages).toFixed(2)} rows written/msg, ${counts.requests} requests${error ? ` (${error})` : ""}` });
}

/** Waits until `untilFn` holds, at most `ms`; returns whether it did. */
async function until(untilFn: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await untilFn()) return true;
    await sleep(50);
  }
  return false;
}

const name = (s: string) => `${args.prefix}-${s}`;
type Received = { messages: { receipt: string }[] };

try {
  // ---- publish: 1, 100 and 1,000 messages per request ----
  const topic = name("pub");
  await must(args, "PUT", `/v1/topics/${topic}`, { partitions: 1 });
  await must(args, "POST", `/v1/topics/${topic}/messages`, batch(1));
  const publishCost: Record<number, CostCounts> = {};
  for (const [n, reps] of [[1, 20], [100, 5], [1000, 2]] as const) {
    publishCost[n] = await metered(async () => {
      for (let i = 0; i < reps; i++) await must(args, "POST", `/v1/topics/${topic}/messages`, batch(n));
    });
    record(`publish-${n}`, n * reps, publishCost[n]!);
  }

  // ---- queue: send 1 and 100, receive 100, ack 100, nack 100 ----
  const q = name("q");
  await must(args, "PUT", `/v1/queues/${q}`, {});
  record("send-1", 20, await metered(async () => {
    for (let i = 0; i < 20; i++) await must(args, "POST", `/v1/queues/${q}/messages`, batch(1));
  }));
  await must(args, "POST", `/v1/queues/${q}/purge`);
  record("send-100", 500, await metered(async () => {
    for (let i = 0; i < 5; i++) await must(args, "POST", `/v1/queues/${q}/messages`, batch(100));
  }));
  const leases: string[][] = [];
  record("receive-100", 500, await metered(async () => {
    for (let i = 0; i < 5; i++) leases.push((await must<Received>(args, "POST", `/v1/queues/${q}/receive`, { max: 100 })).messages.map((m) => m.receipt));
  }));
  record("ack-100", 400, await metered(async () => {
    for (const receipts of leases.slice(0, 4)) await must(args, "POST", `/v1/queues/${q}/ack`, { receipts });
  }));
  record("nack-100", 100, await metered(async () => {
    await must(args, "POST", `/v1/queues/${q}/nack`, { receipts: leases[4] });
  }));

  // ---- consumer group: poll 100, ack 100 ----
  const gt = name("grp");
  await must(args, "PUT", `/v1/topics/${gt}`, { partitions: 1 });
  await must(args, "POST", `/v1/topics/${gt}/messages`, batch(1000));
  const first = await must<Received>(args, "POST", `/v1/topics/${gt}/groups/g/poll`, { max: 1 });
  await must(args, "POST", `/v1/topics/${gt}/groups/g/ack`, { receipts: first.messages.map((m) => m.receipt) });
  const groupLeases: string[][] = [];
  record("group-poll-100", 500, await metered(async () => {
    for (let i = 0; i < 5; i++) groupLeases.push((await must<Received>(args, "POST", `/v1/topics/${gt}/groups/g/poll`, { max: 100 })).messages.map((m) => m.receipt));
  }));
  record("group-ack-100", 500, await metered(async () => {
    for (const receipts of groupLeases) await must(args, "POST", `/v1/topics/${gt}/groups/g/ack`, { receipts });
  }));

  // ---- what runs by itself after a publish of 100: forwarding into a queue, a webhook ----
  for (const [id, target] of [
    ["forward-queue", { queue: name("fwd-target") }],
    ["webhook", { url: `${args.url}/bench/sink` }],
  ] as const) {
    const t = name(id);
    await must(args, "PUT", `/v1/topics/${t}`, { partitions: 1 });
    await must(args, "PUT", `/v1/topics/${t}/subscriptions/s`, target);
    await must(args, "POST", `/v1/topics/${t}/messages`, batch(1));
    const lagZero = async () => (await must<{ lag: number }>(args, "GET", `/v1/topics/${t}/subscriptions/s`)).lag === 0;
    await until(lagZero);
    const total = await metered(async () => {
      await must(args, "POST", `/v1/topics/${t}/messages`, batch(100));
      await sleep(1500); // the partition's alarm forwards within milliseconds
    });
    const done = await lagZero();
    record(id, 100, minus(total, scale(publishCost[100]!, 1 / 5)), done ? undefined : "not all forwarded within 1.5 s");
  }

  // ---- live delivery: 20 single publishes to a partition with one WebSocket subscriber ----
  const lt = name("live");
  await must(args, "PUT", `/v1/topics/${lt}`, { partitions: 1 });
  await must(args, "POST", `/v1/topics/${lt}/messages`, batch(1));
  const subs = await openSubscribers(
    wsUrl(args.url, `/v1/topics/${lt}/subscribe?partition=0&from=latest`), { authorization: `Bearer ${args.adminKey}` }, 1, () => {},
  );
  const stopConfirming = confirmProgress(subs); // acks as the SDK sends them, every 50 ms
  const total = await metered(async () => {
    for (let i = 0; i < 20; i++) {
      await must(args, "POST", `/v1/topics/${lt}/messages`, batch(1));
      await sleep(10);
    }
    await until(async () => subs[0]!.frames >= 20, 5000);
    await sleep(120); // the last ack
  });
  stopConfirming();
  const delivered = subs[0]!.frames;
  await closeSubscribers(subs);
  const alone = publishCost[1]!;
  record("live-delivery", 20, minus(total, alone), delivered >= 20 ? undefined : `${delivered} of 20 delivered`);
} catch (err) {
  emit({ event: "log", message: `cost: ${(err as Error).message}` });
} finally {
  await must(args, "POST", "/bench/meter/uninstall").catch(() => undefined);
}

finish(results);
