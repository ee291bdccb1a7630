import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FAILOVER_STEPS, type FailoverReport } from '@flydr/dr-core';
import type { FaultHandle, FaultSpec, Sim, SimOptions } from '@flydr/fly-sim';
import { afterEach, describe, expect, it } from 'vitest';
import {
  anyRejection,
  closeFaultSims,
  databaseIds,
  ExitCode,
  exitCodeOf,
  machineCapacityShapes,
  missing,
  rejection,
  replacing412,
  type SimContext,
  setUpFaultApp,
  simRunOptions,
  volumeCapacityShapes,
  volumeIds,
  waitForRows,
} from './fault-setup.js';

// Cells of the fault matrix that the package tests do not reach: API faults injected into a
// whole failover, and every known capacity error shape. Each cell checks that no committed
// row is lost and the sim saw no violation.

let sim: Sim | undefined;

afterEach(async () => {
  sim = undefined;
  await closeFaultSims();
});

/** Starts a sim and an app whose client retries quickly and times out after `timeoutMs`. */
async function setUp(options: SimOptions = {}, timeoutMs = 30_000): Promise<SimContext> {
  const ctx = await setUpFaultApp(options, timeoutMs);
  sim = ctx.sim;
  return ctx;
}

/** Runs a failover to sin and checks that every row committed in nrt reached sin. */
async function expectCleanFailover(ctx: SimContext, active: Sim): Promise<FailoverReport> {
  const report = await ctx.dr.failover({ to: 'sin', ...simRunOptions(active) });
  const nrtRows = active.appWriter(ctx.machineId).committedIds();
  const status = await ctx.dr.status();
  await ctx.dr.close();

  expect(active.appWriter(report.targetMachineId).running()).toBe(true);
  expect(missing(nrtRows, volumeIds(active, ctx.app, report.targetMachineId))).toEqual([]);
  expect(status.unfinishedOperations).toEqual([]);
  expect(active.violations()).toEqual([]);
  return report;
}

describe('failover under API faults', () => {
  it('completes through 503 on reads', async () => {
    const ctx = await setUp();
    const active = sim as Sim;
    const fault = active.injectFault({
      method: 'GET',
      path: '/v1/apps/:app/machines/:id',
      status: 503,
      body: { error: 'service unavailable' },
      times: 3,
    });

    await expectCleanFailover(ctx, active);
    expect(fault.hits).toBe(3);
  });

  it('completes through a read that times out', async () => {
    const ctx = await setUp({}, 500);
    const active = sim as Sim;
    const fault = active.injectFault({
      method: 'GET',
      path: '/v1/apps/:app/volumes',
      delayMs: 2_000,
      times: 1,
    });

    await expectCleanFailover(ctx, active);
    expect(fault.hits).toBe(1);
  });

  it('completes through connection resets', async () => {
    const ctx = await setUp();
    const active = sim as Sim;
    const fault = active.injectFault({
      method: 'GET',
      path: '/v1/apps/:app/machines/:id',
      reset: true,
      times: 2,
    });

    await expectCleanFailover(ctx, active);
    expect(fault.hits).toBe(2);
  });

  it('completes when a new machine is not found yet', async () => {
    const ctx = await setUp({ notFoundAfterCreateMs: 300 });
    const active = sim as Sim;
    // The seeded machine is hidden for the same time, so the failover starts after it shows.
    await new Promise((resolve) => setTimeout(resolve, 400));

    const report = await expectCleanFailover(ctx, active);
    const hidden = active
      .requests()
      .filter((request) => request.status === 404 && request.key === report.targetMachineId);

    expect(hidden.length).toBeGreaterThan(0);
  });
});

/** Runs a failover to sin that must fail for lack of capacity, and checks nrt is untouched. */
async function expectNoCapacity(
  ctx: SimContext,
  active: Sim,
  afterStepPersisted?: (step: string) => void,
) {
  const error = await rejection(
    ctx.dr.failover({
      to: 'sin',
      ...simRunOptions(active, afterStepPersisted === undefined ? {} : { afterStepPersisted }),
    }),
  );
  const status = await ctx.dr.status();
  const nrt = await ctx.client.machines.get(ctx.app, ctx.machineId);
  await ctx.dr.close();

  expect(error.code).toBe('DR_NO_CAPACITY');
  expect(error.message).toMatch(/capacity/);
  expect(nrt.state).toBe('started');
  expect(nrt.cordoned).toBe(false);
  expect(active.appWriter(ctx.machineId).running()).toBe(true);
  expect(status.unfinishedOperations).toEqual([]);
  expect(active.violations()).toEqual([]);
  return error;
}

