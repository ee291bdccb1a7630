import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FlyClient } from '@flydr/fly-client';
import { createExecTransportFactory } from '@flydr/fly-client/transport';
import type { Sim } from '@flydr/fly-sim';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDisasterRecovery } from '../src/disaster-recovery.js';
import { type DrError, isDrError } from '../src/errors.js';
import type { DrEvent } from '../src/events.js';
import { chinookFixture, tempDir } from './helpers.js';
import { DATABASE_PATH, type SimContext, seedApp, startTestSim, waitForRows } from './sim-setup.js';

let sim: Sim;

/** An image without the sqlite3 shell, so snapshots use copy-validate, which only reads. */
const NO_SQLITE3_IMAGE = 'registry.fly.io/no-sqlite3:1';

beforeAll(async () => {
  sim = await startTestSim({
    writeIntervalMs: 20,
    images: { [NO_SQLITE3_IMAGE]: { sqlite3: false } },
  });
});

afterEach(() => {
  // No test may write the database files of a running app.
  expect(sim.violations()).toEqual([]);
});

afterAll(async () => {
  await sim?.close();
});

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

interface WriteRow {
  id: number;
  written_at: string;
}

function readWrites(path: string): WriteRow[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT id, written_at FROM writes ORDER BY id').all() as WriteRow[];
  } finally {
    db.close();
  }
}

/** Reads the database on the volume through a private copy of the files, with its -wal. */
function readVolumeDatabase(volumeDir: string, name = 'app.db'): WriteRow[] {
  const dir = tempDir();
  for (const suffix of ['', '-wal']) {
    const from = join(volumeDir, `${name}${suffix}`);
    if (existsSync(from)) {
      writeFileSync(join(dir, `app.db${suffix}`), readFileSync(from));
    }
  }
  return readWrites(join(dir, 'app.db'));
}

/** Health URL of the simulated app, which changes each time the app starts. */
function healthUrlOf(machineId: string) {
  return () => sim.appWriter(machineId).healthUrl();
}

/**
 * Creates a local database whose `writes` table has the app's columns but rejects every
 * insert, so the app starts and then fails its health check.
 */
function unhealthyDatabase(): string {
  const path = join(tempDir(), 'unhealthy.db');
  const db = new Database(path);
  db.exec(
    "CREATE TABLE writes (id INTEGER PRIMARY KEY AUTOINCREMENT, machine_id TEXT NOT NULL, region TEXT NOT NULL, written_at TEXT NOT NULL, CHECK (machine_id = 'nobody'))",
  );
  db.close();
  return path;
}

/** Creates a local database with the app's schema and `count` rows. */
function appDatabase(count: number): string {
  const path = join(tempDir(), 'app-schema.db');
  const db = new Database(path);
  db.exec(
    'CREATE TABLE writes (id INTEGER PRIMARY KEY AUTOINCREMENT, machine_id TEXT NOT NULL, region TEXT NOT NULL, written_at TEXT NOT NULL)',
  );
  const insert = db.prepare('INSERT INTO writes (machine_id, region, written_at) VALUES (?, ?, ?)');
  for (let i = 0; i < count; i += 1) {
    insert.run('restored', 'nrt', new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString());
  }
  db.close();
  return path;
}

/** Creates a local database whose `writes` table lacks the app's columns, so the app cannot start. */
function incompatibleDatabase(): string {
  const path = join(tempDir(), 'bad.db');
  const db = new Database(path);
  db.exec('CREATE TABLE writes (id INTEGER PRIMARY KEY, note TEXT NOT NULL)');
  db.close();
  return path;
}

/** Stops a machine and waits until it is stopped, so its app has closed the database. */
async function stopMachine(client: FlyClient, app: string, machineId: string): Promise<void> {
  const machine = await client.machines.get(app, machineId);
  await client.machines.stop(app, machineId);
  await client.machines.wait(app, machineId, {
    state: 'stopped',
    instanceId: machine.instance_id ?? undefined,
  });
}

/**
 * Commits `count` rows to the database at `path` and leaves them only in its -wal, with
 * the -shm, as a process killed before its checkpoint does. Returns the new row ids.
 */
