/**
 * The topic log's tables and every statement on them. Tables are prefixed `log_` because
 * the partition's other modules share the database. One method per step the log takes:
 * create and reconfigure the partition, write one group commit, read, and the alarm's
 * passes (retention by time and bytes, dedup expiry, compaction), each of which deletes one
 * bounded chunk from an index or the head of the log and reports what it freed, so the
 * caller keeps its counters without ever counting rows.
 */
import { boundJsonArrays, migrate } from "../../shared/sql";
import type { ConfigStamp } from "../config";
import type { TopicConfig } from "../../../protocol/topics";
import type { LogEntry } from "../types";

/** Numbered and additive: never edit one, append a new one. */
export const LOG_MIGRATIONS: readonly string[] = [
  // One row: which topic and partition this object is, the config copy it was given and
  // the counters every append updates (so nothing ever counts rows).
  `CREATE TABLE log_meta (
     id INTEGER PRIMARY KEY CHECK (id = 0),
     topic TEXT NOT NULL,
     partition INTEGER NOT NULL,
     incarnation TEXT NOT NULL,
     version INTEGER NOT NULL,
     config TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     next_offset INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     last_ts INTEGER NOT NULL,
     compact_due INTEGER
   )`,
  // `offset` is the rowid: reads by offset and "lowest kept offset" are b-tree seeks.
  `CREATE TABLE log_entries (
     offset INTEGER PRIMARY KEY,
     id TEXT NOT NULL,
     key TEXT,
     body TEXT NOT NULL,
     headers TEXT,
     ts INTEGER NOT NULL,
     size INTEGER NOT NULL
   )`,
  `CREATE INDEX log_entries_ts ON log_entries (ts)`,
  `CREATE INDEX log_entries_key ON log_entries (key, offset) WHERE key IS NOT NULL`,
  `CREATE TABLE log_dedup (id TEXT PRIMARY KEY, offset INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID`,
  `CREATE INDEX log_dedup_expiry ON log_dedup (expires_at)`,
  // Keys written since the last compaction pass (only on compacted topics).
  `CREATE TABLE log_compact (key TEXT PRIMARY KEY) WITHOUT ROWID`,
  // How many dedup records are kept, so a commit checks their bound without counting rows.
  `CREATE TABLE log_dedup_count (id INTEGER PRIMARY KEY CHECK (id = 0), n INTEGER NOT NULL)`,
  `INSERT INTO log_dedup_count (id, n) SELECT 0, count(*) FROM log_dedup`,
];

/** The partition's counters and config, as kept in memory and in `log_meta`. */
export interface LogState {
  topic: string;
  partition: number;
  stamp: ConfigStamp;
  config: TopicConfig;
  createdAt: number;
  next: number;
  bytes: number;
  lastTs: number;
  compactDue: number | null;
}

/** What one alarm pass removed. */
export interface Freed {
  rows: number;
  bytes: number;
}

/** What one group commit writes (decided by `prepareAppends` in commit.ts). */
export interface AppendBatch {
  /** `[id, key, body, headers, size]` per new message; offsets are contiguous from `firstOffset`. */
  rows: unknown[][];
  firstOffset: number;
  ts: number;
  /** `[id, offset]` of producer-chosen ids to remember for the dedup window. */
  dedup: Array<[string, number]>;
  compactKeys: string[];
  /** The partition's state after the commit. */
  state: LogState;
}

interface MetaRow extends Record<string, SqlStorageValue> {
  topic: string;
  partition: number;
  incarnation: string;
  version: number;
  config: string;
  created_at: number;
  next_offset: number;
  bytes: number;
  last_ts: number;
  compact_due: number | null;
}

interface EntryRow extends Record<string, SqlStorageValue> {
  offset: number;
  id: string;
  key: string | null;
  body: string;
  headers: string | null;
  ts: number;
}

/** Rows one pass deletes; the alarm repeats passes up to its own budget. */
const CHUNK_ROWS = 10_000;
/** Keys one compaction pass looks at. */
const COMPACT_KEYS = 1000;

export class LogStore {
  constructor(private readonly sql: SqlStorage) {}

  /** Applies the log's migrations; returns the stored state (null: no topic here yet). */
  migrate(): LogState | null {
    migrate(this.sql, LOG_MIGRATIONS, "topic-log");
    const row = this.sql.exec<MetaRow>("SELECT * FROM log_meta WHERE id = 0").toArray()[0];
    return row ? toState(row) : null;
  }

  // ---- the partition's config copy and counters ----

