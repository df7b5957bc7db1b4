/**
 * The forwarder's SQLite state in one partition, and every statement on it: a row per
 * subscription with its config, position (next offset to forward), counters, retry state
 * and last error. A row is caught up (`due_at` null: the next append wakes it), due (work
 * to do at `due_at`) or backing off (`attempts` > 0: a retry at `due_at`, see retry.ts).
 * Every position move is a compare-and-set on (incarnation, position), so a forward that
 * was in flight while the subscription was deleted, replaced or already advanced changes nothing.
 */
import { now } from "../../shared/clock";
import { migrate } from "../../shared/sql";
import type { ForwardError, PartitionForwardStatus, PartitionSubscription, PutSubscriptionInput, SubscriptionConfig } from "./types";

/** Numbered and additive: never edit one, append a new one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE forward_subs (
     name TEXT PRIMARY KEY,
     incarnation TEXT NOT NULL,
     partition INTEGER NOT NULL,
     config TEXT NOT NULL,
     secret TEXT,
     created_at INTEGER NOT NULL,
     position INTEGER NOT NULL,
     due_at INTEGER,
     attempts INTEGER NOT NULL DEFAULT 0,
     delivered INTEGER NOT NULL DEFAULT 0,
     failed INTEGER NOT NULL DEFAULT 0,
     skipped INTEGER NOT NULL DEFAULT 0,
     last_error TEXT
   ) WITHOUT ROWID`,
];

/** One subscription row. `dueAt` null means caught up: the next append wakes it. */
export interface SubRow {
  name: string;
  incarnation: string;
  partition: number;
  config: SubscriptionConfig;
  secret: string | null;
  createdAt: number;
  position: number;
  dueAt: number | null;
  attempts: number;
  delivered: number;
  failed: number;
  skipped: number;
  lastError: ForwardError | null;
}

interface RawRow {
  name: string; incarnation: string; partition: number; config: string; secret: string | null;
  created_at: number; position: number; due_at: number | null; attempts: number;
  delivered: number; failed: number; skipped: number; last_error: string | null;
  [key: string]: SqlStorageValue;
}

/** What a successful step adds to a row. */
export interface Advance {
  to: number;
  delivered?: number;
  failed?: number;
  skipped?: number;
  /** When to continue: now (more to do) or null (caught up). */
  dueAt: number | null;
}

export class ForwardStore {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    migrate(this.sql, MIGRATIONS, "forward");
  }

  get(name: string): SubRow | null {
    const r = this.sql.exec<RawRow>("SELECT * FROM forward_subs WHERE name = ?", name).toArray()[0];
    return r ? fromRaw(r) : null;
  }

  /** How many subscriptions this partition has (the quota counts them at the home). */
  count(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM forward_subs").one().n;
  }

  /** Names of subscriptions with work due at or before `at`. */
  due(at: number): string[] {
    return this.sql.exec<{ name: string }>("SELECT name FROM forward_subs WHERE due_at <= ? ORDER BY due_at", at).toArray().map((r) => r.name);
  }

  /** How many subscriptions have work due only after `at` (retries backing off). */
  waiting(at: number): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM forward_subs WHERE due_at > ?", at).one().n;
  }

  earliestDue(): number | null {
    const r = this.sql.exec<{ d: number | null }>("SELECT MIN(due_at) AS d FROM forward_subs").one();
    return r.d;
  }

  /** Marks every caught-up subscription due at `at`; returns how many woke. */
  wakeIdle(at: number): number {
    return this.sql.exec("UPDATE forward_subs SET due_at = ? WHERE due_at IS NULL", at).rowsWritten;
  }

  /** Creates the row at `position`, or updates config (and secret) of an existing one. */
  put(input: PutSubscriptionInput, position: number): SubRow {
    const existing = this.get(input.name);
    const config = JSON.stringify(input.config);
    if (existing) {
      // A config change keeps position and counters; pending retries restart under the new target.
      this.sql.exec(
        `UPDATE forward_subs SET config = ?, secret = ?, attempts = 0,
           due_at = CASE WHEN due_at IS NULL THEN NULL ELSE ? END WHERE name = ?`,
        config, input.secret ?? null, now(), input.name,
      );
    } else {
      this.sql.exec(
        `INSERT INTO forward_subs (name, incarnation, partition, config, secret, created_at, position, due_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        input.name, crypto.randomUUID(), input.partition, config, input.secret ?? null, input.createdAt, position, now(),
      );
    }
    return this.get(input.name)!;
  }

  delete(name: string): boolean {
    return this.sql.exec("DELETE FROM forward_subs WHERE name = ?", name).rowsWritten > 0;
  }

  /** Moves the position if the row is still the one that was read; false if it is not. */
  advance(row: SubRow, a: Advance): boolean {
    return this.sql.exec(
      `UPDATE forward_subs SET position = ?, delivered = delivered + ?, failed = failed + ?, skipped = skipped + ?,
         attempts = 0, due_at = ? WHERE name = ? AND incarnation = ? AND position = ?`,
      a.to, a.delivered ?? 0, a.failed ?? 0, a.skipped ?? 0, a.dueAt, row.name, row.incarnation, row.position,
    ).rowsWritten > 0;
  }

  /** Records a failure at the current position and when to try again. */
  fail(row: SubRow, error: ForwardError, attempts: number, retryAt: number): void {
    this.sql.exec(
      `UPDATE forward_subs SET attempts = ?, due_at = ?, last_error = ?
       WHERE name = ? AND incarnation = ? AND position = ?`,
      attempts, retryAt, JSON.stringify(error), row.name, row.incarnation, row.position,
    );
  }

  /** Notes an error that does not hold the position (offsets lost to retention). */
  note(row: SubRow, error: ForwardError): void {
    this.sql.exec("UPDATE forward_subs SET last_error = ? WHERE name = ? AND incarnation = ?", JSON.stringify(error), row.name, row.incarnation);
  }

  all(): SubRow[] {
    return this.sql.exec<RawRow>("SELECT * FROM forward_subs ORDER BY name").toArray().map(fromRaw);
  }
}

function fromRaw(r: RawRow): SubRow {
  return {
    name: r.name, incarnation: r.incarnation, partition: r.partition,
    config: JSON.parse(r.config) as SubscriptionConfig, secret: r.secret, createdAt: r.created_at,
    position: r.position, dueAt: r.due_at, attempts: r.attempts,
    delivered: r.delivered, failed: r.failed, skipped: r.skipped,
    lastError: r.last_error ? (JSON.parse(r.last_error) as ForwardError) : null,
  };
}

/** The public view of a row (never the secret). */
export function describe(row: SubRow, next: number): PartitionSubscription {
  const status: PartitionForwardStatus = {
    partition: row.partition,
    position: row.position,
    next,
    lag: Math.max(0, next - row.position),
    delivered: row.delivered,
    failed: row.failed,
    skipped: row.skipped,
    attempts: row.attempts,
    retryAt: row.attempts > 0 ? row.dueAt : null,
    lastError: row.lastError,
  };
  return { name: row.name, config: row.config, createdAt: row.createdAt, status };
}
