import Database from 'better-sqlite3';
import { DrError } from './errors.js';

/** A row of a sample, with BLOBs shortened to hex so the report stays printable as JSON. */
export type SampleRow = Record<string, string | number | bigint | null>;

/** The difference in one table between two databases. */
export interface TableDifference {
  table: string;
  /** Rows whose key exists only in the first database. */
  onlyInFirst: number;
  /** Rows whose key exists only in the second database. */
  onlyInSecond: number;
  /** Rows present in both whose values differ in a column both have. */
  changed: number;
  /** Columns present in only one of the two tables; empty when the schemas agree. */
  columnsOnlyInFirst: string[];
  columnsOnlyInSecond: string[];
  /** The key used to match rows: `rowid`, or the primary key of a WITHOUT ROWID table. */
  key: string[];
  /** Up to `sampleSize` rows of each kind. */
  sample: {
    onlyInFirst: SampleRow[];
    onlyInSecond: SampleRow[];
    changed: Array<{ first: SampleRow; second: SampleRow }>;
  };
}

/** The row-level difference between two SQLite databases. */
export interface DivergenceReport {
  first: string;
  second: string;
  /** True when every table contains the same rows with the same values. */
  identical: boolean;
  tablesOnlyInFirst: string[];
  tablesOnlyInSecond: string[];
  /** Tables present in both that differ; identical tables are left out. */
  tables: TableDifference[];
}

/** Options for {@link compareDatabases}. */
export interface CompareOptions {
  /** Rows of each kind kept per table as a sample. @default 5 */
  sampleSize?: number;
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Compares two SQLite database files row by row, read-only: per table, the rows only in
 * each file and the rows whose values changed, with a sample of each. Used to show what
 * would be lost before one side overwrites the other, and by `flydr diff`.
 *
 * @throws DrError `DR_FILE_NOT_FOUND` or `DR_NOT_SQLITE` when a file cannot be opened as a database.
 */
export function compareDatabases(
  firstPath: string,
  secondPath: string,
  options: CompareOptions = {},
): DivergenceReport {
  const sampleSize = options.sampleSize ?? 5;
  const db = openReadOnly(firstPath);
  try {
    attachReadOnly(db, secondPath);

    const firstTables = listTables(db, 'main');
    const secondTables = listTables(db, 'second');
    const tables: TableDifference[] = [];

    for (const [table, firstSql] of firstTables) {
      const secondSql = secondTables.get(table);
      if (secondSql === undefined) continue;

      const difference = compareTable(db, table, firstSql, sampleSize);
      const differs =
        difference.onlyInFirst + difference.onlyInSecond + difference.changed > 0 ||
        difference.columnsOnlyInFirst.length + difference.columnsOnlyInSecond.length > 0;
      if (differs) tables.push(difference);
    }

    const tablesOnlyInFirst = [...firstTables.keys()].filter((name) => !secondTables.has(name));
    const tablesOnlyInSecond = [...secondTables.keys()].filter((name) => !firstTables.has(name));
    return {
      first: firstPath,
      second: secondPath,
      identical:
        tables.length === 0 && tablesOnlyInFirst.length === 0 && tablesOnlyInSecond.length === 0,
      tablesOnlyInFirst,
      tablesOnlyInSecond,
      tables,
    };
  } finally {
    db.close();
  }
}

function openReadOnly(path: string): Database.Database {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
    return db;
  } catch (error) {
    throw notADatabase(path, error);
  }
}

// An attached file inherits the read-only flag of the main connection.
function attachReadOnly(db: Database.Database, path: string): void {
  try {
    db.prepare('ATTACH DATABASE ? AS second').run(path);
    db.prepare('SELECT count(*) FROM second.sqlite_schema').get();
  } catch (error) {
    throw notADatabase(path, error);
  }
}

function notADatabase(path: string, error: unknown): DrError {
  const code = (error as { code?: string }).code;
  if (code === 'SQLITE_CANTOPEN') {
    return new DrError(
      'DR_FILE_NOT_FOUND',
      `cannot open ${path} to compare it`,
      'check the path and its permissions',
      {
        path,
        cause: error,
      },
    );
  }
  return new DrError(
    'DR_NOT_SQLITE',
    `${path} is not a readable SQLite database (${code ?? (error as Error).message})`,
    'compare two database files or backups, such as `flydr diff app.db app.db.backup.20261204T030000Z`',
    { path, cause: error },
  );
}

