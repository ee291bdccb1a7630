import type { Sim } from '@flydr/fly-sim';
import { afterEach, describe, expect, it } from 'vitest';
import {
  anyRejection,
  closeFaultSims,
  databaseIds,
  ExitCode,
  exitCodeOf,
  type FaultContext,
  faultSeed,
  missing,
  rejection,
  seededRandom,
  setUpFaultApp,
  simRunOptions,
  volumeIds,
  waitForRows,
} from './fault-setup.js';

// Fault-matrix cells of the transfers: SSH drops, rate-limit storms and sync's own errors
// in backup, restore and sync, and SSH drops in a failback.

afterEach(closeFaultSims);

/** Runs a failover to sin and waits until the app there has written a few rows. */
async function failOverToSin(ctx: FaultContext): Promise<string> {
  const failover = await ctx.dr.failover({ to: 'sin', ...simRunOptions(ctx.sim) });
  await waitForRows(ctx.sim, failover.targetMachineId, 5);
  return failover.targetMachineId;
}

/** Prepares a stopped standby machine in sin and returns its id. */
async function standbyInSin(ctx: FaultContext): Promise<string> {
  const standby = await ctx.dr.prepareStandby({ region: 'sin', machine: true });
  return standby.machineId as string;
}

/** Run options of a restore onto the seeded machine, with its health URL. */
function restoreOptions(sim: Sim, machineId: string) {
  return {
    healthUrl: () => sim.appWriter(machineId).healthUrl(),
    healthTimeoutMs: 5_000,
    healthPollMs: 50,
  };
}

// A cut after 2,000 bytes lands in the SSH handshake: the key exchange alone is larger.
const HANDSHAKE_CUT_BYTES = 2_000;

describe('SSH drop in the handshake', () => {
  it('backup connects again', async () => {
    const ctx = await setUpFaultApp();
    const committed = ctx.sim.appWriter(ctx.machineId).committedIds();
    const drop = ctx.sim.dropSshAfterBytes(ctx.machineId, HANDSHAKE_CUT_BYTES, { times: 1 });

    const backup = await ctx.dr.backup();
    const listed = await ctx.dr.list();
    await ctx.dr.close();

    expect(drop.cuts).toBe(1);
    expect(listed.map((item) => item.id)).toEqual([backup.id]);
    expect(backup.status).toBe('verified');
    expect(committed.length).toBeGreaterThan(0);
    expect(ctx.sim.violations()).toEqual([]);
  });

  it('restore connects again', async () => {
    const ctx = await setUpFaultApp();
    const backup = await ctx.dr.backup();
    const drop = ctx.sim.dropSshAfterBytes(ctx.machineId, HANDSHAKE_CUT_BYTES, { times: 1 });

    const report = await ctx.dr.restore(backup.id, restoreOptions(ctx.sim, ctx.machineId));
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(drop.cuts).toBe(1);
    expect(report.preRestoreBackup?.status).toBe('verified');
    expect(ctx.sim.appWriter(ctx.machineId).running()).toBe(true);
    expect(status.unfinishedOperations).toEqual([]);
    expect(ctx.sim.violations()).toEqual([]);
  });

  it('sync connects again', async () => {
    const ctx = await setUpFaultApp();
    const standbyId = await standbyInSin(ctx);
    const committed = ctx.sim.appWriter(ctx.machineId).committedIds();
    const drop = ctx.sim.dropSshAfterBytes(standbyId, HANDSHAKE_CUT_BYTES, { times: 1 });

    const report = await ctx.dr.sync({ from: 'nrt', to: 'sin' });
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(drop.cuts).toBe(1);
    expect(missing(committed, volumeIds(ctx.sim, ctx.app, report.targetMachineId))).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(ctx.sim.violations()).toEqual([]);
  });
});

describe('SSH drop in a failback', () => {
  it('survives one drop on the old primary', async () => {
    const ctx = await setUpFaultApp();
    const sinId = await failOverToSin(ctx);
    const drop = ctx.sim.dropSshAfterBytes(ctx.machineId, 6_000, { times: 1 });

    const back = await ctx.dr.failback(simRunOptions(ctx.sim));
    const sinRows = ctx.sim.appWriter(sinId).committedIds();
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(drop.cuts).toBe(1);
    expect(back.targetMachineId).toBe(ctx.machineId);
    expect(ctx.sim.appWriter(ctx.machineId).running()).toBe(true);
    expect(missing(sinRows, volumeIds(ctx.sim, ctx.app, ctx.machineId))).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(ctx.sim.violations()).toEqual([]);
  });
});

