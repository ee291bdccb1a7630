import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createExecTransportFactory } from '@flydr/fly-client/transport';
import type { Sim } from '@flydr/fly-sim';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDisasterRecovery } from '../src/disaster-recovery.js';
import { type DrError, isDrError } from '../src/errors.js';
import { chinookFixture, tempDir } from './helpers.js';
import { DATABASE_PATH, seedApp, startTestSim, waitForRows } from './sim-setup.js';

let sim: Sim;

beforeAll(async () => {
  sim = await startTestSim({ images: { 'registry.fly.io/no-sqlite3:1': { sqlite3: false } } });
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

function writeIds(path: string): number[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT id FROM writes ORDER BY id').all() as { id: number }[]).map(
      (row) => row.id,
    );
  } finally {
    db.close();
  }
}

function integrityCheck(path: string): unknown {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.pragma('integrity_check', { simple: true });
  } finally {
    db.close();
  }
}

/** Rows readable from the volume's main database file alone, without its -wal. */
function rowsInMainFileOnly(volumeDir: string): number {
  const copy = join(tempDir(), 'main-only.db');
  copyFileSync(join(volumeDir, 'app.db'), copy);
  const db = new Database(copy);
  try {
    const table = db
      .prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'writes'")
      .get() as { n: number };
    return table.n === 0
      ? 0
      : (db.prepare('SELECT count(*) AS n FROM writes').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function missing(committed: number[], present: number[]): number[] {
  const set = new Set(present);
  return committed.filter((id) => !set.has(id));
}

describe('DisasterRecovery.backup with sqlite3-backup', () => {
  it('holds every row committed before it began', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 30);
    const committed = sim.appWriter(ctx.machineId).committedIds();
    const backup = await ctx.dr.backup({ check: 'integrity' });
    await ctx.dr.close();
    expect(backup.strategy).toBe('sqlite3-backup');
    expect(missing(committed, writeIds(backup.path))).toEqual([]);
    expect(integrityCheck(backup.path)).toBe('ok');
    expect(sim.violations()).toEqual([]);
  });

  it('records machine, region, volume and image', async () => {
    const ctx = await seedApp(sim, { region: 'sin' });
    const backup = await ctx.dr.backup();
    await ctx.dr.close();
    expect(backup.machineId).toBe(ctx.machineId);
    expect(backup.region).toBe('sin');
    expect(backup.volumeId).toBe(ctx.volumeId);
    expect(backup.imageRef).toContain(ctx.app);
    expect(backup.sourceJournalMode).toBe('wal');
  });

  it('includes commits that sit only in the -wal', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 30);
    const committed = sim.appWriter(ctx.machineId).committedIds();
    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    const inMain = rowsInMainFileOnly(volumeDir);
    const backup = await ctx.dr.backup({ strategy: 'sqlite3-backup' });
    await ctx.dr.close();
    expect(inMain).toBeLessThan(committed.length);
    expect(missing(committed, writeIds(backup.path))).toEqual([]);
  });

  it('removes its snapshot file from the volume', async () => {
    const ctx = await seedApp(sim);
    await ctx.dr.backup();
    await ctx.dr.close();
    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    expect(readdirSync(volumeDir).filter((name) => name.includes('flydr'))).toEqual([]);
  });

  it('sends step and progress events', async () => {
    const ctx = await seedApp(sim);
    await ctx.dr.backup();
    await ctx.dr.close();
    const ends = ctx.events.flatMap((e) => (e.type === 'step-end' ? [e.step] : []));
    expect(ends).toEqual([
      'select-machine',
      'connect',
      'choose-strategy',
      'remote-copy',
      'download',
      'checkpoint',
      'snapshot',
      'catalog',
    ]);
    expect(ctx.events.some((e) => e.type === 'transfer-progress')).toBe(true);
  });
});