describe('failover when capacity goes midway', () => {
  for (const shape of machineCapacityShapes) {
    it(`rolls back on ${shape}`, async () => {
      const ctx = await setUp({ capacityErrors: shape });
      const active = sim as Sim;

      const error = await expectNoCapacity(ctx, active, (step) => {
        if (step === 'standby') active.setCapacity('sin', { machines: 0 });
      });

      expect(error.details.step).toBe('prepare-target');
      expect(error.message).toContain('region sin ran out of capacity');
      expect(error.hint).toContain('flydr failover --to sin');
      expect(exitCodeOf(error)).toBe(ExitCode.Refused);
    });
  }

  for (const shape of volumeCapacityShapes) {
    it(`refuses at preflight with ${shape}`, async () => {
      const ctx = await setUp({ capacityErrors: shape });
      const active = sim as Sim;
      active.setCapacity('sin', { volumes: 0 });

      const error = await expectNoCapacity(ctx, active);

      expect(error.details.step).toBe('preflight');
      expect(error.message).toContain('region sin has no capacity');
      expect(exitCodeOf(error)).toBe(ExitCode.Refused);
    });
  }
});

/** An API fault on the reads every operation repeats. */
interface ReadFault {
  name: string;
  spec: Omit<FaultSpec, 'path' | 'method'>;
  /** Client timeout per request. @default 30000 */
  timeoutMs?: number;
}

const readFaults: ReadFault[] = [
  // Four in a row fit the client's five attempts. fault-matrix-transfers.test.ts runs longer
  // storms.
  { name: '429 storm', spec: { status: 429, body: { error: 'rate limited' }, times: 4 } },
  { name: '503', spec: { status: 503, body: { error: 'service unavailable' }, times: 3 } },
  { name: 'connection reset', spec: { reset: true, times: 2 } },
  { name: 'a read timeout', spec: { delayMs: 2_000, times: 1 }, timeoutMs: 500 },
];

/** Injects `fault` on List Machines (`list`) or Get Machine (`get`) and returns its handle. */
function injectRead(active: Sim, fault: ReadFault, call: 'list' | 'get' = 'get'): FaultHandle {
  const path = call === 'list' ? '/v1/apps/:app/machines' : '/v1/apps/:app/machines/:id';
  return active.injectFault({ method: 'GET', path, ...fault.spec });
}

describe('other operations under API faults', () => {
  for (const fault of readFaults) {
    it(`backup completes through ${fault.name}`, async () => {
      const ctx = await setUp({}, fault.timeoutMs);
      const active = sim as Sim;
      const committed = active.appWriter(ctx.machineId).committedIds();
      const handle = injectRead(active, fault, 'list');

      const backup = await ctx.dr.backup();
      const listed = await ctx.dr.list();
      await ctx.dr.close();

      expect(handle.hits).toBeGreaterThan(0);
      expect(backup.status).toBe('verified');
      expect(listed.map((item) => item.id)).toEqual([backup.id]);
      expect(missing(committed, databaseIds(backup.path))).toEqual([]);
      expect(active.violations()).toEqual([]);
    });

    it(`restore completes through ${fault.name}`, async () => {
      const ctx = await setUp({}, fault.timeoutMs);
      const active = sim as Sim;
      const backup = await ctx.dr.backup();
      const handle = injectRead(active, fault);

      await ctx.dr.restore(backup.id, {
        healthUrl: () => active.appWriter(ctx.machineId).healthUrl(),
        healthTimeoutMs: 5_000,
        healthPollMs: 50,
      });
      const status = await ctx.dr.status();
      await ctx.dr.close();

      expect(handle.hits).toBeGreaterThan(0);
      expect(missing(databaseIds(backup.path), volumeIds(active, ctx.app, ctx.machineId))).toEqual(
        [],
      );
      expect(active.appWriter(ctx.machineId).running()).toBe(true);
      expect(status.unfinishedOperations).toEqual([]);
      expect(active.violations()).toEqual([]);
    });

    it(`sync completes through ${fault.name}`, async () => {
      const ctx = await setUp({}, fault.timeoutMs);
      const active = sim as Sim;
      await ctx.dr.prepareStandby({ region: 'sin', machine: true });
      const committed = active.appWriter(ctx.machineId).committedIds();
      const handle = injectRead(active, fault);

      const report = await ctx.dr.sync({ from: 'nrt', to: 'sin' });
      const status = await ctx.dr.status();
      await ctx.dr.close();

      expect(handle.hits).toBeGreaterThan(0);
      expect(missing(committed, volumeIds(active, ctx.app, report.targetMachineId))).toEqual([]);
      expect(status.unfinishedOperations).toEqual([]);
      expect(active.violations()).toEqual([]);
    });

    it(`failback completes through ${fault.name}`, async () => {
      const ctx = await setUp({}, fault.timeoutMs);
      const active = sim as Sim;
      const failover = await ctx.dr.failover({ to: 'sin', ...simRunOptions(active) });
      await waitForRows(active, failover.targetMachineId, 5);
      const handle = injectRead(active, fault);

      const back = await ctx.dr.failback(simRunOptions(active));
      const sinRows = active.appWriter(failover.targetMachineId).committedIds();
      const status = await ctx.dr.status();
      await ctx.dr.close();

      expect(handle.hits).toBeGreaterThan(0);
      expect(back.to).toBe('nrt');
      expect(missing(sinRows, volumeIds(active, ctx.app, back.targetMachineId))).toEqual([]);
      expect(active.appWriter(back.targetMachineId).running()).toBe(true);
      expect(status.unfinishedOperations).toEqual([]);
      expect(active.violations()).toEqual([]);
    });
  }
});

