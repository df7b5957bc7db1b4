/**
 * examples/worker-app, run as its user runs it: the app is copied into a scratch project
 * with the packed package installed (client-package.ts) and the tools its own package.json
 * names linked in, and its own tests run (`vitest run`): a Worker bound to Spool through
 * SpoolEntrypoint sends, consumes through the Cloudflare Queues adapter, subscribes live,
 * and a test that needs a 30 s lease to expire runs in well under a second (spool/testing).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { installInto, packRepository, ROOT, sh } from "./client-package";

let tarball = "";
beforeAll(async () => {
  tarball = await packRepository();
}, 120_000);

describe("example worker-app", () => {
  it("example worker-app - its own tests pass against spool/testing from the installed package", async () => {
    const app = await installInto(tarball, { from: join(ROOT, "examples", "worker-app"), tools: ["vitest", "miniflare", "esbuild"] });
    const out = await sh(process.execPath, [join(app, "node_modules", "vitest", "vitest.mjs"), "run", "--reporter=verbose"], app);
    console.log(out.split("\n").filter((l) => /✓|×|lease expired|Tests/.test(l)).join("\n"));
    expect(out).toMatch(/Tests\s+4 passed/);
    expect(out).not.toMatch(/failed/);
  }, 300_000);

  it("types - a strict Worker project takes the adapters as Cloudflare's types, and a strict Node project spool/testing", async () => {
    const project = await installInto(tarball, { tools: ["typescript", "@types/node", "@cloudflare/workers-types"] });
    const tsc = join(project, "node_modules", "typescript", "bin", "tsc");
    const strict = { strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, noEmit: true, target: "ES2022" };
    const worker = join(project, "worker");
    mkdirSync(worker);
    writeFileSync(join(worker, "tsconfig.json"), JSON.stringify({ compilerOptions: { ...strict, module: "ESNext", moduleResolution: "Bundler", lib: ["ES2023"], types: ["@cloudflare/workers-types"], skipLibCheck: true }, include: ["*.ts"] }));
    writeFileSync(join(worker, "worker.ts"), WORKER_TYPES);
    await sh(process.execPath, [tsc, "-p", "."], worker);
    const node = join(project, "node");
    mkdirSync(node);
    writeFileSync(join(node, "tsconfig.json"), JSON.stringify({ compilerOptions: { ...strict, module: "NodeNext", moduleResolution: "NodeNext", lib: ["ES2023"], types: ["node"], skipLibCheck: false }, include: ["*.ts"] }));
    writeFileSync(join(node, "kit.ts"), NODE_TYPES);
    await sh(process.execPath, [tsc, "-p", "."], node);
  }, 120_000);
});

/** A Worker moved from Cloudflare Queues: the adapters stand where the Queue binding and the platform were. */
const WORKER_TYPES = `
import { queueBinding, runQueueConsumer, Spool, unwrapResult, NotFoundError, type BindingResult } from "spool/client";
interface Job { task: string }
interface Env { SPOOL: Fetcher }
async function produce(queue: Queue<Job>): Promise<number> {
  const sent = await queue.send({ task: "a" }, { delaySeconds: 5, contentType: "json" });
  await queue.sendBatch([{ body: { task: "b" } }], { delaySeconds: 1 });
  return sent.metadata.metrics.backlogCount;
}
const handler = {
  async fetch(_request: Request, env: Env, _ctx: ExecutionContext): Promise<Response> {
    await using spool = new Spool({ binding: env.SPOOL });
    await produce(queueBinding<Job>(spool, "jobs"));
    const narrowed = spool.withToken("a-token");
    await narrowed.close();
    const answer: BindingResult<{ n: number }> = { ok: true, value: { n: 1 } };
    try { unwrapResult(answer); } catch (e) { if (e instanceof NotFoundError) throw e; }
    return new Response("ok");
  },
  async queue(batch: MessageBatch<Job>, _env: Env, ctx: ExecutionContext): Promise<void> {
    for (const m of batch.messages) (m.body.task === "x" ? m.retry({ delaySeconds: 3 }) : m.ack());
    ctx.waitUntil(Promise.resolve());
  },
  async scheduled(_c: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    const spool = new Spool({ binding: env.SPOOL });
    const consumer = runQueueConsumer(spool.queue<Job>("jobs"), handler, { maxBatchSize: 10, maxBatchTimeout: 5, maxRetries: 3, retryDelay: 0, env, ctx, untilEmpty: true });
    ctx.waitUntil(consumer.closed.then(() => spool.close()));
  },
} satisfies ExportedHandler<Env, Job>;
export default handler;
`;

/** A Node test of the user's, against spool/testing. */
const NODE_TYPES = `
import { startSpool, spoolWorkerOptions, type SpoolTestServer, type SpoolWorkerOptions } from "spool/testing";
export async function run(): Promise<number> {
  await using spool: SpoolTestServer = await startSpool({ persist: undefined, vars: { SPOOL_MAX_QUEUES: "10" }, workers: [{ name: "app" }] });
  const options: SpoolWorkerOptions = await spoolWorkerOptions({ name: "spool" });
  await spool.advanceTime(31_000);
  await spool.settle();
  await spool.reset();
  const token: string = await spool.token({ ttl: 60, capabilities: { "topics/chat": ["subscribe"] } });
  const url: string = await spool.workerUrl("app");
  return (await spool.client.queues()).length + token.length + url.length + Object.keys(options.bindings).length;
}
`;
