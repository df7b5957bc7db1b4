/**
 * Numbered, additive schema migrations for an object's SQLite database, applied in the
 * constructor under `blockConcurrencyWhile` so no request ever sees an old schema.
 */
export function migrate(sql: SqlStorage, migrations: readonly string[]): void {
  sql.exec("CREATE TABLE IF NOT EXISTS _schema (version INTEGER NOT NULL)");
  const row = sql.exec<{ version: number }>("SELECT version FROM _schema").toArray()[0];
  const current = row?.version ?? 0;
  if (!row) sql.exec("INSERT INTO _schema (version) VALUES (0)");
  for (let v = current; v < migrations.length; v++) {
    sql.exec(migrations[v]!);
    sql.exec("UPDATE _schema SET version = ?", v + 1);
  }
}
