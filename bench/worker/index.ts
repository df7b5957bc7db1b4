/**
 * The bench Worker: Spool's Worker and Durable Objects unchanged, plus `/bench/...` baseline
 * routes that do the bare work of each scenario (see baseline.ts), the partyserver peer
 * (party.ts, under `/parties/party/{room}`) and the cost meter (meter.ts). Run only by the
 * bench (bench/wrangler.bench.toml or the Miniflare harness in bench/server.ts).
 *
 *   GET  /bench/noop                    empty answer: the HTTP ceiling of this machine
 *   POST /bench/{name}/insert-one       the raw body, one INSERT via one RPC
 *   POST /bench/{name}/insert-rows      {messages:[...]} -> the same rows in one transaction
 *   GET  /bench/{name}/subscribe        WebSocket onto the bare fan-out object
 *   POST /bench/{name}/publish          {messages:[...]} -> one frame each, sent to every socket
 *   GET  /bench/{name}/sockets          how many sockets the object holds
 *   POST /bench/{name}/queue-send       {messages:[...]} -> bare queue INSERTs (queue-cycle baseline)
 *   POST /bench/{name}/queue-receive    {max} -> bare SELECT + lease UPDATEs
 *   POST /bench/{name}/queue-ack        {receipts} -> bare DELETEs
 *   POST /bench/meter/start             count what Spool's objects are billed for, from now
 *   POST /bench/meter/stop              -> the counts since start (CostCounts)
 *   POST /bench/meter/uninstall         restore the objects' methods (nothing counted after)
 *   POST /bench/sink                    204: a webhook endpoint for the cost scenario
 */
import { routePartykitRequest } from "partyserver";
import app, { Catalog, QueueObject, TopicPartition } from "../../worker/index";
import type { BenchEnv } from "./env";
import type { BenchMessage } from "./baseline";
import { CostMeter } from "./meter";

export { QueueObject, TopicPartition, Catalog } from "../../worker/index";
export { BenchBaseline } from "./baseline";
export { BenchParty } from "./party";

const json = (value: unknown, status = 200): Response =>
  new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });

async function messagesOf(request: Request): Promise<BenchMessage[]> {
  const parsed = (await request.json()) as { messages?: BenchMessage[] } & BenchMessage;
  return Array.isArray(parsed.messages) ? parsed.messages : [parsed];
}

/**
 * One meter for the isolate (locally every object of this Worker runs in it). Installed on
 * the first `start` only, so the throughput scenarios run Spool's methods untouched.
 */
const meter = new CostMeter();

async function meterRoute(action: string): Promise<Response> {
  switch (action) {
    case "start":
      meter.install({ QueueObject, TopicPartition, Catalog });
      meter.start();
      return json({ ok: true });
    case "stop":
      return json(meter.stop());
    case "uninstall":
      meter.uninstall();
      return json({ ok: true });
    default:
      return json({ error: "no such meter route" }, 404);
  }
}

async function bench(request: Request, path: string, env: BenchEnv): Promise<Response> {
  if (path === "/bench/noop") return json({});
  if (path === "/bench/sink") {
    await request.arrayBuffer();
    return new Response(null, { status: 204 });
  }
  const m = /^\/bench\/([A-Za-z0-9._-]{1,128})\/([a-z-]+)$/.exec(path);
  if (!m) return json({ error: "no such bench route" }, 404);
  if (m[1] === "meter" && request.method === "POST") return meterRoute(m[2]!);
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
    case "POST queue-send": {
      const bodies = (await messagesOf(request)).map((x) => JSON.stringify(x.body ?? null));
      return json({ sent: await stub.queueSend(bodies) }, 201);
    }
    case "POST queue-receive": {
      const { max } = (await request.json()) as { max?: number };
      return new Response(await stub.queueReceive(max ?? 1), { headers: { "content-type": "application/json" } });
    }
    case "POST queue-ack": {
      const { receipts } = (await request.json()) as { receipts: string[] };
      return json(await stub.queueAck(receipts));
    }
    default:
      return json({ error: "no such bench route" }, 404);
  }
}

export default {
  async fetch(request, env, ctx): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path.startsWith("/bench/")) return bench(request, path, env);
    if (path.startsWith("/parties/")) return (await routePartykitRequest(request, env)) ?? json({ error: "no such party" }, 404);
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<BenchEnv>;
