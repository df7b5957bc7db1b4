/**
 * A Worker bound to Spool (wrangler.toml: `SPOOL` → Spool's `SpoolEntrypoint`):
 *   POST /jobs            enqueues a job through `queueBinding` (Cloudflare's `Queue<Body>`)
 *   POST /jobs/run        consumes what is queued with the `queue(batch, env, ctx)` handler
 *                         below, as Cloudflare Queues would call it (also every minute by cron)
 *   POST /jobs/claim      takes a job and never finishes it (a worker that crashed)
 *   GET  /results?n=&from= follows the results topic live and answers the first n results
 * The handler is the one a Cloudflare Queues consumer would have: only how it is fed changed.
 */
import { queueBinding, runQueueConsumer, Spool, type CfMessageBatch, type SpoolBinding } from "spool/client";

export interface Env {
  SPOOL: SpoolBinding;
}

export interface Job {
  task: string;
}

export interface Result {
  task: string;
  attempts: number;
}

/** At most 3 deliveries a job: then it goes to the dead-letter queue "jobs.dlq". */
const CONSUMER = { maxBatchSize: 10, maxBatchTimeout: 0, maxRetries: 2 } as const;

const worker = {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const spool = new Spool({ binding: env.SPOOL });
    const url = new URL(request.url);
    try {
      if (request.method === "POST" && url.pathname === "/jobs") {
        const job = (await request.json()) as Job;
        await queueBinding<Job>(spool, "jobs").send(job);
        return Response.json({ queued: job.task }, { status: 202 });
      }
      if (request.method === "POST" && url.pathname === "/jobs/run") {
        const consumer = runQueueConsumer(spool.queue<Job>("jobs"), worker, { ...CONSUMER, env, ctx, untilEmpty: true });
        const error = await consumer.closed;
        return Response.json({ ...consumer.counts, error: error?.message ?? null });
      }
      if (request.method === "POST" && url.pathname === "/jobs/claim") {
        const [job] = await spool.queue<Job>("jobs").receive();
        return Response.json({ claimed: job?.body.task ?? null });
      }
      if (request.method === "GET" && url.pathname === "/results") {
        const n = Number(url.searchParams.get("n") ?? 1);
        const results: Result[] = [];
        const from = url.searchParams.get("from") === "earliest" ? "earliest" : "latest";
        for await (const m of spool.topic<Result>("results").subscribe({ from })) {
          results.push(m.body);
          if (results.length >= n) break;
        }
        return Response.json(results);
      }
      return new Response("not found", { status: 404 });
    } finally {
      ctx.waitUntil(spool.close());
    }
  },

  /** The Cloudflare Queues consumer: fails "fail" jobs (retried, then dead-lettered), finishes the rest. */
  async queue(batch: CfMessageBatch<Job>, env: Env): Promise<void> {
    const spool = new Spool({ binding: env.SPOOL });
    try {
      for (const message of batch.messages) {
        if (message.body.task === "fail") {
          message.retry();
          continue;
        }
        await spool.topic<Result>("results").publish({ body: { task: message.body.task, attempts: message.attempts } });
        message.ack();
      }
    } finally {
      await spool.close();
    }
  },

  async scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    const spool = new Spool({ binding: env.SPOOL });
    ctx.waitUntil(runQueueConsumer(spool.queue<Job>("jobs"), worker, { ...CONSUMER, env, ctx, untilEmpty: true }).closed.finally(() => spool.close()));
  },
};

export default worker;

// The Workers types this file needs (a project would get them from @cloudflare/workers-types).
interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}
type ScheduledController = unknown;
