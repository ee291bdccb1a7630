import {
  chmodSync,
  copyFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { checkpointWalPair } from '../src/checkpoint.js';
import { sha256File } from '../src/durable-fs.js';
import { type DrError, isDrError } from '../src/errors.js';
import { restoreFileTo } from '../src/restore-file.js';
import { readDatabaseHeaderFile } from '../src/sqlite-header.js';
import { insertEvents, openWalDatabase, readEventIds, tempDir } from './helpers.js';

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

/** Builds a single-file backup holding `count` events and returns its path and ids. */
async function makeBackup(dir: string, count: number, name = 'backup.db') {
  const live = join(dir, `${name}.live`);
  const db = openWalDatabase(live);
  const ids = insertEvents(db, count);
  db.close();
  const path = join(dir, name);
  await checkpointWalPair({ databasePath: live, outputPath: path });
  return { path, ids };
}

const fixedNow = () => new Date('2026-12-04T20:00:00.000Z');

describe('restoreFileTo', () => {
  it('restores the rows of the backup', async () => {
    const dir = tempDir();
    const backup = await makeBackup(dir, 40);
    const target = join(dir, 'app.db');
    await restoreFileTo(backup.path, target);
    expect(readEventIds(target)).toEqual(backup.ids);
  });

  it('sets WAL mode when asked', async () => {
    const dir = tempDir();
    const backup = await makeBackup(dir, 5);
    const target = join(dir, 'app.db');
    await restoreFileTo(backup.path, target, { journalMode: 'wal' });
    expect((await readDatabaseHeaderFile(target)).writeVersion).toBe(2);
    expect(existsSync(`${target}-wal`)).toBe(false);
  });

  it('rejects an existing target without force', async () => {
    const dir = tempDir();
    const backup = await makeBackup(dir, 5);
    const target = join(dir, 'app.db');
    writeFileSync(target, 'current database');
    const error = await rejection(restoreFileTo(backup.path, target));
    expect(error.code).toBe('DR_FILE_EXISTS');
    expect(readFileSync(target, 'utf8')).toBe('current database');
  });

  it('keeps the replaced file aside with force', async () => {
    const dir = tempDir();
    const backup = await makeBackup(dir, 5);
    const target = join(dir, 'app.db');
    writeFileSync(target, 'current database');
    const result = await restoreFileTo(backup.path, target, { force: true, now: fixedNow });
    expect(result.previousPath).toBe(`${target}.flydr-prev-20261204T200000Z`);
    expect(readFileSync(`${target}.flydr-prev-20261204T200000Z`, 'utf8')).toBe('current database');
  });

  it('keeps the permission bits of a replaced file', async () => {
    const dir = tempDir();
    const backup = await makeBackup(dir, 5);
    const target = join(dir, 'app.db');
    writeFileSync(target, 'current database');
    chmodSync(target, 0o640);
    await restoreFileTo(backup.path, target, { force: true, now: fixedNow });
    expect(statSync(target).mode & 0o777).toBe(0o640);
  });

  it('creates a new file with mode 0600', async () => {
    const dir = tempDir();
    const backup = await makeBackup(dir, 5);
    const target = join(dir, 'app.db');
    await restoreFileTo(backup.path, target);
    expect(statSync(target).mode & 0o777).toBe(0o600);
  });

  it('never overwrites an earlier aside copy', async () => {
    const dir = tempDir();
    const backup = await makeBackup(dir, 5);
    const target = join(dir, 'app.db');
    writeFileSync(target, 'first');
    await restoreFileTo(backup.path, target, { force: true, now: fixedNow });
    const second = await restoreFileTo(backup.path, target, { force: true, now: fixedNow });
    expect(second.previousPath).toBe(`${target}.flydr-prev-20261204T200000Z-2`);
    expect(readFileSync(`${target}.flydr-prev-20261204T200000Z`, 'utf8')).toBe('first');
  });

  it('moves a stale -wal and -shm aside', async () => {
    const dir = tempDir();
    const backup = await makeBackup(dir, 30);

    // The old database at the target is still open with commits in its -wal and
    // -shm, as a crashed app leaves them. Its frames must never reach the restored file.
    const target = join(dir, 'app.db');
    const old = openWalDatabase(join(dir, 'old.db'));
    old.exec('DROP TABLE events; CREATE TABLE other (x TEXT)');
    old.prepare('INSERT INTO other VALUES (?)').run('y'.repeat(3000));
    copyFileSync(join(dir, 'old.db'), target);
    copyFileSync(join(dir, 'old.db-wal'), `${target}-wal`);
    copyFileSync(join(dir, 'old.db-shm'), `${target}-shm`);
    old.close();

    const result = await restoreFileTo(backup.path, target, { force: true, now: fixedNow });
    expect(result.movedAside.sort()).toEqual(
      [
        `${target}.flydr-prev-20261204T200000Z`,
        `${target}.flydr-prev-20261204T200000Z-shm`,
        `${target}.flydr-prev-20261204T200000Z-wal`,
      ].sort(),
    );
    expect(readEventIds(target)).toEqual(backup.ids);
    const db = new Database(target, { readonly: true });
    const check = db.pragma('integrity_check', { simple: true });
    db.close();
    expect(check).toBe('ok');
  });

  it('keeps the old pair openable aside', async () => {
    const dir = tempDir();
    const backup = await makeBackup(dir, 3);
    const target = join(dir, 'app.db');
    const old = openWalDatabase(join(dir, 'old.db'));
    const oldIds = insertEvents(old, 7);
    copyFileSync(join(dir, 'old.db'), target);
    copyFileSync(join(dir, 'old.db-wal'), `${target}-wal`);
    old.close();
    const result = await restoreFileTo(backup.path, target, { force: true, now: fixedNow });
    expect(readEventIds(result.previousPath ?? '')).toEqual(oldIds);
  });

  it('rejects a missing target directory', async () => {
    const dir = tempDir();
    const backup = await makeBackup(dir, 3);
    const error = await rejection(restoreFileTo(backup.path, join(dir, 'nope', 'app.db')));
    expect(error.code).toBe('DR_FILE_NOT_FOUND');
    expect(error.hint).toContain('Create');
  });

  it('rejects a source whose hash changed', async () => {
    const dir = tempDir();
    const backup = await makeBackup(dir, 3);
    const error = await rejection(
      restoreFileTo(backup.path, join(dir, 'app.db'), { expectedSha256: '0'.repeat(64) }),
    );
    expect(error.code).toBe('DR_HASH_MISMATCH');
    expect(existsSync(join(dir, 'app.db'))).toBe(false);
  });

  it('rejects a corrupt source and leaves the target', async () => {
    const dir = tempDir();
    const source = join(dir, 'bad.db');
    writeFileSync(source, Buffer.alloc(8192, 7));
    const target = join(dir, 'app.db');
    writeFileSync(target, 'current');
    const error = await rejection(restoreFileTo(source, target, { force: true }));
    expect(error.code).toBe('DR_NOT_SQLITE');
    expect(readFileSync(target, 'utf8')).toBe('current');
  });

  it('leaves no temporary files', async () => {
    const dir = tempDir();
    const backup = await makeBackup(dir, 3);
    await restoreFileTo(backup.path, join(dir, 'app.db'), { journalMode: 'wal' });
    expect(readdirSync(dir).filter((name) => name.includes('flydr-tmp'))).toEqual([]);
  });

  it('returns the hash of the restored file', async () => {
    const dir = tempDir();
    const backup = await makeBackup(dir, 3);
    const target = join(dir, 'app.db');
    const result = await restoreFileTo(backup.path, target);
    expect(result.verified.sha256).toBe(await sha256File(target));
  });
});
