import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commitBackup } from '../src/backup-store.js';
import { Catalog } from '../src/catalog.js';
import { createDisasterRecovery, type DisasterRecoveryOptions } from '../src/disaster-recovery.js';
import { type DrError, isDrError } from '../src/errors.js';
import type { DrEvent } from '../src/events.js';
import { LOCK_FILE_NAME } from '../src/lock.js';
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

/** Creates a clock that the test moves forward by hand. */
function manualClock(start = '2026-12-04T03:00:00.000Z') {
  let now = new Date(start).getTime();
  return {
    now: () => new Date(now),
    advanceDays(days: number) {
      now += days * 24 * 60 * 60 * 1000;
    },
    advanceSeconds(seconds: number) {
      now += seconds * 1000;
    },
  };
}

function setup(extra: Partial<DisasterRecoveryOptions> = {}) {
  const dir = tempDir();
  const stateDir = join(dir, 'state', 'live-schedule-api');
  const events: DrEvent[] = [];
  const clock = manualClock();
  const dr = createDisasterRecovery({
    app: 'live-schedule-api',
    databasePath: '/app/data/app.db',
    stateDir,
    now: clock.now,
    onEvent: (event) => events.push(event),
    ...extra,
  });
  return { dir, stateDir, dr, events, clock };
}

/** Opens a live WAL database with rows only in its -wal; the caller closes it. */
function liveDatabase(dir: string, rows = 50) {
  const path = join(dir, 'app.db');
  const db = openWalDatabase(path);
  const ids = insertEvents(db, rows);
  return { path, db, ids };
}

