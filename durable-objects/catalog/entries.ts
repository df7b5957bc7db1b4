/**
 * The Catalog's list of queues and topics, and all its SQL. Listing a name is the gate of
 * the queue and topic quotas: `register` refuses a name not listed yet when its kind already
 * has as many entries as the quota allows, and inserts it otherwise, in one transaction, so
 * two creators can never both take the last place. Counts are kept per kind (never counted
 * by scanning), and pages are read in name order from a cursor.
 */
import type { Result } from "../../protocol/errors";
import { quotaExceeded } from "./quotas";

/** Numbered migrations of the Catalog's "main" module (additive only: append, never edit). */
export const ENTRY_MIGRATIONS: readonly string[] = [
  `CREATE TABLE entries (
     kind TEXT NOT NULL,
     name TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     info TEXT NOT NULL DEFAULT '{}',
     PRIMARY KEY (kind, name)
   ) WITHOUT ROWID`,
  `CREATE TABLE entry_counts (kind TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID`,
  `INSERT INTO entry_counts (kind, n) SELECT kind, count(*) FROM entries GROUP BY kind`,
];

export type CatalogKind = "queues" | "topics";

export interface CatalogEntry {
  name: string;
  createdAt: number;
  /** Small per-kind facts the list route shows (a topic's partition count, say). */
  info: Record<string, unknown>;
}

/** One page of a list, in name order; `next` (the cursor of the following page) while more remain. */
export interface CatalogPage {
  entries: CatalogEntry[];
  next?: string;
}

/**
 * How a name is listed: `quota` is the most entries its kind may have (a name already listed
 * is never refused), or null for a name whose object exists already and must be listed
 * whatever the count (a dead-letter queue created by a move: letters are never refused).
 */
export interface RegisterOptions {
  quota: number | null;
}

type Row = { name: string; created_at: number; info: string };

const toEntry = (r: Row): CatalogEntry => ({ name: r.name, createdAt: r.created_at, info: JSON.parse(r.info) as Record<string, unknown> });

export class EntryStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly transaction: <T>(fn: () => T) => T,
  ) {}

  /**
   * Lists `name`, or updates the info of a name already listed (its `createdAt` is kept).
   * Refused with QUOTA_EXCEEDED, writing nothing, when the name is new and its kind is full.
   */
  register(kind: CatalogKind, name: string, createdAt: number, info: Record<string, unknown>, options: RegisterOptions): Result<null> {
    return this.transaction((): Result<null> => {
      const listed = this.sql.exec("SELECT 1 FROM entries WHERE kind = ? AND name = ?", kind, name).toArray().length > 0;
      if (listed) {
        this.sql.exec("UPDATE entries SET info = ? WHERE kind = ? AND name = ?", JSON.stringify(info), kind, name);
        return { ok: true, value: null };
      }
      if (options.quota !== null && this.count(kind) >= options.quota) {
        return { ok: false, error: quotaExceeded(kind, options.quota) };
      }
      this.sql.exec("INSERT INTO entries (kind, name, created_at, info) VALUES (?, ?, ?, ?)", kind, name, createdAt, JSON.stringify(info));
      this.#bump(kind, 1);
      return { ok: true, value: null };
    });
  }

  /** Takes `name` off the list; false when it was not listed. */
  unregister(kind: CatalogKind, name: string): boolean {
    return this.transaction(() => {
      const gone = this.sql.exec("DELETE FROM entries WHERE kind = ? AND name = ? RETURNING name", kind, name).toArray().length > 0;
      if (gone) this.#bump(kind, -1);
      return gone;
    });
  }

  /** How many names of `kind` are listed. */
  count(kind: CatalogKind): number {
    return this.sql.exec<{ n: number }>("SELECT n FROM entry_counts WHERE kind = ?", kind).toArray()[0]?.n ?? 0;
  }

  /** Up to `limit` entries with names after `after` (a previous page's `next`), in name order. */
  page(kind: CatalogKind, limit: number, after?: string): CatalogPage {
    const rows = this.sql
      .exec<Row>(
        "SELECT name, created_at, info FROM entries WHERE kind = ? AND name > ? ORDER BY name LIMIT ?",
        kind, after ?? "", limit + 1,
      )
      .toArray();
    const entries = rows.slice(0, limit).map(toEntry);
    return rows.length > limit ? { entries, next: entries[entries.length - 1]!.name } : { entries };
  }

  /** The first `limit` entries in name order (one page, for callers that want no cursor). */
  list(kind: CatalogKind, limit: number): CatalogEntry[] {
    return this.page(kind, limit).entries;
  }

  #bump(kind: CatalogKind, by: number): void {
    this.sql.exec(
      "INSERT INTO entry_counts (kind, n) VALUES (?, ?) ON CONFLICT (kind) DO UPDATE SET n = n + excluded.n",
      kind, by,
    );
  }
}
