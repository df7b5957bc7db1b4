/**
 * The partition's table of its relays (module "relays"): which relay objects serve its
 * live subscribers, so a partition woken after eviction still feeds them, and when a relay
 * that could not be reached is tried again (the alarm). A relay registers itself when its
 * first subscriber arrives and unregisters when its last one leaves.
 */
import { migrate } from "../../shared/sql";

/** Numbered and additive: never edit one, append a new one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE live_relays (
     name TEXT PRIMARY KEY,
     retry_at INTEGER,
     failures INTEGER NOT NULL DEFAULT 0
   ) WITHOUT ROWID`,
];

export class RelayStore {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    migrate(this.sql, MIGRATIONS, "relays");
  }

  names(): string[] {
    return this.sql.exec<{ name: string }>("SELECT name FROM live_relays ORDER BY name").toArray().map((r) => r.name);
  }

  /** Registers a relay (again: a relay that registers is reachable, so its retry state goes). */
  register(name: string): void {
    this.sql.exec("INSERT OR REPLACE INTO live_relays (name, retry_at, failures) VALUES (?, NULL, 0)", name);
  }

  unregister(name: string): void {
    this.sql.exec("DELETE FROM live_relays WHERE name = ?", name);
  }

  /** A delivery to the relay failed for the `failures`-th time in a row: try again at `at`. */
  failed(name: string, at: number, failures: number): void {
    this.sql.exec("UPDATE live_relays SET retry_at = ?, failures = ? WHERE name = ?", at, failures, name);
  }

  /** A delivery went through: no retry pending. */
  reached(name: string): void {
    this.sql.exec("UPDATE live_relays SET retry_at = NULL, failures = 0 WHERE name = ? AND retry_at IS NOT NULL", name);
  }

  failures(name: string): number {
    return this.sql.exec<{ failures: number }>("SELECT failures FROM live_relays WHERE name = ?", name).toArray()[0]?.failures ?? 0;
  }

  /** The earliest pending retry, or null. */
  nextRetry(): number | null {
    return this.sql.exec<{ at: number | null }>("SELECT MIN(retry_at) AS at FROM live_relays").one().at;
  }

  /** Relays whose retry is due by `now` (their retry time is cleared; a new failure sets it again). */
  takeDue(now: number): string[] {
    return this.sql.exec<{ name: string }>("UPDATE live_relays SET retry_at = NULL WHERE retry_at <= ? RETURNING name", now)
      .toArray().map((r) => r.name);
  }
}
