import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach } from 'vitest';

/** The public Chinook sample database shipped as a repository fixture. */
export const chinookFixture = new URL('../../../test/fixtures/chinook.sqlite', import.meta.url)
  .pathname;

/** sha256 of the Chinook fixture, as recorded by the repository's fixture test. */
export const chinookSha256 = '7651ba378ac2fcd0dfc3c66fb101f7a7eed3ba39a612ec642b96e20702061f15';

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Creates a temporary directory that is removed after the test. */
export function tempDir(prefix = 'flydr-dr-core-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Copies the Chinook fixture into `dir` and returns the copy's path. */
export function copyChinook(dir: string, name = 'chinook.sqlite'): string {
  const path = join(dir, name);
  copyFileSync(chinookFixture, path);
  return path;
}

/**
 * Opens a new WAL-mode database with automatic checkpoints off, so commits stay in the
 * -wal until the connection closes. The caller closes it.
 */
export function openWalDatabase(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)');
  return db;
}

/** Inserts `count` rows into `events`, one transaction each, and returns their ids. */
export function insertEvents(db: Database.Database, count: number): number[] {
  const insert = db.prepare('INSERT INTO events (payload) VALUES (?)');
  const ids: number[] = [];
  for (let i = 0; i < count; i += 1) {
    ids.push(Number(insert.run(`event ${i} ${'x'.repeat(200)}`).lastInsertRowid));
  }
  return ids;
}

/** Reads the ids of `events` in a database file, opened read-only. */
export function readEventIds(path: string): number[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT id FROM events ORDER BY id').all() as { id: number }[]).map(
      (row) => row.id,
    );
  } finally {
    db.close();
  }
}