describe('sync errors', () => {
  it('names the lease holder with DR_LOCKED', async () => {
    const ctx = await setUpFaultApp();
    const standbyId = await standbyInSin(ctx);
    const lease = await ctx.client.machines.acquireLease(ctx.app, standbyId, {
      ttlSeconds: 60,
      description: 'deploy by alice',
    });

    const error = await rejection(ctx.dr.sync({ from: 'nrt', to: 'sin' }));
    await ctx.client.machines.releaseLease(ctx.app, standbyId, lease.nonce);
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(error.code).toBe('DR_LOCKED');
    expect(error.message).toContain('deploy by alice');
    expect(error.hint).toMatch(/run the command again/);
    expect(exitCodeOf(error)).toBe(ExitCode.Refused);
    expect(volumeIds(ctx.sim, ctx.app, standbyId)).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(ctx.sim.violations()).toEqual([]);
  });

  it('names a source host that is down', async () => {
    const ctx = await setUpFaultApp();
    const standbyId = await standbyInSin(ctx);
    await ctx.sim.hostDown(ctx.machineId);

    const error = await anyRejection(ctx.dr.sync({ from: 'nrt', to: 'sin' }));
    await ctx.sim.hostUp(ctx.machineId);
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(error.code).toBe('DR_SOURCE_MACHINE');
    expect(error.message).toContain(ctx.machineId);
    expect(error.message).toContain('unreachable');
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
    expect(volumeIds(ctx.sim, ctx.app, standbyId)).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(ctx.sim.violations()).toEqual([]);
  });
});

// Eight 429s in a row outlast the client's five attempts, so only the operation's own
// patience gets the call through.
const storm429 = { status: 429, body: { error: 'rate limited' }, times: 8 };

describe('429 storm longer than the client retries', () => {
  it('backup completes', async () => {
    const ctx = await setUpFaultApp();
    const committed = ctx.sim.appWriter(ctx.machineId).committedIds();
    const fault = ctx.sim.injectFault({
      method: 'GET',
      path: '/v1/apps/:app/machines',
      ...storm429,
    });

    const backup = await ctx.dr.backup();
    const listed = await ctx.dr.list();
    await ctx.dr.close();

    expect(fault.hits).toBe(8);
    expect(listed.map((item) => item.id)).toEqual([backup.id]);
    expect(missing(committed, databaseIds(backup.path))).toEqual([]);
    expect(ctx.sim.violations()).toEqual([]);
  });

  it('restore completes', async () => {
    const ctx = await setUpFaultApp();
    const backup = await ctx.dr.backup();
    const fault = ctx.sim.injectFault({
      method: 'GET',
      path: '/v1/apps/:app/machines/:id',
      ...storm429,
    });

    await ctx.dr.restore(backup.id, restoreOptions(ctx.sim, ctx.machineId));
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(fault.hits).toBe(8);
    expect(missing(databaseIds(backup.path), volumeIds(ctx.sim, ctx.app, ctx.machineId))).toEqual(
      [],
    );
    expect(ctx.sim.appWriter(ctx.machineId).running()).toBe(true);
    expect(status.unfinishedOperations).toEqual([]);
    expect(ctx.sim.violations()).toEqual([]);
  });

  it('sync completes', async () => {
    const ctx = await setUpFaultApp();
    const standbyId = await standbyInSin(ctx);
    const committed = ctx.sim.appWriter(ctx.machineId).committedIds();
    const fault = ctx.sim.injectFault({
      method: 'GET',
      path: '/v1/apps/:app/machines/:id',
      ...storm429,
    });

    const report = await ctx.dr.sync({ from: 'nrt', to: 'sin' });
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(fault.hits).toBe(8);
    expect(report.targetMachineId).toBe(standbyId);
    expect(missing(committed, volumeIds(ctx.sim, ctx.app, standbyId))).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(ctx.sim.violations()).toEqual([]);
  });

  it('backup names the call when 429s never stop', async () => {
    const ctx = await setUpFaultApp();
    const first = await ctx.dr.backup();
    const fault = ctx.sim.injectFault({
      method: 'GET',
      path: '/v1/apps/:app/machines',
      status: 429,
      body: { error: 'rate limited' },
      times: 1_000,
    });

    const error = await rejection(ctx.dr.backup());
    fault.remove();
    const listed = await ctx.dr.list();
    await ctx.dr.close();

    expect(error.code).toBe('DR_RATE_LIMITED');
    expect(error.message).toContain('machines.list');
    expect(error.hint).toMatch(/run the command again/);
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
    expect(fault.hits).toBe(25);
    expect(listed.map((item) => item.id)).toEqual([first.id]);
    expect(ctx.sim.violations()).toEqual([]);
  });
});

