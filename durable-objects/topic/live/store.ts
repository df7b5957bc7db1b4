/**
 * The live module's tables: the deadlines of its sockets, kept in SQLite (not in fields) so
 * they survive hibernation and reach the object's one alarm. A socket has at most one row
 * per kind, keyed by its id (also a socket tag):
 *   - `live_expiry`: its credential expires (the alarm closes it with 4001);
 *   - `live_slow`: it is paused with a full window and is closed with 4000 unless an ack
 *     frees the window first (see socket.ts).
 * Everything else about a socket lives in its attachment. A row can outlive its socket (a
 * socket dropped by a restart gets no close event), so the live module drops rows whose
 * socket is gone (`sockets`, `closed`) before it hands a deadline to the alarm, and when
 * its object starts (hub.ts `reconcile`, from the constructor), so no alarm stays armed
 * for them.
 */
import { migrate } from "../../shared/sql";

/** Numbered and additive: never edit one, append a new one. */
const MIGRATIONS: readonly string[] = [
  // Sockets whose credential expires: the alarm closes them (CloseCodes.EXPIRED).
  `CREATE TABLE live_expiry (socket TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID`,
  `CREATE INDEX live_expiry_at ON live_expiry (at)`,
  // Paused sockets (window full) and when they are closed unless an ack frees the window.
  `CREATE TABLE live_slow (socket TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID`,
];

export class LiveStore {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    migrate(this.sql, MIGRATIONS, "live");
  }

  /** The earliest socket deadline of either kind, or null. */
  nextDeadline(): number | null {
    return this.sql.exec<{ at: number | null }>(
      "SELECT MIN(at) AS at FROM (SELECT at FROM live_expiry UNION ALL SELECT at FROM live_slow)",
    ).one().at;
  }

  /** Every socket that has a deadline of either kind. */
  sockets(): string[] {
    return this.sql.exec<{ socket: string }>("SELECT socket FROM live_expiry UNION SELECT socket FROM live_slow").toArray().map((r) => r.socket);
  }

  /** The socket's credential expires at `at` (a swapped credential replaces the old expiry). */
  expiresAt(socket: string, at: number): void {
    this.sql.exec("INSERT OR REPLACE INTO live_expiry (socket, at) VALUES (?, ?)", socket, at);
  }

  /** The socket paused; it is closed at `at` unless `resumed` comes first. */
  paused(socket: string, at: number): void {
    this.sql.exec("INSERT OR REPLACE INTO live_slow (socket, at) VALUES (?, ?)", socket, at);
  }

  /** An ack freed the socket's window: no slow-close deadline any more. */
  resumed(socket: string): void {
    this.sql.exec("DELETE FROM live_slow WHERE socket = ?", socket);
  }

  /** Takes (and forgets) the sockets whose credential expired by `now`. */
  takeExpired(now: number): string[] {
    return this.take("live_expiry", now);
  }

  /** Takes (and forgets) the sockets whose pause outlasted the grace period by `now`. */
  takeStalled(now: number): string[] {
    return this.take("live_slow", now);
  }

  /** The socket closed: forget its deadlines. */
  closed(socket: string): void {
    this.sql.exec("DELETE FROM live_expiry WHERE socket = ?", socket);
    this.sql.exec("DELETE FROM live_slow WHERE socket = ?", socket);
  }

  /** Every socket was closed (the topic was deleted). */
  clear(): void {
    this.sql.exec("DELETE FROM live_expiry");
    this.sql.exec("DELETE FROM live_slow");
  }

  private take(table: "live_expiry" | "live_slow", now: number): string[] {
    return this.sql.exec<{ socket: string }>(`DELETE FROM ${table} WHERE at <= ? RETURNING socket`, now).toArray().map((r) => r.socket);
  }
}