describe('operations under machine faults', () => {
  it('failover completes through a 412 while replacing', async () => {
    const ctx = await setUp();
    const active = sim as Sim;
    const fault = active.injectFault(replacing412);

    await expectCleanFailover(ctx, active);
    expect(fault.hits).toBe(1);
  });

  it('backup names a host that is down', async () => {
    const ctx = await setUp();
    const active = sim as Sim;
    const first = await ctx.dr.backup();
    await active.hostDown(ctx.machineId);

    const error = await rejection(ctx.dr.backup());
    const listed = await ctx.dr.list();
    await active.hostUp(ctx.machineId);
    await ctx.dr.close();

    expect(error.code).toBe('DR_SOURCE_MACHINE');
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
    expect(error.message).toContain(ctx.machineId);
    expect(error.hint).toBeTruthy();
    expect(listed.map((item) => item.id)).toEqual([first.id]);
    expect(active.violations()).toEqual([]);
  });

  it('sync completes through one SSH drop', async () => {
    const ctx = await setUp();
    const active = sim as Sim;
    const standby = await ctx.dr.prepareStandby({ region: 'sin', machine: true });
    const committed = active.appWriter(ctx.machineId).committedIds();
    // 6,000 bytes is past the SSH handshake and inside the upload of the database (at least
    // two 4096-byte pages).
    const drop = active.dropSshAfterBytes(standby.machineId as string, 6_000, { times: 1 });

    const report = await ctx.dr.sync({ from: 'nrt', to: 'sin' });
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(drop.cuts).toBe(1);
    expect(missing(committed, volumeIds(active, ctx.app, report.targetMachineId))).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(active.violations()).toEqual([]);
  });

  it('failback survives one SSH drop', async () => {
    const ctx = await setUp();
    const active = sim as Sim;
    const failover = await ctx.dr.failover({ to: 'sin', ...simRunOptions(active) });
    await waitForRows(active, failover.targetMachineId, 5);
    const drop = active.dropSshAfterBytes(ctx.machineId, 6_000, { times: 1 });

    const back = await ctx.dr.failback(simRunOptions(active));
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(drop.cuts).toBe(1);
    expect(active.appWriter(back.targetMachineId).running()).toBe(true);
    expect(active.appWriter(failover.targetMachineId).running()).toBe(false);
    expect(status.unfinishedOperations).toEqual([]);
    expect(active.violations()).toEqual([]);
  });
});

describe('failback with a failing health check', () => {
  it('rolls back and keeps sin serving', async () => {
    const failing: Server = createServer((_request, response) => {
      response.writeHead(503);
      response.end('down');
    });
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    const failingUrl = `http://127.0.0.1:${(failing.address() as AddressInfo).port}/health`;
    const ctx = await setUp();
    const active = sim as Sim;
    const failover = await ctx.dr.failover({ to: 'sin', ...simRunOptions(active) });
    await waitForRows(active, failover.targetMachineId, 5);

    const error = await rejection(
      ctx.dr.failback({
        ...simRunOptions(active),
        healthTimeoutMs: 300,
        healthUrl: (machine) =>
          machine.region === 'nrt' ? failingUrl : active.appWriter(machine.id).healthUrl(),
      }),
    ).finally(() => failing.close());
    const sinBefore = active.appWriter(failover.targetMachineId).committedIds();
    await waitForRows(active, failover.targetMachineId, sinBefore.length + 3);
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(error.code).toBe('DR_HEALTH_FAILED');
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
    expect(active.appWriter(failover.targetMachineId).running()).toBe(true);
    expect(active.appWriter(ctx.machineId).running()).toBe(false);
    expect(missing(sinBefore, volumeIds(active, ctx.app, failover.targetMachineId))).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(active.violations()).toEqual([]);
  });
});

