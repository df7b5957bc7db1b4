/**
 * Numbered, additive schema migrations for an object's SQLite database, applied in the
 * constructor under `blockConcurrencyWhile` so no request ever sees an old schema.
 * Each module of an object (the topic log, its groups, its forwarder, …) keeps its own
 * numbered list under its own `module` name, so modules evolve independently.
 */
export function migrate(sql: SqlStorage, migrations: readonly string[], module = "main"): void {
  sql.exec("CREATE TABLE IF NOT EXISTS _schema (module TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID");
  const row = sql.exec<{ version: number }>("SELECT version FROM _schema WHERE module = ?", module).toArray()[0];
  const current = row?.version ?? 0;
  for (let v = current; v < migrations.length; v++) {
    sql.exec(migrations[v]!);
    sql.exec(
      "INSERT INTO _schema (module, version) VALUES (?, ?) ON CONFLICT (module) DO UPDATE SET version = excluded.version",
      module, v + 1,
    );
  }
}
