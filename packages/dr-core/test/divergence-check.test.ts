import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog.js';
import { createDisasterRecovery } from '../src/disaster-recovery.js';
import { checkDivergence } from '../src/divergence-check.js';
import { silentLogger } from '../src/logger.js';
import { PrimaryRecords } from '../src/primary-record.js';
import { rejection } from './failover-setup.js';
import { tempDir } from './helpers.js';

/** Writes a database with `writes` rows 1..count; the page size changes the bytes only. */
function writeDatabase(path: string, count: number, pageSize = 4096, extra?: string): string {
  const db = new Database(path);
  db.pragma(`page_size = ${pageSize}`);
  db.exec('CREATE TABLE writes (id INTEGER PRIMARY KEY, machine_id TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO writes (id, machine_id) VALUES (?, ?)');
  for (let id = 1; id <= count; id += 1) insert.run(id, 'nrt');
  if (extra !== undefined) insert.run(count + 1, extra);
  db.close();
  return path;
}

/** Creates a state directory with catalogued `fenced` and `incoming` databases and a mark on m1 for `fenced`. */
async function setup() {
  const dir = tempDir();
  const stateDir = join(dir, 'state');
  const dr = createDisasterRecovery({ app: 'div-app', databasePath: '/app/data/app.db', stateDir });
  const fenced = await dr.backupFile(writeDatabase(join(dir, 'fenced.db'), 10));
  const incoming = await dr.backupFile(writeDatabase(join(dir, 'incoming.db'), 15));
  const backup = (path: string) => dr.backupFile(path);
  const catalog = await Catalog.open(stateDir);
  const records = new PrimaryRecords(catalog.database);
  records.setMark({
    app: 'div-app',
    machineId: 'm1',
    volumeId: null,
    sha256: fenced.sha256,
    backupId: fenced.id,
    reason: 'fenced',
    operationId: null,
    recordedAt: new Date().toISOString(),
  });
  const input = {
    app: 'div-app',
    catalog,
    records,
    logger: silentLogger,
    incoming,
    now: new Date(),
  };
  const close = async () => {
    catalog.close();
    await dr.close();
  };
  return { dir, dr, backup, input, close };
}

describe('checkDivergence', () => {
  it('passes an unchanged database with other bytes', async () => {
    const { dir, backup, input, close } = await setup();
    const current = await backup(writeDatabase(join(dir, 'same.db'), 10, 8192));
    const mark = input.records.mark('div-app', 'm1');
    const result = await checkDivergence({
      ...input,
      targetMachineId: 'm1',
      current,
      force: false,
    });
    await close();

    expect(current.sha256).not.toBe(mark?.sha256);
    expect(result.diverged).toBe(false);
  });

  it('passes a database that already holds the incoming rows', async () => {
    const { dir, backup, input, close } = await setup();
    const current = await backup(writeDatabase(join(dir, 'restored.db'), 15, 8192));
    const result = await checkDivergence({
      ...input,
      targetMachineId: 'm1',
      current,
      force: false,
    });
    await close();

    expect(current.sha256).not.toBe(input.incoming.sha256);
    expect(result.diverged).toBe(false);
  });

  it('rejects a database written since the mark', async () => {
    const { dir, backup, input, close } = await setup();
    const current = await backup(writeDatabase(join(dir, 'split.db'), 10, 4096, 'split-brain'));
    const error = await rejection(
      checkDivergence({ ...input, targetMachineId: 'm1', current, force: false }),
    );
    await close();

    expect(error.code).toBe('DR_DIVERGED');
    expect(existsSync(String(error.details.reportPath))).toBe(true);
    expect(error.details.backupId).toBe(current.id);
  });

  it('reports and passes a forced overwrite', async () => {
    const { dir, backup, input, close } = await setup();
    const current = await backup(writeDatabase(join(dir, 'split.db'), 10, 4096, 'split-brain'));
    const result = await checkDivergence({ ...input, targetMachineId: 'm1', current, force: true });
    await close();

    expect(result.diverged).toBe(true);
    expect(existsSync(String(result.reportPath))).toBe(true);
  });

  it('passes a machine without a mark', async () => {
    const { dir, backup, input, close } = await setup();
    const current = await backup(writeDatabase(join(dir, 'other.db'), 3, 4096, 'x'));
    const result = await checkDivergence({
      ...input,
      targetMachineId: 'm2',
      current,
      force: false,
    });
    await close();

    expect(result.diverged).toBe(false);
  });
});