/** Thrown from afterStepPersisted: the run stops where a killed process would. */
class Killed extends Error {}

describe('failback killed at each step', () => {
  for (const step of FAILOVER_STEPS) {
    it(`resumes after a crash at ${step}`, async () => {
      const ctx = await setUp();
      const active = sim as Sim;
      const failover = await ctx.dr.failover({ to: 'sin', ...simRunOptions(active) });
      await waitForRows(active, failover.targetMachineId, 5);

      const crash = ctx.dr.failback(
        simRunOptions(active, {
          afterStepPersisted: (persisted) => {
            if (persisted === step) throw new Killed(`killed after ${persisted}`);
          },
        }),
      );
      await expect(crash).rejects.toBeInstanceOf(Killed);
      const [interrupted] = (await ctx.dr.status()).unfinishedOperations;
      const report = await ctx.dr.resume(interrupted?.id as string, simRunOptions(active));
      const sinRows = active.appWriter(failover.targetMachineId).committedIds();
      const record = await ctx.dr.operation(report.operationId);
      await ctx.dr.close();

      expect(interrupted?.kind).toBe('failback');
      expect(record.status).toBe('succeeded');
      expect(report.to).toBe('nrt');
      expect(active.appWriter(report.targetMachineId).running()).toBe(true);
      expect(active.appWriter(failover.targetMachineId).running()).toBe(false);
      expect(missing(sinRows, volumeIds(active, ctx.app, report.targetMachineId))).toEqual([]);
      expect(active.violations()).toEqual([]);
    });
  }
});

describe('failover onto a full volume', () => {
  it('rolls back with nrt serving', async () => {
    const ctx = await setUp();
    const active = sim as Sim;

    const error = await rejection(
      ctx.dr.failover({
        to: 'sin',
        ...simRunOptions(active, {
          afterStepPersisted: async (step) => {
            if (step !== 'standby') return;
            const volumes = await ctx.client.volumes.list(ctx.app);
            const sinVolume = volumes.find((volume) => volume.region === 'sin');
            if (sinVolume !== undefined) active.fillVolume(sinVolume.id, 1024 ** 3);
          },
        }),
      }),
    );
    const status = await ctx.dr.status();
    const nrt = await ctx.client.machines.get(ctx.app, ctx.machineId);
    await ctx.dr.close();

    expect(error.code).toBe('DR_NO_SPACE');
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
    expect(error.message).toMatch(/free/);
    expect(nrt.state).toBe('started');
    expect(nrt.cordoned).toBe(false);
    expect(active.appWriter(ctx.machineId).running()).toBe(true);
    expect(status.unfinishedOperations).toEqual([]);
    expect(active.violations()).toEqual([]);
  });
});

describe('sync onto a full volume', () => {
  it('fails and leaves the standby as it was', async () => {
    const ctx = await setUp();
    const active = sim as Sim;
    const standby = await ctx.dr.prepareStandby({ region: 'sin', machine: true });
    await ctx.dr.sync({ from: 'nrt', to: 'sin' });
    const syncedIds = volumeIds(active, ctx.app, standby.machineId as string);
    active.fillVolume(standby.volumeId, 1024 ** 3);

    const error = await rejection(ctx.dr.sync({ from: 'nrt', to: 'sin' }));
    const status = await ctx.dr.status();
    const machine = await ctx.client.machines.get(ctx.app, standby.machineId as string);
    await ctx.dr.close();

    expect(error.code).toBe('DR_NO_SPACE');
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
    expect(volumeIds(active, ctx.app, standby.machineId as string)).toEqual(syncedIds);
    expect(machine.state).toBe('stopped');
    expect(status.unfinishedOperations).toEqual([]);
    expect(active.violations()).toEqual([]);
  });
});

