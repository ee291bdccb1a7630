import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { checkpointInPlace, checkpointWalPair } from '../src/checkpoint.js';
import { sha256File } from '../src/durable-fs.js';
import { type DrError, isDrError } from '../src/errors.js';
import { copyChinook, insertEvents, openWalDatabase, readEventIds, tempDir } from './helpers.js';

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

/**
 * Builds a live WAL database whose newest rows exist only in its -wal, and copies the
 * pair while the writer still has it open, as a copy from a running app would.
 */
function copyLivePair(dir: string) {
  const live = join(dir, 'live.db');
  const db = openWalDatabase(live);
  const ids = insertEvents(db, 250);
  const databasePath = join(dir, 'app.db');
  const walPath = join(dir, 'app.db-wal');
  copyFileSync(live, databasePath);
  copyFileSync(`${live}-wal`, walPath);
  db.close();
  return { databasePath, walPath, ids };
}

describe('checkpointWalPair', () => {
  it('keeps rows committed only in the -wal', async () => {
    const dir = tempDir();
    const { databasePath, walPath, ids } = copyLivePair(dir);
    const outputPath = join(dir, 'out.db');
    await checkpointWalPair({ databasePath, walPath, outputPath });
    expect(readEventIds(outputPath)).toEqual(ids);
  });

  it('reports the WAL frames it folded in', async () => {
    const dir = tempDir();
    const { databasePath, walPath } = copyLivePair(dir);
    const result = await checkpointWalPair({
      databasePath,
      walPath,
      outputPath: join(dir, 'o.db'),
    });
    expect(result.walFramesCheckpointed).toBeGreaterThan(10);
    expect(result.sourceJournalMode).toBe('wal');
  });

  it('loses the rows when the -wal is left out', async () => {
    // The control case: the main file alone, as a bare copy would take it.
    const dir = tempDir();
    const { databasePath, ids } = copyLivePair(dir);
    const outputPath = join(dir, 'out.db');
    await checkpointWalPair({ databasePath, outputPath });
    expect(ids.length).toBe(250);
    expect(() => readEventIds(outputPath)).toThrow(/no such table: events/);
  });

  it('writes one file without sidecars', async () => {
    const dir = tempDir();
    const { databasePath, walPath } = copyLivePair(dir);
    const outputPath = join(dir, 'out.db');
    await checkpointWalPair({ databasePath, walPath, outputPath });
    expect(existsSync(`${outputPath}-wal`)).toBe(false);
    expect(existsSync(`${outputPath}-shm`)).toBe(false);
  });

  it('keeps the source journal mode', async () => {
    const dir = tempDir();
    const { databasePath, walPath } = copyLivePair(dir);
    const result = await checkpointWalPair({
      databasePath,
      walPath,
      outputPath: join(dir, 'o.db'),
    });
    expect(result.description.journalMode).toBe('wal');
  });

  it('returns the output hash and a passed check', async () => {
    const dir = tempDir();
    const { databasePath, walPath } = copyLivePair(dir);
    const outputPath = join(dir, 'out.db');
    const result = await checkpointWalPair({
      databasePath,
      walPath,
      outputPath,
      check: 'integrity',
    });
    expect(result.sha256).toBe(await sha256File(outputPath));
    expect(result.checkResult).toBe('ok');
  });

  it('leaves its inputs unchanged', async () => {
    const dir = tempDir();
    const { databasePath, walPath } = copyLivePair(dir);
    const before = [await sha256File(databasePath), await sha256File(walPath)];
    await checkpointWalPair({ databasePath, walPath, outputPath: join(dir, 'out.db') });
    expect([await sha256File(databasePath), await sha256File(walPath)]).toEqual(before);
  });

  it('rejects an existing output', async () => {
    const dir = tempDir();
    const { databasePath, walPath } = copyLivePair(dir);
    const outputPath = join(dir, 'out.db');
    writeFileSync(outputPath, 'keep me');
    const error = await rejection(checkpointWalPair({ databasePath, walPath, outputPath }));
    expect(error.code).toBe('DR_FILE_EXISTS');
    expect(readFileSync(outputPath, 'utf8')).toBe('keep me');
  });

  it('rejects a -wal of another page size', async () => {
    const dir = tempDir();
    const { databasePath } = copyLivePair(dir);
    const other = join(dir, 'other.db');
    const db = new Database(other);
    db.pragma('page_size = 8192');
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (x)');
    const walPath = join(dir, 'foreign-wal');
    copyFileSync(`${other}-wal`, walPath);
    db.close();
    const outputPath = join(dir, 'out.db');
    const error = await rejection(checkpointWalPair({ databasePath, walPath, outputPath }));
    expect(error.code).toBe('DR_CORRUPT');
    expect(existsSync(outputPath)).toBe(false);
  });

  it('rejects a main file that is not SQLite', async () => {
    const dir = tempDir();
    const databasePath = join(dir, 'app.db');
    writeFileSync(databasePath, 'not a database at all, just text '.repeat(50));
    const outputPath = join(dir, 'out.db');
    const error = await rejection(checkpointWalPair({ databasePath, outputPath }));
    expect(error.code).toBe('DR_NOT_SQLITE');
    expect(existsSync(outputPath)).toBe(false);
  });

  it('rejects a missing input', async () => {
    const dir = tempDir();
    const error = await rejection(
      checkpointWalPair({ databasePath: join(dir, 'nope.db'), outputPath: join(dir, 'out.db') }),
    );
    expect(error.code).toBe('DR_FILE_NOT_FOUND');
  });

  it('works on a rollback-journal database', async () => {
    const dir = tempDir();
    const databasePath = copyChinook(dir);
    const result = await checkpointWalPair({ databasePath, outputPath: join(dir, 'out.db') });
    expect(result.description.tableCount).toBe(11);
    expect(result.sourceJournalMode).toBe('delete');
  });

  it('leaves no temporary files behind', async () => {
    const dir = tempDir();
    const { databasePath, walPath } = copyLivePair(dir);
    await checkpointWalPair({ databasePath, walPath, outputPath: join(dir, 'out.db') });
    expect(readdirSync(dir).filter((name) => name.includes('flydr-tmp'))).toEqual([]);
  });
});

describe('checkpointInPlace', () => {
  it('leaves a file without a WAL unchanged', async () => {
    const dir = tempDir();
    const path = copyChinook(dir);
    const before = await sha256File(path);
    const result = await checkpointInPlace(path);
    expect(result.sha256).toBe(before);
    expect(await sha256File(path)).toBe(before);
  });

  it('trusts a known hash only for an unchanged file', async () => {
    const dir = tempDir();
    const path = copyChinook(dir);
    const unchanged = await checkpointInPlace(path, { knownSha256: 'f'.repeat(64) });
    const folded = copyLivePair(dir);
    const changed = await checkpointInPlace(folded.databasePath, {
      knownSha256: 'f'.repeat(64),
    });
    expect(unchanged.sha256).toBe('f'.repeat(64));
    expect(changed.sha256).toBe(await sha256File(folded.databasePath));
  });
});
