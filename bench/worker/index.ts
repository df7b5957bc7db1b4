/**
 * The bench Worker: Spool's Worker and Durable Objects unchanged, plus `/bench/...` baseline
 * routes that do the bare work of each scenario (see baseline.ts). Run only by the bench
 * (bench/wrangler.bench.toml or the Miniflare harness in bench/server.ts).
 *
 *   GET  /bench/noop                    empty answer: the HTTP ceiling of this machine
 *   POST /bench/{name}/insert-one       the raw body, one INSERT via one RPC
 *   POST /bench/{name}/insert-rows      {messages:[...]} -> the same rows in one transaction
 *   GET  /bench/{name}/subscribe        WebSocket onto the bare fan-out object
 *   POST /bench/{name}/publish          {messages:[...]} -> one frame each, sent to every socket
 *   GET  /bench/{name}/sockets          how many sockets the object holds
 */
import app from "../../worker/index";
import type { BenchEnv } from "./env";
import type { BenchMessage } from "./baseline";

export { QueueObject, TopicPartition, Catalog } from "../../worker/index";
export { BenchBaseline } from "./baseline";

const json = (value: unknown, status = 200): Response =>
  new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });

async function messagesOf(request: Request): Promise<BenchMessage[]> {
  const parsed = (await request.json()) as { messages?: BenchMessage[] } & BenchMessage;
  return Array.isArray(parsed.messages) ? parsed.messages : [parsed];
}

async function bench(request: Request, path: string, env: BenchEnv): Promise<Response> {
  if (path === "/bench/noop") return json({});
  const m = /^\/bench\/([A-Za-z0-9._-]{1,128})\/([a-z-]+)$/.exec(path);
  if (!m) return json({ error: "no such bench route" }, 404);
  const stub = env.BENCH.getByName(m[1]!);
  switch (`${request.method} ${m[2]}`) {
    case "POST insert-one":
      return json({ seq: await stub.insertOne(await request.text()) }, 201);
    case "POST insert-rows":
      return json(await stub.insertRows(await messagesOf(request)), 201);
    case "POST publish":
      return json(await stub.publish(await messagesOf(request)), 201);
    case "GET subscribe":
      return stub.fetch(request);
    case "GET sockets":
      return json({ sockets: await stub.sockets() });
    default:
      return json({ error: "no such bench route" }, 404);
  }
}

export default {
  async fetch(request, env, ctx): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path.startsWith("/bench/")) return bench(request, path, env);
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<BenchEnv>;