function leaveUncheckpointedWal(path: string, count: number): number[] {
  const db = new Database(path);
  db.pragma('wal_autocheckpoint = 0');
  const insert = db.prepare('INSERT INTO writes (machine_id, region, written_at) VALUES (?, ?, ?)');
  const ids: number[] = [];
  for (let i = 0; i < count; i += 1) {
    ids.push(Number(insert.run('crashed', 'nrt', new Date().toISOString()).lastInsertRowid));
  }
  const wal = readFileSync(`${path}-wal`);
  const shm = readFileSync(`${path}-shm`);
  db.close();
  writeFileSync(`${path}-wal`, wal);
  writeFileSync(`${path}-shm`, shm);
  return ids;
}

/** Sum of the file sizes under a folder, as the simulator counts a volume's use. */
function folderSize(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? folderSize(path) : statSync(path).size;
  }
  return total;
}

/**
 * Stops the app with a 4 MiB database on its volume, catalogues `backupSource`, and fills
 * the 1 GiB volume until the upload fits only once the old database is gone.
 */
async function fullVolumeSetup(backupSource: string) {
  const ctx = await seedApp(sim);
  await waitForRows(sim, ctx.machineId, 5);
  await stopMachine(ctx.client, ctx.app, ctx.machineId);
  const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
  const db = new Database(join(volumeDir, 'app.db'));
  db.exec('CREATE TABLE padding (payload BLOB NOT NULL)');
  const pad = db.prepare('INSERT INTO padding VALUES (randomblob(4000))');
  db.transaction(() => {
    for (let i = 0; i < 1024; i += 1) {
      pad.run();
    }
  })();
  db.close();
  const oldIds = readVolumeDatabase(volumeDir).map((row) => row.id);
  const oldBytes = statSync(join(volumeDir, 'app.db')).size;
  if (oldBytes < 1024 * 1024) {
    throw new Error(`the padded database is ${oldBytes} bytes, too small for this setup`);
  }

  const backup = await ctx.dr.backupFile(backupSource);
  // Half the room the upload needs is free; deleting the old database frees the rest.
  const needed = backup.size + 1024 * 1024;
  sim.fillVolume(ctx.volumeId, 1024 ** 3 - folderSize(volumeDir) - Math.floor(needed / 2));
  return { ctx, backup, volumeDir, oldIds, oldBytes };
}

const fastHealth = { healthTimeoutMs: 3_000, healthPollMs: 100 };

