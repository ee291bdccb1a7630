import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Sim } from '@flydr/fly-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDisasterRecovery } from '../src/disaster-recovery.js';
import { missing, rejection, simRunOptions, volumeIds, withIdleTimeout } from './failover-setup.js';
import { DATABASE_PATH, type SimContext, seedApp, startTestSim, waitForRows } from './sim-setup.js';

let sim: Sim;

beforeAll(async () => {
  sim = await startTestSim();
});

afterAll(async () => {
  await sim?.close();
});

/** Machines and volumes of the app in a region that are not destroyed. */
async function resourcesIn(ctx: SimContext, region: string) {
  const machines = await ctx.client.machines.list(ctx.app, { region });
  const volumes = (await ctx.client.volumes.list(ctx.app)).filter(
    (volume) => volume.region === region && volume.state !== 'destroyed',
  );
  return { machines: machines.map((m) => m.id), volumes: volumes.map((v) => v.id) };
}

/** Asserts that the source in nrt runs its app, uncordoned, and nothing is left in sin. */
async function expectHealthyNrt(ctx: SimContext): Promise<void> {
  const nrt = await ctx.client.machines.get(ctx.app, ctx.machineId);
  expect(nrt.state).toBe('started');
  expect(nrt.cordoned).toBe(false);
  expect(sim.appWriter(ctx.machineId).running()).toBe(true);
  expect(await resourcesIn(ctx, 'sin')).toEqual({ machines: [], volumes: [] });
}