function listTables(db: Database.Database, schema: 'main' | 'second'): Map<string, string> {
  const rows = db
    .prepare(
      `SELECT name, sql FROM ${schema}.sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`,
    )
    .all() as Array<{ name: string; sql: string }>;
  return new Map(rows.map((row) => [row.name, row.sql]));
}

function columnsOf(db: Database.Database, schema: string, table: string) {
  return db
    .prepare('SELECT name, pk FROM pragma_table_info(?, ?) ORDER BY cid')
    .all(table, schema) as Array<{
    name: string;
    pk: number;
  }>;
}

function compareTable(
  db: Database.Database,
  table: string,
  createSql: string,
  sampleSize: number,
): TableDifference {
  const firstColumns = columnsOf(db, 'main', table);
  const secondColumns = columnsOf(db, 'second', table);
  const secondNames = new Set(secondColumns.map((column) => column.name));
  const firstNames = new Set(firstColumns.map((column) => column.name));
  const shared = firstColumns
    .filter((column) => secondNames.has(column.name))
    .map((column) => column.name);

  // Rows match on rowid, except in WITHOUT ROWID tables, which have no rowid and match on their primary key.
  const withoutRowid = /\)\s*WITHOUT\s+ROWID\s*[;,]?\s*$/i.test(createSql);
  const key = withoutRowid
    ? firstColumns
        .filter((column) => column.pk > 0)
        .sort((x, y) => x.pk - y.pk)
        .map((column) => column.name)
    : ['rowid'];
  const keyList = key.map(quote).join(', ');
  const first = `main.${quote(table)}`;
  const second = `second.${quote(table)}`;

  const onlyInQuery = (from: string, other: string) =>
    `FROM ${from} WHERE (${keyList}) IN (SELECT ${keyList} FROM ${from} EXCEPT SELECT ${keyList} FROM ${other})`;
  const selectList = `${withoutRowid ? '' : 'rowid AS rowid, '}*`;

  const count = (sql: string) =>
    Number((db.prepare(`SELECT count(*) AS n ${sql}`).get() as { n: number }).n);
  const sample = (sql: string) =>
    (db.prepare(`SELECT ${selectList} ${sql} LIMIT ?`).all(sampleSize) as SampleRow[]).map(
      printable,
    );

  const joinOn = key.map((name) => `x.${quote(name)} = y.${quote(name)}`).join(' AND ');
  const sameValues =
    shared.length === 0
      ? '1'
      : shared.map((name) => `x.${quote(name)} IS y.${quote(name)}`).join(' AND ');
  const changedFrom = `FROM ${first} AS x JOIN ${second} AS y ON ${joinOn} WHERE NOT (${sameValues})`;
  const changedKeys = db
    .prepare(`SELECT ${key.map((name) => `x.${quote(name)}`).join(', ')} ${changedFrom} LIMIT ?`)
    .raw()
    .all(sampleSize) as unknown[][];
  const rowByKey = (schema: string) =>
    db.prepare(
      `SELECT ${selectList} FROM ${schema}.${quote(table)} WHERE (${keyList}) = (${key.map(() => '?').join(', ')})`,
    );

  return {
    table,
    onlyInFirst: count(onlyInQuery(first, second)),
    onlyInSecond: count(onlyInQuery(second, first)),
    changed: count(changedFrom),
    columnsOnlyInFirst: firstColumns
      .map((column) => column.name)
      .filter((name) => !secondNames.has(name)),
    columnsOnlyInSecond: secondColumns
      .map((column) => column.name)
      .filter((name) => !firstNames.has(name)),
    key,
    sample: {
      onlyInFirst: sample(onlyInQuery(first, second)),
      onlyInSecond: sample(onlyInQuery(second, first)),
      changed: changedKeys.map((values) => ({
        first: printable(rowByKey('main').get(...values) as SampleRow),
        second: printable(rowByKey('second').get(...values) as SampleRow),
      })),
    },
  };
}

// BLOBs become `x'…'` hex literals, cut after 32 bytes, so samples print and serialize.
function printable(row: Record<string, unknown>): SampleRow {
  const result: SampleRow = {};
  for (const [name, value] of Object.entries(row)) {
    if (Buffer.isBuffer(value)) {
      const hex = value.subarray(0, 32).toString('hex');
      result[name] = `x'${hex}'${value.length > 32 ? `… (${value.length} bytes)` : ''}`;
    } else {
      result[name] = value as string | number | bigint | null;
    }
  }
  return result;
}