describe('DisasterRecovery.backupFile', () => {
  it('catalogues a verified copy with WAL-only rows', async () => {
    const { dir, dr } = setup();
    const live = liveDatabase(dir);
    const backup = await dr.backupFile(live.path);
    live.db.close();
    await dr.close();
    expect(readEventIds(backup.path)).toEqual(live.ids);
    expect(backup.status).toBe('verified');
    expect(backup.checkResult).toBe('ok');
    expect(backup.sourceJournalMode).toBe('wal');
  });

  it('names the file app.db.backup.<UTC timestamp>', async () => {
    const { dir, dr } = setup();
    const live = liveDatabase(dir);
    const backup = await dr.backupFile(live.path);
    live.db.close();
    await dr.close();
    expect(backup.fileName).toBe('app.db.backup.20261204T030000Z');
  });

  it('adds a suffix within the same second', async () => {
    const { dir, dr } = setup();
    const live = liveDatabase(dir);
    await dr.backupFile(live.path);
    const second = await dr.backupFile(live.path);
    live.db.close();
    await dr.close();
    expect(second.fileName).toBe('app.db.backup.20261204T030000Z-2');
  });

  it('writes files 0600 in a 0700 state directory', async () => {
    const { dir, dr, stateDir } = setup();
    const live = liveDatabase(dir);
    const backup = await dr.backupFile(live.path);
    live.db.close();
    await dr.close();
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    expect(statSync(backup.path).mode & 0o777).toBe(0o600);
  });

  it('tightens an existing state directory to 0700', async () => {
    const { dir, dr, stateDir } = setup();
    mkdirSync(stateDir, { recursive: true, mode: 0o755 });
    chmodSync(stateDir, 0o755);
    const live = liveDatabase(dir);
    await dr.backupFile(live.path);
    live.db.close();
    await dr.close();
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
  });

  it('records the description and the hash', async () => {
    const { dir, dr } = setup();
    const source = copyChinook(dir);
    const backup = await dr.backupFile(source, { region: 'nrt', machineId: 'm-1' });
    await dr.close();
    expect(backup.description.tableCount).toBe(11);
    expect(backup.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(backup.region).toBe('nrt');
    expect(backup.strategy).toBe('local-file');
  });

  it('sends step events', async () => {
    const { dir, dr, events } = setup();
    await dr.backupFile(copyChinook(dir));
    await dr.close();
    const steps = events.map((e) =>
      e.type === 'transfer-progress' ? e.type : `${e.type} ${e.step}`,
    );
    expect(steps).toEqual([
      'step-start snapshot',
      'step-end snapshot',
      'step-start catalog',
      'step-end catalog',
    ]);
  });

  it('rejects a non-SQLite file and catalogues nothing', async () => {
    const { dir, dr, stateDir } = setup();
    const path = join(dir, 'notes.txt');
    writeFileSync(path, 'hello '.repeat(2000));
    const error = await rejection(dr.backupFile(path));
    const listed = await dr.list();
    await dr.close();
    expect(error.code).toBe('DR_NOT_SQLITE');
    expect(listed).toEqual([]);
    expect(readdirSync(stateDir).filter((name) => name.includes('backup'))).toEqual([]);
  });

  it('rejects a zero-byte file and catalogues nothing', async () => {
    const { dir, dr } = setup();
    const path = join(dir, 'app.db');
    writeFileSync(path, '');
    const error = await rejection(dr.backupFile(path));
    const listed = await dr.list();
    await dr.close();
    expect(error.code).toBe('DR_EMPTY_FILE');
    expect(listed).toEqual([]);
  });

  it('rejects a corrupt database and catalogues nothing', async () => {
    const { dir, dr, stateDir } = setup();
    const path = copyChinook(dir);
    const bytes = readFileSync(path);
    bytes.fill(0xa5, 49 * 4096 + 100, 49 * 4096 + 400);
    writeFileSync(path, bytes);
    const error = await rejection(dr.backupFile(path));
    const listed = await dr.list();
    await dr.close();
    expect(error.code).toBe('DR_CORRUPT');
    expect(listed).toEqual([]);
    expect(readdirSync(stateDir).filter((name) => !name.startsWith('catalog.sqlite'))).toEqual([]);
  });

  it('reports a held lock with its holder', async () => {
    const { dir, dr, stateDir } = setup();
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(
      join(stateDir, LOCK_FILE_NAME),
      JSON.stringify({
        pid: 1,
        host: hostname(),
        operation: 'restore',
        startedAt: 'now',
        token: 't',
      }),
    );
    const error = await rejection(dr.backupFile(copyChinook(dir)));
    await dr.close();
    expect(error.code).toBe('DR_LOCKED');
    expect(error.message).toContain('pid 1');
  });
});

describe('DisasterRecovery.verify', () => {
  it('passes an untouched backup', async () => {
    const { dir, dr } = setup();
    await dr.backupFile(copyChinook(dir));
    const [report] = await dr.verify('latest');
    await dr.close();
    expect(report?.ok).toBe(true);
  });

  it('runs integrity_check on request', async () => {
    const { dir, dr } = setup();
    const backup = await dr.backupFile(copyChinook(dir));
    await dr.verify(backup.id, { check: 'integrity' });
    const shown = await dr.show(backup.id);
    await dr.close();
    expect(shown.check).toBe('integrity');
  });

  it('fails a backup that quick_check rejects', async () => {
    const { dir, dr } = setup();
    const backup = await dr.backupFile(copyChinook(dir));
    const bytes = readFileSync(backup.path);
    bytes.fill(0xa5, 49 * 4096 + 100, 49 * 4096 + 400);
    writeFileSync(backup.path, bytes);
    const [report] = await dr.verify(backup.id);
    await dr.close();
    expect(report?.code).toBe('DR_CORRUPT');
    expect(report?.backup.checkResult).toContain('quick_check');
  });

  it('fails a backup with a changed byte', async () => {
    const { dir, dr } = setup();
    const backup = await dr.backupFile(copyChinook(dir));
    const bytes = readFileSync(backup.path);
    // Page 2 of Chinook is not read by quick_check, so only the hash notices.
    bytes[4096 + 300] = (bytes[4096 + 300] ?? 0) ^ 0xff;
    writeFileSync(backup.path, bytes);
    const [report] = await dr.verify(backup.id);
    await dr.close();
    expect(report?.ok).toBe(false);
    expect(report?.code).toBe('DR_HASH_MISMATCH');
    expect(report?.backup.status).toBe('failed');
  });

  it('fails a backup whose file is gone', async () => {
    const { dir, dr } = setup();
    const backup = await dr.backupFile(copyChinook(dir));
    rmSync(backup.path);
    const [report] = await dr.verify('latest');
    await dr.close();
    expect(report?.code).toBe('DR_FILE_NOT_FOUND');
  });

  it('checks every backup with all', async () => {
    const { dir, dr, clock } = setup();
    await dr.backupFile(copyChinook(dir));
    clock.advanceSeconds(5);
    await dr.backupFile(copyChinook(dir));
    const reports = await dr.verify('all');
    await dr.close();
    expect(reports.map((r) => r.ok)).toEqual([true, true]);
  });

  it('rejects an unknown id', async () => {
    const { dr } = setup();
    const error = await rejection(dr.verify(42));
    await dr.close();
    expect(error.code).toBe('DR_BACKUP_NOT_FOUND');
  });

  it('rejects latest on an empty catalog', async () => {
    const { dr } = setup();
    const error = await rejection(dr.verify('latest'));
    await dr.close();
    expect(error.code).toBe('DR_BACKUP_NOT_FOUND');
  });
});

describe('DisasterRecovery.delete', () => {
  it('removes the row and the file', async () => {
    const { dir, dr, clock } = setup();
    const first = await dr.backupFile(copyChinook(dir));
    clock.advanceSeconds(1);
    await dr.backupFile(copyChinook(dir));
    await dr.delete(first.id);
    const ids = (await dr.list()).map((b) => b.id);
    await dr.close();
    expect(ids).not.toContain(first.id);
    expect(existsSync(first.path)).toBe(false);
  });

  it('keeps the newest verified backup without force', async () => {
    const { dir, dr } = setup();
    const only = await dr.backupFile(copyChinook(dir));
    const error = await rejection(dr.delete(only.id));
    await dr.close();
    expect(error.code).toBe('DR_REFUSED');
    expect(existsSync(only.path)).toBe(true);
  });

  it('deletes the newest verified backup with force', async () => {
    const { dir, dr } = setup();
    const only = await dr.backupFile(copyChinook(dir));
    await dr.delete(only.id, { force: true });
    const listed = await dr.list();
    await dr.close();
    expect(listed).toEqual([]);
  });
});

describe('DisasterRecovery.prune', () => {
  async function tenDailyBackups() {
    const context = setup();
    const source = copyChinook(context.dir);
    for (let day = 0; day < 10; day += 1) {
      await context.dr.backupFile(source);
      context.clock.advanceDays(5);
    }
    return context;
  }

  it('lists without removing on a dry run', async () => {
    const { dr } = await tenDailyBackups();
    const result = await dr.prune({ keepDays: 30, keepLast: 2, dryRun: true });
    const count = (await dr.list()).length;
    await dr.close();
    expect(result.remove.length).toBe(4);
    expect(result.removedIds).toEqual([]);
    expect(count).toBe(10);
  });

  it('removes rows and files past the policy', async () => {
    const { dr } = await tenDailyBackups();
    const result = await dr.prune({ keepDays: 30, keepLast: 2 });
    const remaining = await dr.list();
    await dr.close();
    expect(result.removedIds.length).toBe(4);
    expect(remaining.length).toBe(6);
    for (const candidate of result.remove) {
      expect(existsSync(candidate.backup.path)).toBe(false);
    }
  });

  it('keeps the newest verified even when everything is old', async () => {
    const { dr, clock } = await tenDailyBackups();
    clock.advanceDays(400);
    const result = await dr.prune({ keepDays: 30, keepLast: 0 });
    const remaining = await dr.list();
    await dr.close();
    expect(result.removedIds.length).toBe(9);
    expect(remaining.length).toBe(1);
  });
});

describe('DisasterRecovery.restoreToFile', () => {
  it('restores the newest verified backup', async () => {
    const { dir, dr } = setup();
    const live = liveDatabase(dir);
    await dr.backupFile(live.path);
    live.db.close();
    const target = join(dir, 'restored.db');
    await dr.restoreToFile('latest', target);
    await dr.close();
    expect(readEventIds(target)).toEqual(live.ids);
  });

  it('restores in the source journal mode', async () => {
    const { dir, dr } = setup();
    const live = liveDatabase(dir);
    await dr.backupFile(live.path);
    live.db.close();
    const restored = await dr.restoreToFile('latest', join(dir, 'restored.db'));
    await dr.close();
    expect(restored.verified.description.journalMode).toBe('wal');
  });

  it('rejects an existing file without force', async () => {
    const { dir, dr } = setup();
    await dr.backupFile(copyChinook(dir));
    const target = join(dir, 'restored.db');
    writeFileSync(target, 'mine');
    const error = await rejection(dr.restoreToFile('latest', target));
    await dr.close();
    expect(error.code).toBe('DR_FILE_EXISTS');
    expect(readFileSync(target, 'utf8')).toBe('mine');
  });

  it('rejects a backup that changed on disk', async () => {
    const { dir, dr } = setup();
    const backup = await dr.backupFile(copyChinook(dir));
    const bytes = readFileSync(backup.path);
    bytes[4096 + 300] = (bytes[4096 + 300] ?? 0) ^ 1;
    writeFileSync(backup.path, bytes);
    const error = await rejection(dr.restoreToFile(backup.id, join(dir, 'restored.db')));
    await dr.close();
    expect(error.code).toBe('DR_HASH_MISMATCH');
    expect(existsSync(join(dir, 'restored.db'))).toBe(false);
  });
});

describe('DisasterRecovery sweep', () => {
  it('removes temp files and orphan backup files', async () => {
    const { dir, dr, stateDir } = setup();
    const kept = await dr.backupFile(copyChinook(dir));
    const temp = join(stateDir, '.app.db.backup.20261204T010000Z.flydr-tmp-99999-abcd');
    const orphan = join(stateDir, 'app.db.backup.20261204T010000Z');
    writeFileSync(temp, 'partial');
    writeFileSync(orphan, 'renamed, never catalogued');
    const swept = await dr.sweep();
    await dr.close();
    expect(swept.tempFiles).toEqual([temp.slice(stateDir.length + 1)]);
    expect(swept.orphanFiles).toEqual(['app.db.backup.20261204T010000Z']);
    expect(existsSync(temp)).toBe(false);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(kept.path)).toBe(true);
  });

  it('runs before every locked operation', async () => {
    const { dir, dr, stateDir } = setup();
    await dr.backupFile(copyChinook(dir));
    const temp = join(stateDir, '.app.db.backup.x.flydr-tmp-1-ff');
    writeFileSync(temp, 'partial');
    await dr.verify('latest');
    await dr.close();
    expect(existsSync(temp)).toBe(false);
  });
});