describe('failback and sync with a held lease', () => {
  it('failback names the holder and changes nothing', async () => {
    const ctx = await setUp();
    const active = sim as Sim;
    const failover = await ctx.dr.failover({ to: 'sin', ...simRunOptions(active) });
    const lease = await ctx.client.machines.acquireLease(ctx.app, ctx.machineId, {
      ttlSeconds: 60,
      description: 'deploy by alice',
    });

    const error = await rejection(ctx.dr.failback(simRunOptions(active)));
    await ctx.client.machines.releaseLease(ctx.app, ctx.machineId, lease.nonce);
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(error.code).toBe('DR_LOCKED');
    expect(exitCodeOf(error)).toBe(ExitCode.Refused);
    expect(error.message).toContain('deploy by alice');
    expect(active.appWriter(failover.targetMachineId).running()).toBe(true);
    expect(status.unfinishedOperations).toEqual([]);
    expect(active.violations()).toEqual([]);
  });

  it('sync names the holder and changes nothing', async () => {
    const ctx = await setUp();
    const active = sim as Sim;
    const standby = await ctx.dr.prepareStandby({ region: 'sin', machine: true });
    const standbyId = standby.machineId as string;
    const lease = await ctx.client.machines.acquireLease(ctx.app, standbyId, {
      ttlSeconds: 60,
      description: 'deploy by alice',
    });

    const error = await anyRejection(ctx.dr.sync({ from: 'nrt', to: 'sin' }));
    await ctx.client.machines.releaseLease(ctx.app, standbyId, lease.nonce);
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(error.code).toBe('DR_LOCKED');
    expect(exitCodeOf(error)).toBe(ExitCode.Refused);
    expect(error.message).toContain('deploy by alice');
    expect(volumeIds(active, ctx.app, standbyId)).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(active.violations()).toEqual([]);
  });
});

describe('sync from a host that is down', () => {
  it('fails naming the machine', async () => {
    const ctx = await setUp();
    const active = sim as Sim;
    const standby = await ctx.dr.prepareStandby({ region: 'sin', machine: true });
    await active.hostDown(ctx.machineId);

    const error = await anyRejection(ctx.dr.sync({ from: 'nrt', to: 'sin' }));
    await active.hostUp(ctx.machineId);
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(error.code).toBe('DR_SOURCE_MACHINE');
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
    expect(error.message).toContain(ctx.machineId);
    expect(volumeIds(active, ctx.app, standby.machineId as string)).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(active.violations()).toEqual([]);
  });
});

// An update rejected with 412 while the machine is replacing is sent again once it settles.
describe('restore, sync and failback on a 412 while replacing', () => {
  it('restore completes and the app serves', async () => {
    const ctx = await setUp();
    const active = sim as Sim;
    const backup = await ctx.dr.backup();
    const fault = active.injectFault(replacing412);

    await ctx.dr.restore(backup.id, {
      healthUrl: () => active.appWriter(ctx.machineId).healthUrl(),
      healthTimeoutMs: 5_000,
      healthPollMs: 50,
    });
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(fault.hits).toBe(1);
    expect(missing(databaseIds(backup.path), volumeIds(active, ctx.app, ctx.machineId))).toEqual(
      [],
    );
    expect(active.appWriter(ctx.machineId).running()).toBe(true);
    expect(status.unfinishedOperations).toEqual([]);
    expect(active.violations()).toEqual([]);
  });

  it('sync completes onto the standby', async () => {
    const ctx = await setUp();
    const active = sim as Sim;
    await ctx.dr.prepareStandby({ region: 'sin', machine: true });
    const committed = active.appWriter(ctx.machineId).committedIds();
    const fault = active.injectFault(replacing412);

    const report = await ctx.dr.sync({ from: 'nrt', to: 'sin' });
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(fault.hits).toBe(1);
    expect(missing(committed, volumeIds(active, ctx.app, report.targetMachineId))).toEqual([]);
    expect(active.appWriter(ctx.machineId).running()).toBe(true);
    expect(status.unfinishedOperations).toEqual([]);
    expect(active.violations()).toEqual([]);
  });

  it('failback completes with nrt serving', async () => {
    const ctx = await setUp();
    const active = sim as Sim;
    const failover = await ctx.dr.failover({ to: 'sin', ...simRunOptions(active) });
    await waitForRows(active, failover.targetMachineId, 5);
    const fault = active.injectFault(replacing412);

    const back = await ctx.dr.failback(simRunOptions(active));
    const sinRows = active.appWriter(failover.targetMachineId).committedIds();
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(fault.hits).toBe(1);
    expect(back.to).toBe('nrt');
    expect(missing(sinRows, volumeIds(active, ctx.app, back.targetMachineId))).toEqual([]);
    expect(active.appWriter(back.targetMachineId).running()).toBe(true);
    expect(status.unfinishedOperations).toEqual([]);
    expect(active.violations()).toEqual([]);
  });
});
