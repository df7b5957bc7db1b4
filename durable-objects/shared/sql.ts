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

/**
 * Most characters of JSON bound to one statement: SQLite in Durable Objects refuses a string
 * over 2 MB, and a character takes at most 3 bytes in UTF-8.
 */
export const MAX_BOUND_JSON_CHARS = 600_000;

/**
 * Rows as JSON arrays for set-based statements (`INSERT … SELECT … FROM json_each(?)`), each
 * under MAX_BOUND_JSON_CHARS (a larger row goes alone), with the index of its first row.
 */
export function boundJsonArrays(rows: readonly unknown[][]): Array<[start: number, json: string]> {
  const out: Array<[number, string]> = [];
  let start = 0;
  let parts: string[] = [];
  let size = 2;
  rows.forEach((row, i) => {
    const text = JSON.stringify(row);
    if (parts.length > 0 && size + text.length + 1 > MAX_BOUND_JSON_CHARS) {
      out.push([start, `[${parts.join(",")}]`]);
      start = i;
      parts = [];
      size = 2;
    }
    parts.push(text);
    size += text.length + 1;
  });
  if (parts.length > 0) out.push([start, `[${parts.join(",")}]`]);
  return out;
}