  /** The partition starts an empty log with `s`'s topic, stamp and config. */
  create(s: LogState): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO log_meta (id, topic, partition, incarnation, version, config, created_at, next_offset, bytes, last_ts, compact_due)
       VALUES (0, ?, ?, ?, ?, ?, ?, 0, 0, 0, NULL)`,
      s.topic, s.partition, s.stamp.incarnation, s.stamp.version, JSON.stringify(s.config), s.createdAt,
    );
  }

  /**
   * A newer config version of the same topic. `compactStored` (compaction was just turned
   * on) marks every key already stored, so the next compaction pass covers old messages too.
   */
  reconfigure(version: number, config: TopicConfig, compactDue: number | null, compactStored: boolean): void {
    if (compactStored) {
      this.sql.exec("INSERT OR IGNORE INTO log_compact (key) SELECT DISTINCT key FROM log_entries WHERE key IS NOT NULL");
    }
    this.sql.exec("UPDATE log_meta SET version = ?, config = ?, compact_due = ? WHERE id = 0", version, JSON.stringify(config), compactDue);
  }

  /** Stores the byte counter after an alarm pass (and when compaction is next due, if given). */
  saveCounters(bytes: number, compactDue?: number | null): void {
    if (compactDue === undefined) this.sql.exec("UPDATE log_meta SET bytes = ? WHERE id = 0", bytes);
    else this.sql.exec("UPDATE log_meta SET bytes = ?, compact_due = ? WHERE id = 0", bytes, compactDue);
  }

  // ---- the write path (group commit, see commit.ts) ----

  /** Offsets of the ids among `ids` seen within their dedup window (one indexed lookup). */
  knownIds(ids: string[], now: number): Map<string, number> {
    const found = new Map<string, number>();
    if (ids.length === 0) return found;
    const rows = this.sql.exec<{ id: string; offset: number }>(
      "SELECT id, offset FROM log_dedup WHERE id IN (SELECT value FROM json_each(?)) AND expires_at > ?",
      JSON.stringify(ids), now,
    );
    for (const r of rows) found.set(r.id, r.offset);
    return found;
  }

  /** Writes one commit; call inside its transaction. Set-based: a handful of statements per commit. */
  append(p: AppendBatch, now: number): void {
    // One statement per bound array (usually one for the whole commit): offsets are
    // contiguous and the timestamp shared.
    for (const [start, rows] of boundJsonArrays(p.rows)) {
      this.sql.exec(
        `INSERT INTO log_entries (offset, id, key, body, headers, ts, size)
         SELECT ?1 + key, value ->> 0, value ->> 1, value ->> 2, value ->> 3, ?2, value ->> 4
         FROM json_each(?3)`,
        p.firstOffset + start, p.ts, rows,
      );
    }
    if (p.dedup.length > 0) {
      const expires = now + p.state.config.deduplicationWindow * 1000;
      const ids = JSON.stringify(p.dedup);
      // Records of these ids whose window ended but the alarm has not deleted are replaced, not added.
      const replaced = this.sql.exec<{ n: number }>(
        "SELECT count(*) AS n FROM log_dedup WHERE id IN (SELECT value ->> 0 FROM json_each(?))", ids,
      ).one().n;
      this.#countDedup(p.dedup.length - replaced);
      this.sql.exec(
        `INSERT OR REPLACE INTO log_dedup (id, offset, expires_at)
         SELECT value ->> 0, value ->> 1, ? FROM json_each(?)`,
        expires, ids,
      );
    }
    if (p.compactKeys.length > 0) {
      this.sql.exec("INSERT OR IGNORE INTO log_compact (key) SELECT value FROM json_each(?)", JSON.stringify(p.compactKeys));
    }
    const s = p.state;
    this.sql.exec(
      "UPDATE log_meta SET next_offset = ?, bytes = ?, last_ts = ?, compact_due = ? WHERE id = 0",
      s.next, s.bytes, s.lastTs, s.compactDue,
    );
  }

  // ---- reads ----

  /** The lowest kept offset, or null when the log holds nothing. */
  firstOffset(): number | null {
    return this.sql.exec<{ offset: number }>("SELECT offset FROM log_entries ORDER BY offset LIMIT 1").toArray()[0]?.offset ?? null;
  }

  /** Up to `limit` entries from offset `from` on, ascending, as partition `partition`'s messages. */
  read(from: number, limit: number, partition: number): LogEntry[] {
    return this.sql
      .exec<EntryRow>("SELECT offset, id, key, body, headers, ts FROM log_entries WHERE offset >= ? ORDER BY offset LIMIT ?", from, limit)
      .toArray()
      .map((r) => ({
        partition, offset: r.offset, id: r.id, key: r.key, body: JSON.parse(r.body) as unknown,
        headers: r.headers ? (JSON.parse(r.headers) as Record<string, string>) : {}, timestamp: r.ts,
      }));
  }

  /** The first offset stored at or after `timestamp`, or null. */
  offsetAtTime(timestamp: number): number | null {
    return this.sql
      .exec<{ offset: number }>("SELECT offset FROM log_entries WHERE ts >= ? ORDER BY ts LIMIT 1", timestamp)
      .toArray()[0]?.offset ?? null;
  }

  /** When the oldest kept message was written, or null. */
  headTimestamp(): number | null {
    return this.sql.exec<{ ts: number }>("SELECT ts FROM log_entries ORDER BY offset LIMIT 1").toArray()[0]?.ts ?? null;
  }

  /** When the first dedup record expires, or null. */
  earliestDedupExpiry(): number | null {
    return this.sql.exec<{ e: number | null }>("SELECT MIN(expires_at) AS e FROM log_dedup").one().e;
  }

  /** How many dedup records are kept, from the counter (no scan): what the bound on them checks. */
  dedupCount(): number {
    return this.sql.exec<{ n: number }>("SELECT n FROM log_dedup_count WHERE id = 0").toArray()[0]?.n ?? 0;
  }

  #countDedup(by: number): void {
    if (by !== 0) this.sql.exec("INSERT INTO log_dedup_count (id, n) VALUES (0, ?) ON CONFLICT (id) DO UPDATE SET n = n + excluded.n", by);
  }

  /** How many dedup records are kept, counted (bounded by the dedup window; tests check they expire). */
  dedupRecords(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM log_dedup").one().n;
  }

  // ---- the alarm's passes (see maintenance.ts) ----

  /** Removes messages written before `cutoff` (one chunk); `next` is the partition's next offset. */
  expireBefore(cutoff: number, next: number): Freed {
    const keep = this.offsetAtTime(cutoff);
    return this.deleteHead(keep ?? next, CHUNK_ROWS);
  }

  /** Removes the shortest head of the log whose sizes add up to `excess` bytes (one chunk). */
  trimBytes(excess: number, next: number): Freed {
    const r = this.sql
      .exec<{ offset: number }>(
        `SELECT offset FROM (
           SELECT offset, SUM(size) OVER (ORDER BY offset) AS running
           FROM (SELECT offset, size FROM log_entries ORDER BY offset LIMIT ?)
         ) WHERE running >= ? ORDER BY offset LIMIT 1`,
        CHUNK_ROWS, excess,
      )
      .toArray()[0];
    return this.deleteHead(r ? r.offset + 1 : next, CHUNK_ROWS);
  }

  /** Forgets dedup records whose window has passed (one chunk); returns how many. */
  expireDedup(now: number): number {
    const n = this.sql.exec(
      "DELETE FROM log_dedup WHERE id IN (SELECT id FROM log_dedup WHERE expires_at <= ? LIMIT ?) RETURNING id",
      now, CHUNK_ROWS,
    ).toArray().length;
    this.#countDedup(-n);
    return n;
  }

  /**
   * For keys written since the last pass, deletes every message but the newest (one chunk
   * of keys). Offsets stay as they are; the superseded ones simply disappear.
   * Returns the freed rows and bytes, and whether keys remain.
   */
  compactKeys(): Freed & { more: boolean } {
    const keys = this.sql
      .exec<{ key: string }>("SELECT key FROM log_compact LIMIT ?", COMPACT_KEYS)
      .toArray()
      .map((r) => r.key);
    let rows = 0;
    let bytes = 0;
    for (const key of keys) {
      for (const r of this.sql.exec<{ size: number }>(
        `DELETE FROM log_entries
         WHERE key = ?1 AND offset < (SELECT MAX(offset) FROM log_entries WHERE key = ?1)
         RETURNING size`,
        key,
      )) {
        rows++;
        bytes += r.size;
      }
    }
    if (keys.length > 0) this.sql.exec("DELETE FROM log_compact WHERE key IN (SELECT value FROM json_each(?))", JSON.stringify(keys));
    const more = this.sql.exec("SELECT 1 FROM log_compact LIMIT 1").toArray().length > 0;
    return { rows, bytes, more };
  }

  /** Deletes up to `max` rows from the head of the log with offset < `before`. */
  private deleteHead(before: number, max: number): Freed {
    const r = this.sql
      .exec<{ n: number; bytes: number | null; last: number | null }>(
        `SELECT COUNT(*) AS n, SUM(size) AS bytes, MAX(offset) AS last
         FROM (SELECT offset, size FROM log_entries WHERE offset < ? ORDER BY offset LIMIT ?)`,
        before, max,
      )
      .one();
    if (r.n === 0 || r.last === null) return { rows: 0, bytes: 0 };
    this.sql.exec("DELETE FROM log_entries WHERE offset <= ?", r.last);
    return { rows: r.n, bytes: r.bytes ?? 0 };
  }
}

function toState(row: MetaRow): LogState {
  return {
    topic: row.topic, partition: row.partition, stamp: { incarnation: row.incarnation, version: row.version },
    config: JSON.parse(row.config) as TopicConfig, createdAt: row.created_at, next: row.next_offset, bytes: row.bytes,
    lastTs: row.last_ts, compactDue: row.compact_due,
  };
}