describe('DisasterRecovery.backup with copy-validate', () => {
  it('is chosen when the image has no sqlite3', async () => {
    const slow = await startTestSim({
      writeIntervalMs: 300,
      images: { 'registry.fly.io/no-sqlite3:1': { sqlite3: false } },
    });
    try {
      const ctx = await seedApp(slow, { image: 'registry.fly.io/no-sqlite3:1' });
      await waitForRows(slow, ctx.machineId, 3);
      const committed = slow.appWriter(ctx.machineId).committedIds();
      const volumeDir = slow.app(ctx.app).machine(ctx.machineId).volumeDir as string;
      const inMain = rowsInMainFileOnly(volumeDir);
      const backup = await ctx.dr.backup({ check: 'integrity' });
      await ctx.dr.close();
      expect(backup.strategy).toBe('copy-validate');
      expect(inMain).toBeLessThan(committed.length);
      expect(missing(committed, writeIds(backup.path))).toEqual([]);
      expect(integrityCheck(backup.path)).toBe('ok');
      expect(slow.violations()).toEqual([]);
    } finally {
      await slow.close();
    }
  });

  it('gives up on a database that keeps changing', async () => {
    // The app writes every 10 ms here, faster than one copy takes over SSH, so the database
    // moves during every copy, and after its attempts copy-validate must give up clearly.
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 10);
    const error = await rejection(ctx.dr.backup({ strategy: 'copy-validate', maxAttempts: 2 }));
    const listed = await ctx.dr.list();
    await ctx.dr.close();
    expect(error.code).toBe('DR_CONCURRENT_CHANGE');
    expect(error.hint).toContain('sqlite3-backup');
    expect(listed).toEqual([]);
  });

  it('waits out a rollback journal', async () => {
    // A rollback-mode database with a non-empty -journal beside it: a write is in progress
    // (or crashed), so no consistent copy exists without SQLite rolling it back first.
    const ctx = await seedApp(sim, { extra: { databasePath: '/app/data/other.db' } });
    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    copyFileSync(chinookFixture, join(volumeDir, 'other.db'));
    writeFileSync(join(volumeDir, 'other.db-journal'), Buffer.alloc(4096, 1));
    const error = await rejection(
      ctx.dr.backup({ strategy: 'copy-validate', maxAttempts: 2, retryDelayMs: 10 }),
    );
    await ctx.dr.close();
    expect(error.code).toBe('DR_CONCURRENT_CHANGE');
    expect(error.message).toContain('rollback journal');
  });

  it('rejects sqlite3-backup on an image without sqlite3', async () => {
    const ctx = await seedApp(sim, { image: 'registry.fly.io/no-sqlite3:1' });
    const error = await rejection(ctx.dr.backup({ strategy: 'sqlite3-backup' }));
    await ctx.dr.close();
    expect(error.code).toBe('DR_INVALID_INPUT');
  });
});

