/**
 * Load generator: the same queue work through the SQS-compatible API and through /v1, one
 * phase after the other on fresh queues. Producers send batches of 10 (SendMessageBatch /
 * POST /messages), consumers receive up to 10 and delete them (ReceiveMessage +
 * DeleteMessageBatch / POST /receive + POST /ack); messages/s counts deletes. The SQS side is
 * the real AWS SDK v3 (SigV4 signing, its MD5 checks on), as users run it.
 */
import {
  CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient,
} from "@aws-sdk/client-sqs";
import { call, endPhase, finish, generatorArgs, must, sampleMessage, sleep, startPhase } from "./common.ts";
import type { GeneratorArgs } from "./protocol.ts";
import { percentile } from "../stats.ts";

type Side = "sqs" | "v1";

interface Args extends GeneratorArgs {
  queue: string;
  producers: number;
  consumers: number;
  backlogCap: number;
  order: Side[];
}

export interface SqsCyclePhase {
  side: Side;
  seconds: number;
  deletedPerSec: number;
  sentPerSec: number;
  errors: number;
  latencyMs: Record<"send" | "receive" | "delete", { p50: number | null; p99: number | null }>;
}

const BATCH = 10;
const args = generatorArgs<Args>();
const sqs = new SQSClient({
  endpoint: args.url,
  region: "us-east-1",
  credentials: { accessKeyId: "admin", secretAccessKey: args.adminKey },
});

interface Ops {
  send(): Promise<boolean>;
  receive(): Promise<string[] | null>;
  remove(receipts: string[]): Promise<number>;
}

const bodies = Array.from({ length: BATCH }, (_, i) => sampleMessage(i).body);

async function sqsOps(name: string): Promise<Ops> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: "60" } }));
  const entries = bodies.map((b, i) => ({ Id: `m${i}`, MessageBody: JSON.stringify(b) }));
  return {
    async send() {
      const r = await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: entries }));
      return (r.Successful?.length ?? 0) === BATCH;
    },
    async receive() {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: BATCH }));
      return (r.Messages ?? []).map((m) => m.ReceiptHandle!);
    },
    async remove(receipts) {
      const r = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: receipts.map((h, i) => ({ Id: `d${i}`, ReceiptHandle: h })) }));
      return r.Successful?.length ?? 0;
    },
  };
}

async function v1Ops(name: string): Promise<Ops> {
  const base = `/v1/queues/${name}`;
  await must(args, "PUT", base, { visibilityTimeout: 60, maxMessages: 200_000 });
  const batch = { messages: bodies.map((body) => ({ body })) };
  return {
    async send() {
      return (await call(args, "POST", `${base}/messages`, batch)).status === 201;
    },
    async receive() {
      const r = await call<{ messages?: { receipt: string }[] }>(args, "POST", `${base}/receive`, { max: BATCH });
      return r.status === 200 ? (r.body.messages ?? []).map((m) => m.receipt) : null;
    },
    async remove(receipts) {
      const r = await call<{ acked: number }>(args, "POST", `${base}/ack`, { receipts });
      return r.status === 200 ? r.body.acked : 0;
    },
  };
}

async function runPhase(side: Side): Promise<SqsCyclePhase> {
  const ops = side === "sqs" ? await sqsOps(`${args.queue}-sqs`) : await v1Ops(`${args.queue}-v1`);
  let sent = 0;
  let deleted = 0;
  let errors = 0;
  let stop = false;
  let measuring = false;
  const lat = { send: [] as number[], receive: [] as number[], delete: [] as number[] };
  const timed = async <T>(kind: keyof typeof lat, f: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    const r = await f();
    if (measuring && lat[kind].length < 100_000) lat[kind].push(performance.now() - t);
    return r;
  };
  const guarded = async <T>(f: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await f();
    } catch {
      errors++;
      await sleep(20);
      return fallback;
    }
  };
  const producer = async (): Promise<void> => {
    while (!stop) {
      if (sent - deleted >= args.backlogCap) {
        await sleep(2);
        continue;
      }
      if (await guarded(() => timed("send", () => ops.send()), false)) sent += BATCH;
      else errors++;
    }
  };
  const consumer = async (): Promise<void> => {
    while (!stop) {
      const receipts = await guarded(() => timed("receive", () => ops.receive()), null);
      if (receipts === null) continue;
      if (receipts.length === 0) {
        await sleep(2);
        continue;
      }
      const n = await guarded(() => timed("delete", () => ops.remove(receipts)), 0);
      deleted += n;
      errors += receipts.length - n;
    }
  };
  const loops = [...Array.from({ length: args.producers }, producer), ...Array.from({ length: args.consumers }, consumer)];
  await sleep(args.warmupSeconds * 1000);
  const [deleted0, sent0, errors0] = [deleted, sent, errors];
  measuring = true;
  // Phase names as the harness knows them: the profiler follows "spool".
  const phase = side === "sqs" ? "spool" : "baseline";
  const elapsed = startPhase(phase);
  await sleep(args.seconds * 1000);
  measuring = false;
  const seconds = elapsed();
  endPhase(phase);
  const result: SqsCyclePhase = {
    side,
    seconds,
    deletedPerSec: (deleted - deleted0) / seconds,
    sentPerSec: (sent - sent0) / seconds,
    errors: errors - errors0,
    latencyMs: {
      send: { p50: percentile(lat.send, 50), p99: percentile(lat.send, 99) },
      receive: { p50: percentile(lat.receive, 50), p99: percentile(lat.receive, 99) },
      delete: { p50: percentile(lat.delete, 50), p99: percentile(lat.delete, 99) },
    },
  };
  stop = true;
  await Promise.race([Promise.all(loops), sleep(35_000)]);
  return result;
}

const results: SqsCyclePhase[] = [];
for (const side of args.order) results.push(await runPhase(side));
finish(results);
