// The shop's own database (one SQLite file shared by every worker process): the payments
// the payment provider made, and the idempotency store of `idempotent()`. The payment
// "provider" here is a stub that behaves like a real one with idempotency keys: a repeated
// key is answered with the first payment and charges nothing.
import { DatabaseSync } from "node:sqlite";

export function openLedger(file) {
  const db = new DatabaseSync(file);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA busy_timeout = 5000");
  db.exec(`CREATE TABLE IF NOT EXISTS payments (
    idempotency_key TEXT PRIMARY KEY, order_id INTEGER NOT NULL, amount INTEGER NOT NULL, worker TEXT NOT NULL)`);
  db.exec("CREATE TABLE IF NOT EXISTS repeats (idempotency_key TEXT NOT NULL, worker TEXT NOT NULL)");
  return db;
}

/** Charges an order once per idempotency key, as a payment API does. Returns false for a repeat. */
export function charge(db, { orderId, amount, idempotencyKey, worker }) {
  const r = db.prepare("INSERT INTO payments (idempotency_key, order_id, amount, worker) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
    .run(idempotencyKey, orderId, amount, worker);
  if (r.changes === 0) db.prepare("INSERT INTO repeats (idempotency_key, worker) VALUES (?, ?)").run(idempotencyKey, worker);
  return r.changes === 1;
}

export function summary(db) {
  const one = (sql) => db.prepare(sql).get();
  return {
    payments: one("SELECT count(*) AS n FROM payments").n,
    ordersCharged: one("SELECT count(DISTINCT order_id) AS n FROM payments").n,
    repeatsCaughtByProvider: one("SELECT count(*) AS n FROM repeats").n,
  };
}
