import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { CATALOG_FILE_NAME, Catalog, type NewBackupRecord } from '../src/catalog.js';
import { CATALOG_VERSION } from '../src/catalog-schema.js';
import { isDrError } from '../src/errors.js';
import { tempDir } from './helpers.js';

function record(fileName: string, finishedAt: string): NewBackupRecord {
  return {
    app: 'live-schedule-api',
    fileName,
    databasePath: '/app/data/app.db',
    region: 'nrt',
    machineId: '3d8d9e1a',
    volumeId: 'vol_abc',
    imageRef: 'registry.fly.io/live-schedule-api:deployment-1',
    strategy: 'sqlite3-backup',
    reason: 'backup',
    startedAt: finishedAt,
    finishedAt,
    size: 8192,
    sha256: 'c'.repeat(64),
    check: 'quick',
    checkResult: 'ok',
    status: 'verified',
    verifiedAt: finishedAt,
    description: {
      pageSize: 4096,
      pageCount: 2,
      journalMode: 'delete',
      tableCount: 1,
      schemaHash: 'd'.repeat(64),
      userVersion: 3,
    },
    sourceJournalMode: 'wal',
  };
}

describe('Catalog', () => {
  it('creates the schema at the current version', async () => {
    const catalog = await Catalog.open(tempDir());
    const version = catalog.schemaVersion();
    catalog.close();
    expect(version).toBe(CATALOG_VERSION);
  });

  it('creates its file with mode 0600', async () => {
    const dir = tempDir();
    (await Catalog.open(dir)).close();
    expect(statSync(join(dir, CATALOG_FILE_NAME)).mode & 0o777).toBe(0o600);
  });

  it('creates its -wal and -shm with mode 0600', async () => {
    const dir = tempDir();
    const catalog = await Catalog.open(dir);
    const modes = ['-wal', '-shm'].map(
      (suffix) => statSync(join(dir, `${CATALOG_FILE_NAME}${suffix}`)).mode & 0o777,
    );
    catalog.close();
    expect(modes).toEqual([0o600, 0o600]);
  });

  it('round-trips a backup record', async () => {
    const dir = tempDir();
    const catalog = await Catalog.open(dir);
    const inserted = catalog.insertBackup(
      record('app.db.backup.20260101T000000Z', '2026-01-01T00:00:00.000Z'),
    );
    const read = catalog.getBackup(inserted.id);
    catalog.close();
    expect(read).toEqual(inserted);
    expect(read?.path).toBe(join(dir, 'app.db.backup.20260101T000000Z'));
  });

  it('keeps rows across reopening', async () => {
    const dir = tempDir();
    const first = await Catalog.open(dir);
    first.insertBackup(record('a', '2026-01-01T00:00:00.000Z'));
    first.close();
    const second = await Catalog.open(dir);
    const count = second.listBackups().length;
    second.close();
    expect(count).toBe(1);
  });

  it('lists newest first', async () => {
    const catalog = await Catalog.open(tempDir());
    catalog.insertBackup(record('old', '2026-01-01T00:00:00.000Z'));
    catalog.insertBackup(record('new', '2026-02-01T00:00:00.000Z'));
    const names = catalog.listBackups().map((b) => b.fileName);
    catalog.close();
    expect(names).toEqual(['new', 'old']);
  });

  it('finds the newest verified backup', async () => {
    const catalog = await Catalog.open(tempDir());
    const good = catalog.insertBackup(record('good', '2026-01-01T00:00:00.000Z'));
    const bad = catalog.insertBackup(record('bad', '2026-02-01T00:00:00.000Z'));
    catalog.updateCheck({
      backupId: bad.id,
      checkedAt: '2026-02-02T00:00:00.000Z',
      check: 'quick',
      result: 'sha256 differs',
      ok: false,
    });
    const latest = catalog.latestVerified();
    catalog.close();
    expect(latest?.id).toBe(good.id);
  });

  it('keeps the check history', async () => {
    const catalog = await Catalog.open(tempDir());
    const b = catalog.insertBackup(record('a', '2026-01-01T00:00:00.000Z'));
    catalog.updateCheck({
      backupId: b.id,
      checkedAt: '2026-01-02T00:00:00.000Z',
      check: 'integrity',
      result: 'ok',
      ok: true,
    });
    const history = catalog.listChecks(b.id);
    catalog.close();
    expect(history.map((c) => c.check)).toEqual(['quick', 'integrity']);
  });

  it('deletes a row and its history', async () => {
    const catalog = await Catalog.open(tempDir());
    const b = catalog.insertBackup(record('a', '2026-01-01T00:00:00.000Z'));
    catalog.deleteBackup(b.id);
    const after = [catalog.getBackup(b.id), catalog.listChecks(b.id).length];
    catalog.close();
    expect(after).toEqual([undefined, 0]);
  });

  it('rejects a catalog from a newer flydr', async () => {
    const dir = tempDir();
    const db = new Database(join(dir, CATALOG_FILE_NAME));
    db.pragma(`user_version = ${CATALOG_VERSION + 5}`);
    db.close();
    let code: string | undefined;
    try {
      await Catalog.open(dir);
    } catch (error) {
      code = isDrError(error) ? error.code : undefined;
    }
    expect(code).toBe('DR_CATALOG');
  });

  it('rejects a file that is not a database', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, CATALOG_FILE_NAME), 'garbage '.repeat(1000));
    await expect(Catalog.open(dir)).rejects.toMatchObject({ code: 'DR_CATALOG' });
  });
});
