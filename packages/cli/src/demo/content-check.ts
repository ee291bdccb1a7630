import { compareDatabases } from '@flydr/dr-core';
import Database from 'better-sqlite3';
import { WRITES_TABLE } from './demo-world.js';

/** Outcome of one invariant the demo checks. */
export interface InvariantResult {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * Checks that every row id in `committedIds` is in the `writes` table of the database
 * file at `path`.
 */
export function checkCommittedRows(
  name: string,
  path: string,
  committedIds: readonly number[],
): InvariantResult {
  const db = new Database(path, { readonly: true });
  try {
    const present = new Set(
      (db.prepare(`SELECT id FROM ${WRITES_TABLE}`).all() as { id: number }[]).map((r) => r.id),
    );
    const missing = committedIds.filter((id) => !present.has(id));
    return {
      name,
      ok: committedIds.length > 0 && missing.length === 0,
      detail:
        missing.length === 0
          ? `all ${committedIds.length} committed rows present (ids ${committedIds[0] ?? '-'}..${committedIds.at(-1) ?? '-'})`
          : `${missing.length} of ${committedIds.length} committed rows missing, first ids ${missing.slice(0, 5).join(', ')}`,
    };
  } finally {
    db.close();
  }
}

/**
 * Checks that every table of the original database contains the same rows in `path`, and
 * that `path` has no other table than those and the app's `writes` table.
 */
export function checkSameContent(originalPath: string, path: string): InvariantResult {
  const report = compareDatabases(originalPath, path, { sampleSize: 1 });
  const changedTables = report.tables
    .filter((table) => table.table !== WRITES_TABLE)
    .map(
      (table) =>
        `${table.table} (${table.onlyInFirst} missing, ${table.onlyInSecond} extra, ${table.changed} changed)`,
    );
  const extraTables = report.tablesOnlyInSecond.filter((table) => table !== WRITES_TABLE);
  const problems = [
    ...report.tablesOnlyInFirst.map((table) => `table ${table} missing`),
    ...extraTables.map((table) => `unexpected table ${table}`),
    ...changedTables,
  ];
  return {
    name: 'database content',
    ok: problems.length === 0,
    detail:
      problems.length === 0
        ? 'every table of the original database holds the same rows'
        : problems.join('; '),
  };
}