describe('DisasterRecovery.failover faults', () => {
  it('refuses without capacity before changing anything', async () => {
    const ctx = await seedApp(sim);
    sim.setCapacity('sin', { machines: 0 });
    const error = await rejection(ctx.dr.failover({ to: 'sin', ...simRunOptions(sim) })).finally(
      () => sim.setCapacity('sin', { machines: Number.POSITIVE_INFINITY }),
    );
    const nrt = await ctx.client.machines.get(ctx.app, ctx.machineId);
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(error.code).toBe('DR_NO_CAPACITY');
    expect(error.message).toContain('sin');
    expect(error.details.step).toBe('preflight');
    expect(await resourcesIn(ctx, 'sin')).toEqual({ machines: [], volumes: [] });
    expect(nrt.cordoned).toBe(false);
    expect(nrt.config?.init?.exec).toBeUndefined();
    expect(sim.appWriter(ctx.machineId).running()).toBe(true);
    expect(status.unfinishedOperations).toEqual([]);
  });

  it('rolls back when capacity goes away midway', async () => {
    const ctx = await seedApp(sim);
    const error = await rejection(
      ctx.dr.failover({
        to: 'sin',
        ...simRunOptions(sim, {
          afterStepPersisted: (step) => {
            if (step === 'standby') sim.setCapacity('sin', { machines: 0 });
          },
        }),
      }),
    ).finally(() => sim.setCapacity('sin', { machines: Number.POSITIVE_INFINITY }));
    await expectHealthyNrt(ctx);
    await ctx.dr.close();

    expect(error.code).toBe('DR_NO_CAPACITY');
    expect(error.details.step).toBe('prepare-target');
  });

  it('refuses a machine leased by another operator', async () => {
    const ctx = await seedApp(sim);
    const lease = await ctx.client.machines.acquireLease(ctx.app, ctx.machineId, {
      ttlSeconds: 60,
      description: 'deploy by alice',
    });
    const error = await rejection(ctx.dr.failover({ to: 'sin', ...simRunOptions(sim) }));
    await ctx.client.machines.releaseLease(ctx.app, ctx.machineId, lease.nonce);
    await expectHealthyNrt(ctx);
    await ctx.dr.close();

    expect(error.code).toBe('DR_LOCKED');
    expect(error.message).toContain('deploy by alice');
  });

  it('survives one SSH drop during the restore', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 10);
    let dropped = '';
    const report = await ctx.dr.failover({
      to: 'sin',
      ...simRunOptions(sim, {
        afterStepPersisted: async (step) => {
          if (step !== 'standby') return;
          const [target] = await ctx.client.machines.list(ctx.app, { region: 'sin' });
          dropped = target?.id ?? '';
          sim.dropSshAfterBytes(dropped, 6_000, { times: 1 });
        },
      }),
    });
    const nrtRows = sim.appWriter(ctx.machineId).committedIds();
    await ctx.dr.close();

    expect(dropped).toBe(report.targetMachineId);
    expect(missing(nrtRows, volumeIds(sim, ctx.app, report.targetMachineId))).toEqual([]);
    expect(sim.violations()).toEqual([]);
  });

  it('rolls back when SSH keeps dropping during the restore', async () => {
    const ctx = await seedApp(sim);
    let target = '';
    ctx.dr = createDisasterRecovery({
      app: ctx.app,
      databasePath: DATABASE_PATH,
      client: ctx.client,
      transportFactory: withIdleTimeout(ctx.transportFactory, 500),
      stateDir: ctx.stateDir,
      // The network recovers once the upload gave up, so the rollback can reach the target.
      onEvent: (event) => {
        if (event.type === 'step-end' && event.step === 'upload' && !event.ok) {
          sim.dropSshAfterBytes(target, Number.MAX_SAFE_INTEGER, { times: 1 });
        }
      },
    });
    await waitForRows(sim, ctx.machineId, 10);
    const error = await rejection(
      ctx.dr.failover({
        to: 'sin',
        ...simRunOptions(sim, {
          afterStepPersisted: async (step) => {
            if (step !== 'standby') return;
            const [machine] = await ctx.client.machines.list(ctx.app, { region: 'sin' });
            target = machine?.id ?? '';
            sim.dropSshAfterBytes(target, 6_000, { times: 100 });
          },
        }),
      }),
    );
    await expectHealthyNrt(ctx);
    await ctx.dr.close();

    expect(error.code).toBe('DR_TRANSFER_FAILED');
    expect(error.details.step).toBe('restore');
  });

  it('rolls back a target that fails its health check', async () => {
    const failing: Server = createServer((_request, response) => {
      response.writeHead(503);
      response.end('down');
    });
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    const failingUrl = `http://127.0.0.1:${(failing.address() as AddressInfo).port}/health`;
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 5);

    const error = await rejection(
      ctx.dr.failover({
        to: 'sin',
        ...simRunOptions(sim),
        healthTimeoutMs: 300,
        healthUrl: (machine) =>
          machine.region === 'sin' ? failingUrl : sim.appWriter(machine.id).healthUrl(),
      }),
    ).finally(() => failing.close());
    const before = sim.appWriter(ctx.machineId).committedIds();
    await waitForRows(sim, ctx.machineId, before.length + 3);
    await expectHealthyNrt(ctx);
    await ctx.dr.close();

    expect(error.code).toBe('DR_HEALTH_FAILED');
    expect(error.details.step).toBe('start-target');
    expect(missing(before, volumeIds(sim, ctx.app, ctx.machineId))).toEqual([]);
    expect(sim.violations()).toEqual([]);
  });

  it('rolls back when the caller cancels', async () => {
    const ctx = await seedApp(sim);
    const controller = new AbortController();
    const error = await rejection(
      ctx.dr.failover({
        to: 'sin',
        ...simRunOptions(sim, {
          signal: controller.signal,
          afterStepPersisted: (step) => {
            if (step === 'snapshot') controller.abort(new Error('cancelled by the operator'));
          },
        }),
      }),
    );
    await expectHealthyNrt(ctx);
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(error.code).toBe('DR_OPERATION_FAILED');
    expect(error.message).toContain('cancelled by the operator');
    expect(error.details.rollbackErrors).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
  });

  it('refuses an unreachable source without allowStaleBackup', async () => {
    const ctx = await seedApp(sim);
    await ctx.dr.backup();
    await sim.hostDown(ctx.machineId);
    const error = await rejection(ctx.dr.failover({ to: 'sin', ...simRunOptions(sim) }));
    const sin = await resourcesIn(ctx, 'sin');
    await sim.hostUp(ctx.machineId);
    await ctx.dr.close();

    expect(error.code).toBe('DR_REFUSED');
    expect(error.message).toContain('unreachable');
    expect(error.hint).toContain('allowStaleBackup');
    expect(sin).toEqual({ machines: [], volumes: [] });
  });

  it('fails over from the newest backup when allowed', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 10);
    const backup = await ctx.dr.backup();
    const backedUp = sim
      .appWriter(ctx.machineId)
      .committedIds()
      .filter((id) => id <= 10);
    await sim.hostDown(ctx.machineId);
    const report = await ctx.dr.failover({
      to: 'sin',
      allowStaleBackupMs: 60_000,
      ...simRunOptions(sim),
    });
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(report.backupId).toBe(backup.id);
    expect(report.rpoMs).toBeGreaterThan(0);
    expect(missing(backedUp, volumeIds(sim, ctx.app, report.targetMachineId))).toEqual([]);
    expect(sim.appWriter(report.targetMachineId).running()).toBe(true);
    expect(status.warnings.map((warning) => warning.code)).toContain('two-writers');
  });

  it('leaves no violations', () => {
    expect(sim.violations()).toEqual([]);
  });
});