describe('commitBackup', () => {
  it('removes the final file when the row cannot be written', async () => {
    const { dir, dr, stateDir } = setup();
    const backup = await dr.backupFile(copyChinook(dir));
    await dr.close();
    const catalog = await Catalog.open(stateDir);
    const temp = join(stateDir, '.x.flydr-tmp-1-aa');
    writeFileSync(temp, readFileSync(backup.path));
    catalog.close();
    const { id: _id, path: _path, ...row } = backup;
    const error = await rejection(
      commitBackup(catalog, temp, { ...row, fileName: 'app.db.backup.20261204T040000Z' }),
    );
    expect(error.code).toBe('DR_CATALOG');
    expect(existsSync(join(stateDir, 'app.db.backup.20261204T040000Z'))).toBe(false);
  });
});

describe('createDisasterRecovery', () => {
  it('rejects an invalid app name', () => {
    let code: string | undefined;
    try {
      createDisasterRecovery({ app: '../etc', databasePath: '/app/data/app.db' });
    } catch (error) {
      code = isDrError(error) ? error.code : undefined;
    }
    expect(code).toBe('DR_INVALID_INPUT');
  });

  it('rejects a relative database path', () => {
    expect(() => createDisasterRecovery({ app: 'a', databasePath: 'app.db' })).toThrow(
      /databasePath/,
    );
  });

  it('defaults the state directory under ~/.local/state/flydr', () => {
    const previous = process.env.XDG_STATE_HOME;
    delete process.env.XDG_STATE_HOME;
    try {
      const dr = createDisasterRecovery({
        app: 'live-schedule-api',
        databasePath: '/app/data/app.db',
      });
      expect(dr.stateDir).toMatch(/\/\.local\/state\/flydr\/live-schedule-api$/);
    } finally {
      if (previous !== undefined) {
        process.env.XDG_STATE_HOME = previous;
      }
    }
  });
});
