// The order pipeline: publishes ORDERS orders to a 4-partition topic, runs WORKERS worker
// processes in the consumer group "fulfilment", restarts any that crash, and when every
// order is paid prints what happened as one JSON line:
//   {"orders":200,"payments":200,"ordersCharged":200,"repeatsCaughtByProvider":3,"crashes":9,...}
// Run it against a broker: SPOOL_URL=http://127.0.0.1:8787 SPOOL_KEY=<admin key> npm start
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Spool } from "spool/client";
import { openLedger, summary } from "./ledger.mjs";

const env = process.env;
const ORDERS = Number(env.ORDERS ?? 200);
const WORKERS = Number(env.WORKERS ?? 3);
const CRASH_EVERY = env.CRASH_EVERY ?? "25";
const TOPIC = env.TOPIC ?? `orders-${Date.now().toString(36)}`;
const LEDGER = env.LEDGER ?? join(mkdtempSync(join(tmpdir(), "spool-orders-")), "ledger.db");
const deadline = Date.now() + Number(env.TIMEOUT_MS ?? 120_000);

const spool = new Spool({ url: env.SPOOL_URL, token: env.SPOOL_KEY });
const topic = spool.topic(TOPIC);
await topic.configure({ partitions: 4 });
await topic.group("fulfilment").configure({ visibilityTimeout: 5 });
const ledger = openLedger(LEDGER);

let crashes = 0;
let stopping = false;
const workers = new Set();
function startWorker(n) {
  const child = spawn(process.execPath, [new URL("./worker.mjs", import.meta.url).pathname], {
    env: { ...env, TOPIC, LEDGER, CRASH_EVERY, WORKER: `w${n}` },
    stdio: ["ignore", "inherit", "inherit"],
  });
  workers.add(child);
  child.once("exit", (code) => {
    workers.delete(child);
    if (stopping) return;
    if (code !== 0) crashes++;
    startWorker(n); // a supervisor's job: bring it back
  });
}
for (let n = 1; n <= WORKERS; n++) startWorker(n);

const orders = Array.from({ length: ORDERS }, (_, i) => ({ id: i + 1, total: 10 + (i % 90) }));
for (let i = 0; i < orders.length; i += 50) {
  await topic.publish(orders.slice(i, i + 50).map((o) => ({ body: o, key: `customer-${o.id % 17}` })));
}

// Done when every order is paid and the group has acked everything (a crashed worker's
// messages come back to the others when their leases end).
const lagOf = async () => (await topic.group("fulfilment").info()).partitions.reduce((sum, p) => sum + p.lag, 0);
while (Date.now() < deadline && (summary(ledger).ordersCharged < ORDERS || (await lagOf()) > 0)) await new Promise((r) => setTimeout(r, 250));
stopping = true;
await Promise.all([...workers].map((w) => new Promise((r) => { w.once("exit", r); w.kill("SIGTERM"); })));
const lag = await lagOf();
console.log(JSON.stringify({ orders: ORDERS, ...summary(ledger), crashes, lag, topic: TOPIC }));
ledger.close();
await spool.close();
