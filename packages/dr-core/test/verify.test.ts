import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { WORKER_CHECK_MIN_BYTES } from '../src/check-worker.js';
import { sha256File } from '../src/durable-fs.js';
import { DrError, isDrError } from '../src/errors.js';
import { verifyDatabaseFile } from '../src/verify.js';
import { chinookSha256, copyChinook, insertEvents, openWalDatabase, tempDir } from './helpers.js';

async function rejection(promise: Promise<unknown>): Promise<DrError> {
  try {
    await promise;
  } catch (error) {
    if (isDrError(error)) {
      return error;
    }
    throw error;
  }
  throw new Error('expected a rejection');
}

/** Overwrites bytes in the middle of a b-tree page (page 50 of Chinook is one). */
function corruptPage(path: string, page = 50): void {
  const bytes = readFileSync(path);
  bytes.fill(0xa5, (page - 1) * 4096 + 100, (page - 1) * 4096 + 400);
  writeFileSync(path, bytes);
}

describe('verifyDatabaseFile', () => {
  it('passes Chinook and describes it', async () => {
    const path = copyChinook(tempDir());
    const result = await verifyDatabaseFile(path);
    expect(result.checkResult).toBe('ok');
    expect(result.check).toBe('quick');
    expect(result.sha256).toBe(chinookSha256);
    expect(result.size).toBe(1007616);
    expect(result.description.pageSize).toBe(4096);
    expect(result.description.pageCount).toBe(246);
    expect(result.description.journalMode).toBe('delete');
    expect(result.description.tableCount).toBe(11);
    expect(result.description.schemaHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('runs integrity_check on request', async () => {
    const path = copyChinook(tempDir());
    expect((await verifyDatabaseFile(path, { check: 'integrity' })).check).toBe('integrity');
  });

  it('gives equal schema hashes to equal schemas', async () => {
    const dir = tempDir();
    const a = await verifyDatabaseFile(copyChinook(dir, 'a.sqlite'));
    const b = await verifyDatabaseFile(copyChinook(dir, 'b.sqlite'));
    expect(a.description.schemaHash).toBe(b.description.schemaHash);
  });

  it('rejects a missing file', async () => {
    const error = await rejection(verifyDatabaseFile(join(tempDir(), 'absent.db')));
    expect(error.code).toBe('DR_FILE_NOT_FOUND');
  });

  it('rejects a zero-byte file', async () => {
    const path = join(tempDir(), 'empty.db');
    writeFileSync(path, '');
    const error = await rejection(verifyDatabaseFile(path));
    expect(error.code).toBe('DR_EMPTY_FILE');
    expect(error.path).toBe(path);
    expect(error.hint.length).toBeGreaterThan(10);
  });

  it('rejects a file that is not SQLite', async () => {
    const path = join(tempDir(), 'dump.sql');
    writeFileSync(path, 'CREATE TABLE t (id INTEGER);\n'.repeat(100));
    const error = await rejection(verifyDatabaseFile(path));
    expect(error.code).toBe('DR_NOT_SQLITE');
    expect(error.message).toContain(path);
  });

  it('rejects a file truncated on a page boundary', async () => {
    const path = copyChinook(tempDir());
    truncateSync(path, 4096 * 100);
    const error = await rejection(verifyDatabaseFile(path));
    expect(error.code).toBe('DR_TRUNCATED');
    expect(error.message).toContain('246 pages');
  });

  it('rejects a file truncated mid-page', async () => {
    const path = copyChinook(tempDir());
    truncateSync(path, 4096 * 100 + 17);
    expect((await rejection(verifyDatabaseFile(path))).code).toBe('DR_TRUNCATED');
  });

  it('rejects a corrupt b-tree page', async () => {
    const path = copyChinook(tempDir());
    corruptPage(path);
    const error = await rejection(verifyDatabaseFile(path));
    expect(error.code).toBe('DR_CORRUPT');
    expect(error.message).toContain('quick_check');
    expect(error.details.problems).toBeInstanceOf(Array);
  });

  it('rejects a file with a -wal beside it', async () => {
    const dir = tempDir();
    const path = join(dir, 'app.db');
    const db = openWalDatabase(path);
    insertEvents(db, 3);
    const error = await rejection(verifyDatabaseFile(path));
    db.close();
    expect(error.code).toBe('DR_SIDECAR_PRESENT');
    expect(error.path).toBe(`${path}-wal`);
  });

  it('leaves no sidecars beside a WAL-mode file', async () => {
    const dir = tempDir();
    const path = join(dir, 'app.db');
    const db = openWalDatabase(path);
    insertEvents(db, 3);
    db.close();
    const result = await verifyDatabaseFile(path);
    expect(result.description.journalMode).toBe('wal');
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(existsSync(`${path}-shm`)).toBe(false);
  });

  it('keeps the error class across instanceof', async () => {
    const error = await rejection(verifyDatabaseFile(join(tempDir(), 'absent.db')));
    expect(error).toBeInstanceOf(DrError);
  });

  it('checks a large file in a worker thread', async () => {
    const path = largeDatabase(tempDir());
    const result = await verifyDatabaseFile(path, { check: 'integrity' });
    expect(result.size).toBeGreaterThanOrEqual(WORKER_CHECK_MIN_BYTES);
    expect(result.sha256).toBe(await sha256File(path));
    expect(result.description.tableCount).toBe(1);
  });

  it('rejects a large corrupt file from the worker', async () => {
    const path = largeDatabase(tempDir());
    const bytes = readFileSync(path);
    // Page 3 is a b-tree page of the blobs table.
    bytes.fill(0xa5, 2 * 4096 + 8, 2 * 4096 + 600);
    writeFileSync(path, bytes);
    const error = await rejection(verifyDatabaseFile(path));
    // Depending on the random bytes, SQLite either reports the damage in quick_check's
    // output or fails to read the page at all; both are DR_CORRUPT.
    expect(error.code).toBe('DR_CORRUPT');
    expect(error.message).toContain(path);
  });
});

/** Builds a database just above the size from which checks run in a worker. */
function largeDatabase(dir: string): string {
  const path = join(dir, 'large.db');
  const db = new Database(path);
  db.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO blobs (payload) VALUES (randomblob(4000))');
  db.transaction(() => {
    while (Number(db.pragma('page_count', { simple: true })) * 4096 <= WORKER_CHECK_MIN_BYTES) {
      insert.run();
    }
  })();
  db.close();
  return path;
}