// One seed for the file; FLYDR_FAULT_SEED=<n> replays a run.
const seed = faultSeed();
const random = seededRandom(seed);
console.info(`SSH drop offsets use FLYDR_FAULT_SEED=${seed}`);

/**
 * Returns a cut offset from 1,000 to 8,000 bytes: from inside the SSH handshake to past the
 * first pages of the database, which every operation moves.
 */
function dropOffset(): number {
  return 1_000 + Math.floor(random() * 7_000);
}

describe(`SSH drop at a random byte (FLYDR_FAULT_SEED=${seed})`, () => {
  it('backup completes', async () => {
    const ctx = await setUpFaultApp();
    const committed = ctx.sim.appWriter(ctx.machineId).committedIds();
    const offset = dropOffset();
    const drop = ctx.sim.dropSshAfterBytes(ctx.machineId, offset, { times: 1 });

    const backup = await ctx.dr.backup();
    const listed = await ctx.dr.list();
    await ctx.dr.close();

    expect(drop.cuts, `offset ${offset}`).toBe(1);
    expect(listed.map((item) => item.id)).toEqual([backup.id]);
    expect(missing(committed, databaseIds(backup.path))).toEqual([]);
    expect(ctx.sim.violations()).toEqual([]);
  });

  it('restore completes', async () => {
    const ctx = await setUpFaultApp();
    const backup = await ctx.dr.backup();
    const offset = dropOffset();
    const drop = ctx.sim.dropSshAfterBytes(ctx.machineId, offset, { times: 1 });

    const report = await ctx.dr.restore(backup.id, restoreOptions(ctx.sim, ctx.machineId));
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(drop.cuts, `offset ${offset}`).toBe(1);
    expect(report.preRestoreBackup?.status).toBe('verified');
    expect(missing(databaseIds(backup.path), volumeIds(ctx.sim, ctx.app, ctx.machineId))).toEqual(
      [],
    );
    expect(ctx.sim.appWriter(ctx.machineId).running()).toBe(true);
    expect(status.unfinishedOperations).toEqual([]);
    expect(ctx.sim.violations()).toEqual([]);
  });

  it('failover completes', async () => {
    const ctx = await setUpFaultApp();
    const offset = dropOffset();
    const drop = ctx.sim.dropSshAfterBytes(ctx.machineId, offset, { times: 1 });

    const report = await ctx.dr.failover({ to: 'sin', ...simRunOptions(ctx.sim) });
    const nrtRows = ctx.sim.appWriter(ctx.machineId).committedIds();
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(drop.cuts, `offset ${offset}`).toBe(1);
    expect(ctx.sim.appWriter(report.targetMachineId).running()).toBe(true);
    expect(missing(nrtRows, volumeIds(ctx.sim, ctx.app, report.targetMachineId))).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(ctx.sim.violations()).toEqual([]);
  });

  it('failback completes', async () => {
    const ctx = await setUpFaultApp();
    const sinId = await failOverToSin(ctx);
    const offset = dropOffset();
    const drop = ctx.sim.dropSshAfterBytes(ctx.machineId, offset, { times: 1 });

    const back = await ctx.dr.failback(simRunOptions(ctx.sim));
    const sinRows = ctx.sim.appWriter(sinId).committedIds();
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(drop.cuts, `offset ${offset}`).toBe(1);
    expect(back.targetMachineId).toBe(ctx.machineId);
    expect(ctx.sim.appWriter(ctx.machineId).running()).toBe(true);
    expect(missing(sinRows, volumeIds(ctx.sim, ctx.app, ctx.machineId))).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(ctx.sim.violations()).toEqual([]);
  });

  it('sync completes', async () => {
    const ctx = await setUpFaultApp();
    const standbyId = await standbyInSin(ctx);
    const committed = ctx.sim.appWriter(ctx.machineId).committedIds();
    const offset = dropOffset();
    const drop = ctx.sim.dropSshAfterBytes(standbyId, offset, { times: 1 });

    const report = await ctx.dr.sync({ from: 'nrt', to: 'sin' });
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(drop.cuts, `offset ${offset}`).toBe(1);
    expect(missing(committed, volumeIds(ctx.sim, ctx.app, report.targetMachineId))).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(ctx.sim.violations()).toEqual([]);
  });
});
