// One worker process: a member of the consumer group "fulfilment" of the topic "orders".
// It charges each order through `idempotent()` (reserve, run, commit, in the shared SQLite
// ledger) and hands the payment provider the idempotency key, so that even a crash between
// the charge and the commit cannot charge twice. It crashes on purpose every CRASH_EVERY
// messages — before the charge or right after it — to show that nothing is lost or doubled.
import { idempotent, sqliteStore, Spool } from "spool/client";
import { charge, openLedger } from "./ledger.mjs";

const { SPOOL_URL, SPOOL_KEY, TOPIC = "orders", LEDGER = "ledger.db", CRASH_EVERY = "0", WORKER = String(process.pid) } = process.env;
const crashEvery = Number(CRASH_EVERY);
const db = openLedger(LEDGER);
const spool = new Spool({ url: SPOOL_URL, token: SPOOL_KEY });
let handled = 0;

const fulfil = idempotent(async (m, { idempotencyKey }) => {
  const n = ++handled;
  const crash = crashEvery > 0 && n % crashEvery === 0;
  if (crash && n % (2 * crashEvery) === 0) process.exit(1); // dies before the charge
  charge(db, { orderId: m.body.id, amount: m.body.total, idempotencyKey, worker: WORKER });
  if (crash) process.exit(1); // dies after the charge, before `idempotent` could commit it
}, sqliteStore(db), {
  key: (m) => `order-${m.body.id}`,
  reserveFor: 2, // a crashed run's reservation lapses after 2 s; the group's lease is longer
});

const consumer = spool.topic(TOPIC).group("fulfilment").consume(fulfil, {
  concurrency: 4,
  wait: 1,
  onError: (error) => console.error(`worker ${WORKER}: ${error.message}`),
});

// A clean stop (Ctrl-C, or the pipeline shutting down): finish what runs, hand back the rest.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, async () => {
    await spool.close();
    db.close();
    process.exit(0);
  });
}
const error = await consumer.closed;
if (error) {
  console.error(`worker ${WORKER} stopped: ${error.message}`);
  process.exit(2);
}
