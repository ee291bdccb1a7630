import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFlyClient } from '@flydr/fly-client';
import type { Sim } from '@flydr/fly-sim';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type SimContext,
  seedApp,
  startTestSim,
  waitForRows,
} from '../packages/dr-core/test/sim-setup.js';
import {
  ExitCode,
  exitCodeOf,
  missing,
  rejection,
  simRunOptions,
  volumeIds,
} from './fault-setup.js';

// Fault-matrix cells of a full local disk: the state folder sits on a 4 MiB tmpfs mounted
// for this file (mounting needs root, which the test machines have), filled until less
// room is left than the next snapshot needs. The app's database gets 1 MiB of padding, so
// the room left (256 KiB) has space for the journal's writes but not for a snapshot.

const mountPoint = join(tmpdir(), `flydr-full-ops-${process.pid}`);
let sim: Sim | undefined;
let open: SimContext | undefined;
let fillers = 0;

const PADDING_BYTES = 1024 * 1024;
const ROOM_LEFT_BYTES = 256 * 1024;

beforeAll(() => {
  mkdirSync(mountPoint, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'flydr-test', mountPoint]);
});

afterEach(async () => {
  // A failed check can skip the test's own close, and an open catalog blocks the umount.
  await open?.dr.close();
  open = undefined;
  await sim?.close();
  sim = undefined;
  for (const name of readdirSync(mountPoint)) {
    rmSync(join(mountPoint, name), { recursive: true, force: true });
  }
});

afterAll(() => {
  execFileSync('umount', [mountPoint]);
  rmdirSync(mountPoint);
});

/** Seeds an app whose state folder is on the tmpfs, with 10 rows and the padding in nrt. */
async function setUp(): Promise<SimContext & { sim: Sim }> {
  const active = await startTestSim();
  sim = active;
  const client = createFlyClient({
    token: active.token,
    baseUrl: active.apiUrl,
    graphqlUrl: active.graphqlUrl,
    rateLimit: false,
    retry: { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 200 },
  });
  fillers += 1;
  const stateDir = join(mountPoint, `state-${fillers}`);
  const ctx = await seedApp(active, { extra: { client, stateDir } });
  open = ctx;
  await waitForRows(active, ctx.machineId, 10);
  padDatabase(active, ctx);
  return { ...ctx, stateDir, sim: active };
}

/** Adds a 1 MiB padding table to the app's database on the nrt volume, beside its writer. */
function padDatabase(active: Sim, ctx: SimContext): void {
  const volumeDir = active.app(ctx.app).machine(ctx.machineId).volumeDir as string;
  const db = new Database(join(volumeDir, 'app.db'), { timeout: 5_000 });
  try {
    db.exec('CREATE TABLE padding (data BLOB NOT NULL)');
    db.prepare('INSERT INTO padding (data) VALUES (randomblob(?))').run(PADDING_BYTES);
  } finally {
    db.close();
  }
}

/** Fills the tmpfs until `leaveBytes` remain free. */
function fillUntil(leaveBytes: number): void {
  const stats = statfsSync(mountPoint);
  const free = stats.bavail * stats.bsize;
  fillers += 1;
  writeFileSync(
    join(mountPoint, `filler-${fillers}`),
    Buffer.alloc(Math.max(0, free - leaveBytes)),
  );
}

/** Names of temporary files left in the state folder. */
function leftovers(stateDir: string): string[] {
  return readdirSync(stateDir).filter((name) => name.includes('flydr-tmp'));
}