describe('DisasterRecovery.restore', () => {
  it('puts the backup in place and restarts the app', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 20);
    const backup = await ctx.dr.backup();
    const backupRows = readWrites(backup.path);
    await waitForRows(sim, ctx.machineId, backupRows.length + 20);

    const report = await ctx.dr.restore('latest', {
      healthUrl: healthUrlOf(ctx.machineId),
      ...fastHealth,
    });
    await ctx.dr.close();

    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    const restored = readVolumeDatabase(volumeDir);
    const maxId = backupRows[backupRows.length - 1]?.id ?? 0;
    expect(report.machineId).toBe(ctx.machineId);
    expect(restored.filter((row) => row.id <= maxId)).toEqual(backupRows);
    expect(sim.appWriter(ctx.machineId).running()).toBe(true);
    expect(sim.violations()).toEqual([]);
  });

  it('keeps a verified copy of the replaced database', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 10);
    await ctx.dr.backup();
    await waitForRows(sim, ctx.machineId, 40);
    const report = await ctx.dr.restore('latest', fastHealth);
    await ctx.dr.close();

    const pre = report.preRestoreBackup;
    expect(pre?.reason).toBe('pre-restore');
    expect(pre?.status).toBe('verified');
    expect(readWrites(pre?.path ?? '').length).toBeGreaterThanOrEqual(40);
  });

  it('moves a crashed -wal and -shm aside', async () => {
    const ctx = await seedApp(sim, { image: NO_SQLITE3_IMAGE });
    await waitForRows(sim, ctx.machineId, 10);
    // copy-validate cannot copy a database written every 20 ms, so the backup to restore
    // is made locally with the app's schema.
    const backup = await ctx.dr.backupFile(appDatabase(15));
    const backupRows = readWrites(backup.path);
    await stopMachine(ctx.client, ctx.app, ctx.machineId);

    // While the machine is stopped, leave the database as a crashed app would: newer commits
    // only in app.db-wal, with its app.db-shm.
    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    const crashRows = leaveUncheckpointedWal(join(volumeDir, 'app.db'), 25);

    const report = await ctx.dr.restore('latest', fastHealth);
    await ctx.dr.close();

    const aside = report.movedAside.map((entry) => entry.from.slice('/app/data/'.length));
    const previous = report.movedAside.find((entry) => entry.from === '/app/data/app.db')?.to ?? '';
    const keptIds = new Set(readWrites(report.preRestoreBackup?.path ?? '').map((row) => row.id));
    const restored = readVolumeDatabase(volumeDir);
    const maxId = backupRows[backupRows.length - 1]?.id ?? 0;
    expect(aside.sort()).toEqual(['app.db', 'app.db-shm', 'app.db-wal']);
    expect(existsSync(join(volumeDir, `${previous.slice('/app/data/'.length)}-wal`))).toBe(true);
    expect(crashRows.filter((id) => !keptIds.has(id))).toEqual([]);
    expect(restored.filter((row) => row.id <= maxId)).toEqual(backupRows);
    expect(sim.violations()).toEqual([]);
  });

  it('holds exactly the backup rows afterwards', async () => {
    // Rows committed after the backup must not survive in the restored database.
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 10);
    const backup = await ctx.dr.backup();
    const backupRows = readWrites(backup.path);
    await waitForRows(sim, ctx.machineId, backupRows.length + 50);
    await ctx.dr.restore('latest', fastHealth);
    await ctx.dr.close();

    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    const restored = readVolumeDatabase(volumeDir);
    const maxId = backupRows[backupRows.length - 1]?.id ?? 0;
    const check = new Database(join(volumeDir, 'app.db'), { readonly: true });
    const integrity = check.pragma('quick_check', { simple: true });
    check.close();
    expect(restored.filter((row) => row.id <= maxId)).toEqual(backupRows);
    expect(integrity).toBe('ok');
  });

  it('restores the original config', async () => {
    const ctx = await seedApp(sim);
    const before = await ctx.client.machines.get(ctx.app, ctx.machineId);
    await ctx.dr.backup();
    await ctx.dr.restore('latest', fastHealth);
    await ctx.dr.close();
    const after = await ctx.client.machines.get(ctx.app, ctx.machineId);
    expect(after.config).toEqual(before.config);
    expect(after.state).toBe('started');
  });

  it('sends its steps in order', async () => {
    const ctx = await seedApp(sim);
    await ctx.dr.backup();
    ctx.events.length = 0;
    await ctx.dr.restore('latest', fastHealth);
    await ctx.dr.close();
    const steps = ctx.events.flatMap((e) =>
      e.type === 'step-end' && e.operation === 'restore' ? [e.step] : [],
    );
    expect(steps).toEqual([
      'select-machine',
      'prepare',
      'maintenance',
      'connect',
      'choose-strategy',
      'download',
      'checkpoint',
      'snapshot',
      'catalog',
      'pre-restore-backup',
      'upload',
      'swap',
      'restore-config',
      'health',
    ]);
  });

  it('rolls back when the app fails its health check', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 20);
    const bad = await ctx.dr.backupFile(unhealthyDatabase());
    const before = await ctx.client.machines.get(ctx.app, ctx.machineId);
    const committedBefore = sim.appWriter(ctx.machineId).committedIds();

    const error = await rejection(
      ctx.dr.restore(bad.id, { healthUrl: healthUrlOf(ctx.machineId), ...fastHealth }),
    );
    await waitForRows(sim, ctx.machineId, committedBefore.length + 5);
    const after = await ctx.client.machines.get(ctx.app, ctx.machineId);
    await ctx.dr.close();

    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    const ids = new Set(readVolumeDatabase(volumeDir).map((row) => row.id));
    expect(error.code).toBe('DR_HEALTH_FAILED');
    expect(committedBefore.filter((id) => !ids.has(id))).toEqual([]);
    expect(after.config).toEqual(before.config);
    expect(sim.appWriter(ctx.machineId).running()).toBe(true);
    expect(sim.violations()).toEqual([]);
  });

  it('rolls back when the app cannot start', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 20);
    const bad = await ctx.dr.backupFile(incompatibleDatabase());
    const before = await ctx.client.machines.get(ctx.app, ctx.machineId);
    const committedBefore = sim.appWriter(ctx.machineId).committedIds();
    const error = await rejection(ctx.dr.restore(bad.id, fastHealth));
    await waitForRows(sim, ctx.machineId, committedBefore.length + 5);
    const after = await ctx.client.machines.get(ctx.app, ctx.machineId);
    await ctx.dr.close();

    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    const ids = new Set(readVolumeDatabase(volumeDir).map((row) => row.id));
    expect(error.code).toBe('DR_HEALTH_FAILED');
    expect(committedBefore.filter((id) => !ids.has(id))).toEqual([]);
    expect(after.config).toEqual(before.config);
    expect(after.state).toBe('started');
    expect(sim.violations()).toEqual([]);
  });

  it('keeps the failed files for inspection after a rollback', async () => {
    const ctx = await seedApp(sim);
    const bad = await ctx.dr.backupFile(incompatibleDatabase());
    await rejection(
      ctx.dr.restore(bad.id, { healthUrl: healthUrlOf(ctx.machineId), ...fastHealth }),
    );
    await ctx.dr.close();
    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    expect(readdirSync(volumeDir).some((name) => name.startsWith('app.db.flydr-failed-'))).toBe(
      true,
    );
  });

  it('rejects a backup with a changed byte before touching the machine', async () => {
    const ctx = await seedApp(sim);
    const backup = await ctx.dr.backup();
    const bytes = readFileSync(backup.path);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x01;
    writeFileSync(backup.path, bytes);
    const before = await ctx.client.machines.get(ctx.app, ctx.machineId);
    const error = await rejection(ctx.dr.restore(backup.id, fastHealth));
    const after = await ctx.client.machines.get(ctx.app, ctx.machineId);
    await ctx.dr.close();
    expect(error.code).toBe('DR_HASH_MISMATCH');
    expect(after.instance_id).toBe(before.instance_id);
  });

  it('reports a lease held by another operator', async () => {
    const ctx = await seedApp(sim);
    await ctx.dr.backup();
    const lease = await ctx.client.machines.acquireLease(ctx.app, ctx.machineId, {
      ttlSeconds: 30,
      description: 'another operator',
    });
    let code: string | undefined;
    let message = '';
    try {
      await ctx.dr.restore('latest', fastHealth);
    } catch (error) {
      code = (error as { code?: string }).code;
      message = (error as Error).message;
    }
    await ctx.client.machines.releaseLease(ctx.app, ctx.machineId, lease.nonce);
    const after = await ctx.client.machines.get(ctx.app, ctx.machineId);
    await ctx.dr.close();
    expect(code).toBe('DR_LOCKED');
    expect(message).toContain('another operator');
    expect(after.config.init?.exec ?? undefined).toBeUndefined();
  });

  // Offsets counted from the start of the swap, so the cut lands on one of its stat or
  // rename calls. A rename cut after it took effect must count as done, not be sent again.
  for (const offset of [1, 200, 400, 800]) {
    it(`survives a drop ${offset} bytes into the swap`, async () => {
      let ctx: SimContext | undefined;
      let drop: { readonly cuts: number } | undefined;
      const onEvent = (event: DrEvent) => {
        if (ctx !== undefined && event.type === 'step-start' && event.step === 'swap') {
          drop = sim.dropSshAfterBytes(ctx.machineId, offset, { times: 1 });
        }
      };
      ctx = await seedApp(sim, { extra: { onEvent } });
      await waitForRows(sim, ctx.machineId, 10);
      const backup = await ctx.dr.backup();
      const backupIds = readLocalDatabase(backup.path);

      const report = await ctx.dr.restore(backup.id, fastHealth);
      await ctx.dr.close();

      const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
      const ids = new Set(readVolumeDatabase(volumeDir).map((row) => row.id));
      expect(drop?.cuts).toBe(1);
      expect(report.movedAside.length).toBeGreaterThan(0);
      expect(backupIds.filter((id) => !ids.has(id))).toEqual([]);
      expect(sim.appWriter(ctx.machineId).running()).toBe(true);
      expect(sim.violations()).toEqual([]);
    });
  }

  it('rolls back when the upload keeps dropping', async () => {
    // Connections drop from the start of the upload until the upload step has failed; the
    // rollback then runs on healthy connections.
    let ctx: SimContext | undefined;
    const onEvent = (event: DrEvent) => {
      if (ctx === undefined || event.type === 'transfer-progress' || event.step !== 'upload') {
        return;
      }
      if (event.type === 'step-start') {
        sim.dropSshAfterBytes(ctx.machineId, 2_000, { times: 50 });
      } else {
        sim.dropSshAfterBytes(ctx.machineId, Number.MAX_SAFE_INTEGER, { times: 1 });
      }
    };
    ctx = await seedApp(sim, {
      extra: { onEvent, transportLimits: { operationTimeoutMs: 5_000, transferDeadlineMs: 3_000 } },
    });
    await waitForRows(sim, ctx.machineId, 20);
    const backup = await ctx.dr.backup();
    const before = await ctx.client.machines.get(ctx.app, ctx.machineId);
    const committedBefore = sim.appWriter(ctx.machineId).committedIds();

    const error = await rejection(ctx.dr.restore(backup.id, fastHealth));
    await waitForRows(sim, ctx.machineId, committedBefore.length + 3);
    const after = await ctx.client.machines.get(ctx.app, ctx.machineId);
    await ctx.dr.close();

    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    const ids = new Set(readVolumeDatabase(volumeDir).map((row) => row.id));
    expect(error.code).toBe('DR_TRANSFER_FAILED');
    expect(committedBefore.filter((id) => !ids.has(id))).toEqual([]);
    expect(after.config).toEqual(before.config);
    expect(readdirSync(volumeDir).filter((name) => name.includes('flydr-restore'))).toEqual([]);
    expect(sim.violations()).toEqual([]);
  });

  it('leaves a stopped machine stopped', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 5);
    await stopMachine(ctx.client, ctx.app, ctx.machineId);
    const backup = await ctx.dr.backupFile(appDatabase(7));

    await ctx.dr.restore(backup.id, fastHealth);
    await ctx.dr.close();

    const machine = await ctx.client.machines.get(ctx.app, ctx.machineId);
    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    expect(machine.state).toBe('stopped');
    expect(machine.config?.init?.exec).toBeUndefined();
    expect(sim.appWriter(ctx.machineId).running()).toBe(false);
    expect(readVolumeDatabase(volumeDir)).toEqual(readWrites(backup.path));
  });

  it('restores where no database exists yet', async () => {
    // The app keeps app.db; other.db does not exist until the restore writes it.
    const ctx = await seedApp(sim, { extra: { databasePath: '/app/data/other.db' } });
    const backup = await ctx.dr.backupFile(appDatabase(12));
    const report = await ctx.dr.restore(backup.id, fastHealth);
    await ctx.dr.close();

    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    expect(report.preRestoreBackup).toBeUndefined();
    expect(report.movedAside).toEqual([]);
    expect(readWrites(join(volumeDir, 'other.db'))).toEqual(readWrites(backup.path));
  });

  it('saves the config when the rollback fails too', async () => {
    // Connections keep dropping from the upload on, so the rollback cannot reach the
    // machine either.
    let ctx: SimContext | undefined;
    const onEvent = (event: DrEvent) => {
      if (ctx !== undefined && event.type === 'step-start' && event.step === 'upload') {
        sim.dropSshAfterBytes(ctx.machineId, 2_000, { times: 1_000 });
      }
    };
    ctx = await seedApp(sim, {
      extra: { onEvent, transportLimits: { operationTimeoutMs: 2_000, transferDeadlineMs: 2_000 } },
    });
    await waitForRows(sim, ctx.machineId, 10);
    const backup = await ctx.dr.backup();
    const before = await ctx.client.machines.get(ctx.app, ctx.machineId);

    const error = await rejection(ctx.dr.restore(backup.id, fastHealth));
    sim.dropSshAfterBytes(ctx.machineId, Number.MAX_SAFE_INTEGER, { times: 1 });
    const configPath = String(error.details.configPath);
    const saved = JSON.parse(readFileSync(configPath, 'utf8')) as unknown;

    // Put the machine back by hand, as the hint advises, so the app runs again.
    await ctx.client.machines.update(ctx.app, ctx.machineId, { config: before.config });
    await ctx.dr.close();

    expect(error.code).toBe('DR_RESTORE_FAILED');
    expect(error.hint).toContain(configPath);
    expect(saved).toEqual(before.config);
    expect(statSync(configPath).mode & 0o777).toBe(0o600);
    expect(JSON.stringify(error)).not.toContain(before.config.image);
  });

  it('keeps a damaged database unless told to replace it', async () => {
    const ctx = await seedApp(sim, { extra: { databasePath: '/app/data/other.db' } });
    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    const damaged = readFileSync(chinookFixture);
    damaged.fill(0xa5, 49 * 4096 + 100, 49 * 4096 + 400);
    writeFileSync(join(volumeDir, 'other.db'), damaged);
    const backup = await ctx.dr.backupFile(appDatabase(8));
    const before = await ctx.client.machines.get(ctx.app, ctx.machineId);

    const refused = await rejection(ctx.dr.restore(backup.id, fastHealth));
    const afterRefusal = await ctx.client.machines.get(ctx.app, ctx.machineId);
    const stillDamaged = readFileSync(join(volumeDir, 'other.db')).equals(damaged);
    const report = await ctx.dr.restore(backup.id, { ...fastHealth, replaceDamaged: true });
    await ctx.dr.close();

    const aside = report.movedAside.find((entry) => entry.from === '/app/data/other.db');
    expect(refused.code).toBe('DR_CORRUPT');
    expect(stillDamaged).toBe(true);
    expect(afterRefusal.config).toEqual(before.config);
    expect(report.preRestoreBackup).toBeUndefined();
    expect(readWrites(join(volumeDir, 'other.db'))).toEqual(readWrites(backup.path));
    expect(
      readFileSync(join(volumeDir, (aside?.to ?? '').slice('/app/data/'.length))).equals(damaged),
    ).toBe(true);
  });

  it('restores through ExecTransport', async () => {
    const ctx = await seedApp(sim);
    const dr = createDisasterRecovery({
      app: ctx.app,
      databasePath: DATABASE_PATH,
      client: ctx.client,
      transportFactory: createExecTransportFactory({ app: ctx.app, machines: ctx.client.machines }),
      stateDir: ctx.stateDir,
    });
    const backup = await dr.backupFile(appDatabase(10));
    const report = await dr.restore(backup.id, fastHealth);
    await dr.close();
    await ctx.dr.close();

    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    const restored = readVolumeDatabase(volumeDir);
    expect(report.preRestoreBackup?.status).toBe('verified');
    expect(restored.slice(0, 10)).toEqual(readWrites(backup.path));
  });

  it('stops before the upload when the volume is full', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 10);
    const backup = await ctx.dr.backupFile(appDatabase(200));
    const before = await ctx.client.machines.get(ctx.app, ctx.machineId);
    const committedBefore = sim.appWriter(ctx.machineId).committedIds();
    sim.fillVolume(ctx.volumeId, 1024 ** 3 - 64 * 1024);

    const error = await rejection(ctx.dr.restore(backup.id, fastHealth));
    sim.fillVolume(ctx.volumeId, -(1024 ** 3));
    await waitForRows(sim, ctx.machineId, committedBefore.length + 3);
    const after = await ctx.client.machines.get(ctx.app, ctx.machineId);
    await ctx.dr.close();

    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    const ids = new Set(readVolumeDatabase(volumeDir).map((row) => row.id));
    expect(error.code).toBe('DR_NO_SPACE');
    expect(error.hint).toContain('fly volumes extend');
    expect(committedBefore.filter((id) => !ids.has(id))).toEqual([]);
    expect(after.config).toEqual(before.config);
  });

  it('deletes the old files when only that makes room', async () => {
    const setup = await fullVolumeSetup(appDatabase(20));
    const report = await setup.ctx.dr.restore(setup.backup.id, fastHealth);
    sim.fillVolume(setup.ctx.volumeId, -(1024 ** 3));
    await setup.ctx.dr.close();

    const restored = readVolumeDatabase(setup.volumeDir);
    const kept = readWrites(report.preRestoreBackup?.path ?? '');
    expect(report.movedAside).toEqual([]);
    expect(readdirSync(setup.volumeDir).filter((name) => name.includes('flydr-prev'))).toEqual([]);
    expect(restored.slice(0, 20)).toEqual(readWrites(setup.backup.path));
    expect(kept.map((row) => row.id)).toEqual(setup.oldIds);
  });

  it('uploads the old copy back when a roomless restore fails', async () => {
    const setup = await fullVolumeSetup(unhealthyDatabase());
    const error = await rejection(
      // The machine was stopped for the setup; starting it is what fails the health check.
      setup.ctx.dr.restore(setup.backup.id, {
        finish: 'started',
        healthUrl: healthUrlOf(setup.ctx.machineId),
        ...fastHealth,
      }),
    );
    sim.fillVolume(setup.ctx.volumeId, -(1024 ** 3));
    await setup.ctx.dr.close();

    const ids = new Set(readVolumeDatabase(setup.volumeDir).map((row) => row.id));
    expect(error.code).toBe('DR_HEALTH_FAILED');
    expect(setup.oldIds.filter((id) => !ids.has(id))).toEqual([]);
  });

  it('rejects latest with no backups', async () => {
    const ctx = await seedApp(sim);
    const error = await rejection(ctx.dr.restore('latest', fastHealth));
    await ctx.dr.close();
    expect(error.code).toBe('DR_BACKUP_NOT_FOUND');
  });
});

/** Row ids of the `writes` table in a local database file. */
function readLocalDatabase(path: string): number[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT id FROM writes ORDER BY id').all() as { id: number }[]).map(
      (row) => row.id,
    );
  } finally {
    db.close();
  }
}