describe('DisasterRecovery.backup failures', () => {
  it('names a missing remote database', async () => {
    const ctx = await seedApp(sim, { extra: { databasePath: '/app/data/missing.db' } });
    for (const strategy of ['sqlite3-backup', 'copy-validate'] as const) {
      const error = await rejection(ctx.dr.backup({ strategy }));
      expect(error.code).toBe('DR_REMOTE_DB_MISSING');
      expect(error.message).toContain('/app/data/missing.db');
    }
    const listed = await ctx.dr.list();
    await ctx.dr.close();
    expect(listed).toEqual([]);
    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    expect(readdirSync(volumeDir).filter((name) => name.startsWith('missing'))).toEqual([]);
  });

  it('rejects a corrupt remote database', async () => {
    const ctx = await seedApp(sim, { extra: { databasePath: '/app/data/other.db' } });
    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    const bytes = readFileSync(chinookFixture);
    bytes.fill(0xa5, 49 * 4096 + 100, 49 * 4096 + 400);
    writeFileSync(join(volumeDir, 'other.db'), bytes);
    for (const strategy of ['sqlite3-backup', 'copy-validate'] as const) {
      const error = await rejection(ctx.dr.backup({ strategy }));
      expect(error.code).toBe('DR_CORRUPT');
    }
    const listed = await ctx.dr.list();
    await ctx.dr.close();
    expect(listed).toEqual([]);
    expect(readdirSync(ctx.stateDir).filter((name) => name.includes('backup'))).toEqual([]);
  });

  it('names a full volume for sqlite3-backup', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 10);
    // The 1 GiB volume keeps less room than one more copy of the database needs.
    sim.fillVolume(ctx.volumeId, 1024 ** 3 - 64 * 1024);
    const error = await rejection(ctx.dr.backup({ strategy: 'sqlite3-backup' }));
    const listed = await ctx.dr.list();
    sim.fillVolume(ctx.volumeId, -(1024 ** 3));
    await ctx.dr.close();
    expect(error.code).toBe('DR_NO_SPACE');
    expect(error.hint).toContain('copy-validate');
    expect(listed).toEqual([]);
  });

  it('names a stopped machine', async () => {
    const ctx = await seedApp(sim);
    await ctx.client.machines.stop(ctx.app, ctx.machineId);
    const machine = await ctx.client.machines.get(ctx.app, ctx.machineId);
    await ctx.client.machines.wait(ctx.app, ctx.machineId, {
      state: 'stopped',
      instanceId: machine.instance_id ?? undefined,
    });
    const error = await rejection(ctx.dr.backup());
    const byId = await rejection(ctx.dr.backup({ machineId: ctx.machineId }));
    await ctx.dr.close();
    expect(error.code).toBe('DR_MACHINE_NOT_STARTED');
    expect(error.hint).toContain(`fly machine start ${ctx.machineId}`);
    expect(byId.code).toBe('DR_MACHINE_NOT_STARTED');
  });

  it('names several candidate machines', async () => {
    const ctx = await seedApp(sim);
    // Its app does not run, so the app never has two writers.
    const second = await sim.seedMachine(ctx.app, {
      region: 'nrt',
      init: { exec: ['sleep', 'inf'] },
    });
    copyFileSync(chinookFixture, join(sim.volumeDir(second.volumeId), 'app.db'));
    const error = await rejection(ctx.dr.backup());
    const chosen = await ctx.dr.backup({ machineId: second.machineId });
    await ctx.dr.close();
    expect(error.code).toBe('DR_SOURCE_MACHINE');
    expect(error.message).toContain(ctx.machineId);
    expect(error.message).toContain(second.machineId);
    expect(chosen.machineId).toBe(second.machineId);
  });

  it('selects by region', async () => {
    const ctx = await seedApp(sim);
    const other = await sim.seedMachine(ctx.app, {
      region: 'sin',
      init: { exec: ['sleep', 'inf'] },
    });
    copyFileSync(chinookFixture, join(sim.volumeDir(other.volumeId), 'app.db'));
    const backup = await ctx.dr.backup({ region: 'sin' });
    await ctx.dr.close();
    expect(backup.machineId).toBe(other.machineId);
  });

  it('names an unknown machine id', async () => {
    const ctx = await seedApp(sim);
    const error = await rejection(ctx.dr.backup({ machineId: '0000000000000' }));
    await ctx.dr.close();
    expect(error.code).toBe('DR_SOURCE_MACHINE');
    expect(error.hint).toContain(ctx.machineId);
  });

  it('names a path outside every mount', async () => {
    const ctx = await seedApp(sim, { extra: { databasePath: '/srv/app.db' } });
    const error = await rejection(ctx.dr.backup());
    await ctx.dr.close();
    expect(error.code).toBe('DR_SOURCE_MACHINE');
    expect(error.message).toContain('/srv/app.db');
  });

  it('survives one dropped connection', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 20);
    sim.dropSshAfterBytes(ctx.machineId, 20_000, { times: 1 });
    const backup = await ctx.dr.backup();
    await ctx.dr.close();
    expect(backup.status).toBe('verified');
  });

  it('fails clearly when transfers keep dropping', async () => {
    const ctx = await seedApp(sim);
    const first = await ctx.dr.backup();
    sim.dropSshAfterBytes(ctx.machineId, 5_000, { times: 50 });
    const error = await rejection(ctx.dr.backup());
    sim.dropSshAfterBytes(ctx.machineId, Number.MAX_SAFE_INTEGER, { times: 1 });
    const listed = await ctx.dr.list();
    const [report] = await ctx.dr.verify('latest');
    await ctx.dr.close();
    expect(error.code).toBe('DR_TRANSFER_FAILED');
    expect(listed.map((b) => b.id)).toEqual([first.id]);
    expect(report?.ok).toBe(true);
    expect(readdirSync(ctx.stateDir).filter((name) => name.includes('flydr-tmp'))).toEqual([]);
  });

  it('needs a client and a transport factory', async () => {
    const ctx = await seedApp(sim, { extra: { client: undefined } });
    const error = await rejection(ctx.dr.backup());
    await ctx.dr.close();
    expect(error.code).toBe('DR_INVALID_INPUT');
  });

  it('leaves no violations', () => {
    expect(sim.violations()).toEqual([]);
  });
});

describe('DisasterRecovery.backup over the exec API', () => {
  it('snapshots through ExecTransport', async () => {
    const ctx = await seedApp(sim);
    const dr = createDisasterRecovery({
      app: ctx.app,
      databasePath: DATABASE_PATH,
      client: ctx.client,
      transportFactory: createExecTransportFactory({ app: ctx.app, machines: ctx.client.machines }),
      stateDir: ctx.stateDir,
    });
    await waitForRows(sim, ctx.machineId, 20);
    const committed = sim.appWriter(ctx.machineId).committedIds();
    const backup = await dr.backup();
    await dr.close();
    await ctx.dr.close();
    expect(backup.strategy).toBe('sqlite3-backup');
    expect(missing(committed, writeIds(backup.path))).toEqual([]);
  });
});