describe('local disk full', () => {
  it('failover rolls back with nrt serving', async () => {
    const ctx = await setUp();
    const backup = await ctx.dr.backup();
    fillUntil(ROOM_LEFT_BYTES);

    const error = await rejection(ctx.dr.failover({ to: 'sin', ...simRunOptions(ctx.sim) }));
    const status = await ctx.dr.status();
    const listed = await ctx.dr.list();
    const nrt = await ctx.client.machines.get(ctx.app, ctx.machineId);
    await ctx.dr.close();

    expect(error.code).toBe('DR_NO_SPACE');
    expect(error.details.step).toBe('snapshot');
    expect(error.message).toContain('no space left');
    expect(error.hint).toMatch(/Free space/);
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
    expect(nrt.state).toBe('started');
    expect(nrt.cordoned).toBe(false);
    expect(ctx.sim.appWriter(ctx.machineId).running()).toBe(true);
    expect(listed.map((item) => item.id)).toEqual([backup.id]);
    expect(leftovers(ctx.stateDir)).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(ctx.sim.violations()).toEqual([]);
  });

  it('failback rolls back with sin serving', async () => {
    const ctx = await setUp();
    const failover = await ctx.dr.failover({ to: 'sin', ...simRunOptions(ctx.sim) });
    await waitForRows(ctx.sim, failover.targetMachineId, 5);
    const before = (await ctx.dr.list()).map((item) => item.id);
    fillUntil(ROOM_LEFT_BYTES);

    const error = await rejection(ctx.dr.failback(simRunOptions(ctx.sim)));
    const sinRows = ctx.sim.appWriter(failover.targetMachineId).committedIds();
    const status = await ctx.dr.status();
    const listed = await ctx.dr.list();
    await ctx.dr.close();

    expect(error.code).toBe('DR_NO_SPACE');
    expect(error.details.step).toBe('snapshot');
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
    expect(ctx.sim.appWriter(failover.targetMachineId).running()).toBe(true);
    expect(ctx.sim.appWriter(ctx.machineId).running()).toBe(false);
    expect(missing(sinRows, volumeIds(ctx.sim, ctx.app, failover.targetMachineId))).toEqual([]);
    expect(listed.map((item) => item.id)).toEqual(before);
    expect(leftovers(ctx.stateDir)).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(ctx.sim.violations()).toEqual([]);
  });

  it('sync fails and leaves the standby as it was', async () => {
    const ctx = await setUp();
    const standby = await ctx.dr.prepareStandby({ region: 'sin', machine: true });
    const standbyId = standby.machineId as string;
    await ctx.dr.sync({ from: 'nrt', to: 'sin' });
    const syncedRows = volumeIds(ctx.sim, ctx.app, standbyId);
    const before = (await ctx.dr.list()).map((item) => item.id);
    fillUntil(ROOM_LEFT_BYTES);

    const error = await rejection(ctx.dr.sync({ from: 'nrt', to: 'sin' }));
    const status = await ctx.dr.status();
    const listed = await ctx.dr.list();
    const machine = await ctx.client.machines.get(ctx.app, standbyId);
    await ctx.dr.close();

    expect(error.code).toBe('DR_NO_SPACE');
    expect(error.details.step).toBe('snapshot');
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
    expect(volumeIds(ctx.sim, ctx.app, standbyId)).toEqual(syncedRows);
    expect(machine.state).toBe('stopped');
    expect(listed.map((item) => item.id)).toEqual(before);
    expect(leftovers(ctx.stateDir)).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(ctx.sim.violations()).toEqual([]);
  });
});

describe('local disk full before the journal', () => {
  it('failover fails before any change', async () => {
    const ctx = await setUp();
    const backup = await ctx.dr.backup();
    // One tmpfs page of room: the lock file fits, the journal's first write does not.
    fillUntil(4096);

    const error = await rejection(ctx.dr.failover({ to: 'sin', ...simRunOptions(ctx.sim) }));
    const nrt = await ctx.client.machines.get(ctx.app, ctx.machineId);
    const sinMachines = await ctx.client.machines.list(ctx.app, { region: 'sin' });
    const listed = await ctx.dr.list();
    await ctx.dr.close();

    expect(error.code).toBe('DR_NO_SPACE');
    expect(error.message).toContain('operation journal');
    expect(error.hint).toMatch(/Free space/);
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
    expect(nrt.state).toBe('started');
    expect(nrt.cordoned).toBe(false);
    expect(sinMachines).toEqual([]);
    expect(ctx.sim.appWriter(ctx.machineId).running()).toBe(true);
    expect(listed.map((item) => item.id)).toEqual([backup.id]);
    expect(ctx.sim.violations()).toEqual([]);
  });
});
