import type { FailoverReport } from '@flydr/dr-core';
import type { FaultSpec, Sim, SimOptions } from '@flydr/fly-sim';
import { afterEach, describe, expect, it } from 'vitest';
import {
  anyRejection,
  closeFaultSims,
  databaseIds,
  ExitCode,
  exitCodeOf,
  type FaultContext,
  machineCapacityShapes,
  missing,
  rejection,
  replacing412,
  setUpFaultApp,
  simRunOptions,
  volumeIds,
  waitForRows,
} from './fault-setup.js';

// Matrix cells for machine faults that the other files do not reach. They cover a machine
// that Fly does not return yet after its create, and a 412 that persists while a machine is
// replacing. For failback they add capacity, a host that is down and a full volume, and for
// restore a host that is down. Each cell checks that no committed row is lost, the sim saw
// no violation, no operation is left unfinished, and a failure has a clear message and exit
// code.

afterEach(closeFaultSims);

/** Machines and volumes of the app in a region that are not destroyed. */
async function resourcesIn(ctx: FaultContext, region: string) {
  const machines = await ctx.client.machines.list(ctx.app, { region });
  const volumes = (await ctx.client.volumes.list(ctx.app)).filter(
    (volume) => volume.region === region && volume.state !== 'destroyed',
  );
  return { machines: machines.map((m) => m.id), volumes: volumes.map((v) => v.id) };
}

/** Asserts that nrt still serves as before a failed failover, and nothing is left in sin. */
async function expectNrtServing(ctx: FaultContext): Promise<void> {
  const nrt = await ctx.client.machines.get(ctx.app, ctx.machineId);
  const status = await ctx.dr.status();

  expect(nrt.state).toBe('started');
  expect(nrt.cordoned).toBe(false);
  expect(ctx.sim.appWriter(ctx.machineId).running()).toBe(true);
  expect(await resourcesIn(ctx, 'sin')).toEqual({ machines: [], volumes: [] });
  expect(status.unfinishedOperations).toEqual([]);
  expect(ctx.sim.violations()).toEqual([]);
}

/** Runs a failover to sin and waits for the app there to commit rows. */
async function failOverToSin(ctx: FaultContext): Promise<FailoverReport> {
  const report = await ctx.dr.failover({ to: 'sin', ...simRunOptions(ctx.sim) });
  await waitForRows(ctx.sim, report.targetMachineId, 5);
  return report;
}

/** Asserts that sin still serves after a failed failback and lost none of its rows. */
async function expectSinServing(ctx: FaultContext, sinMachineId: string): Promise<void> {
  const sinRows = ctx.sim.appWriter(sinMachineId).committedIds();
  await waitForRows(ctx.sim, sinMachineId, sinRows.length + 3);
  const status = await ctx.dr.status();

  expect(ctx.sim.appWriter(sinMachineId).running()).toBe(true);
  expect(ctx.sim.appWriter(ctx.machineId).running()).toBe(false);
  expect(missing(sinRows, volumeIds(ctx.sim, ctx.app, sinMachineId))).toEqual([]);
  expect(status.unfinishedOperations).toEqual([]);
  expect(ctx.sim.violations()).toEqual([]);
}

/** Injects `spec` when the failover reaches `step`, so the steps before it run clean. */
function injectAtStep(active: Sim, step: string, specs: FaultSpec[]) {
  return (event: { type: string; step?: string }) => {
    if (event.type === 'operation-step-start' && event.step === step) {
      for (const spec of specs) active.injectFault(spec);
    }
  };
}

/** Counts the requests on a machine that the sim returned 404 for. */
function notFoundCount(active: Sim, machineId: string): number {
  return active.requests().filter((request) => request.status === 404 && request.key === machineId)
    .length;
}

/** The sim hides a new machine for this long, as Fly can just after a create. */
const HIDDEN_MS = 1_500;

/** Starts a sim that hides new machines, and waits until the seeded machine shows. */
async function setUpHidden(options: SimOptions = {}, timeoutMs?: number): Promise<FaultContext> {
  const ctx = await setUpFaultApp({ notFoundAfterCreateMs: HIDDEN_MS, ...options }, timeoutMs);
  await ctx.client.machines.get(ctx.app, ctx.machineId, { notFoundRetryMs: HIDDEN_MS * 2 });
  return ctx;
}

/** Waits until the sim has handled a machine create, and returns the create statuses. */
async function handledCreates(active: Sim): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const creates = active.requests().filter((request) => request.action === 'machines.create');
    if (creates.length > 0 || Date.now() > deadline) {
      return creates.map((request) => request.status);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const machineGet503: FaultSpec = {
  method: 'GET',
  path: '/v1/apps/:app/machines/:id',
  status: 503,
  body: { error: 'service unavailable' },
  // The client sends a read 5 times, so exactly one read fails.
  times: 5,
};

describe('failover with a machine not found yet', () => {
  it('rolls back a new machine Fly does not return yet', async () => {
    const ctx = await setUpHidden();
    const active = ctx.sim;

    const error = await rejection(
      ctx.dr.failover({
        to: 'sin',
        ...simRunOptions(active, {
          onRunnerEvent: injectAtStep(active, 'standby', [machineGet503]),
        }),
      }),
    );
    await expectNrtServing(ctx);
    await ctx.dr.close();

    expect(error.code).toBe('DR_OPERATION_FAILED');
    expect(error.details.step).toBe('standby');
    expect(error.details.rollbackErrors).toEqual([]);
    expect(error.message).toContain('service unavailable');
    expect(error.hint).toContain('rolled back');
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
  });

  it('abort removes the new machine and its volume', async () => {
    const ctx = await setUpHidden();
    const active = ctx.sim;
    const deleteOnce: FaultSpec = {
      method: 'DELETE',
      path: '/v1/apps/:app/machines/:id',
      status: 503,
      body: { error: 'service unavailable' },
      times: 1,
    };

    const error = await rejection(
      ctx.dr.failover({
        to: 'sin',
        ...simRunOptions(active, {
          startTimeoutMs: 1_000,
          onRunnerEvent: injectAtStep(active, 'standby', [machineGet503, deleteOnce]),
        }),
      }),
    );
    const failed = (await ctx.dr.status()).unfinishedOperations;
    const aborted = await ctx.dr.abort(error.details.operationId as string, simRunOptions(active));
    await expectNrtServing(ctx);
    await ctx.dr.close();

    expect(error.code).toBe('DR_OPERATION_FAILED');
    expect(error.hint).toContain(`flydr abort ${error.details.operationId as string}`);
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
    expect(failed.map((operation) => operation.status)).toEqual(['failed']);
    expect(aborted.status).toBe('aborted');
  });
});

describe('failover after a create without a response', () => {
  it('finds and removes the machine it made', async () => {
    const ctx = await setUpHidden({}, 500);
    const active = ctx.sim;
    // The sim creates the machine at once but responds after 1.5 s, when the client has
    // given up after 0.5 s.
    const lateCreate: FaultSpec = {
      method: 'POST',
      path: '/v1/apps/:app/machines',
      delayResponseMs: 1_500,
      times: 1,
    };

    const error = await rejection(
      ctx.dr.failover({
        to: 'sin',
        ...simRunOptions(active, { onRunnerEvent: injectAtStep(active, 'standby', [lateCreate]) }),
      }),
    );
    const made = await handledCreates(active);
    await expectNrtServing(ctx);
    await ctx.dr.close();

    expect(made).toEqual([200]);
    expect(error.code).toBe('DR_OPERATION_FAILED');
    expect(error.details.step).toBe('standby');
    expect(error.details.rollbackErrors).toEqual([]);
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
  });
});

describe('failback with a machine not found yet', () => {
  it('completes onto a new machine in nrt', async () => {
    const ctx = await setUpHidden();
    const active = ctx.sim;
    const failover = await failOverToSin(ctx);
    // Without a machine in nrt, the failback creates one on the old volume.
    await ctx.client.machines.delete(ctx.app, ctx.machineId, { force: true });
    await ctx.client.machines.wait(ctx.app, ctx.machineId, { state: 'destroyed' });

    const back = await ctx.dr.failback({ to: 'nrt', ...simRunOptions(active) });
    const sinRows = active.appWriter(failover.targetMachineId).committedIds();
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(back.to).toBe('nrt');
    expect(back.targetMachineId).not.toBe(ctx.machineId);
    expect(notFoundCount(active, back.targetMachineId)).toBeGreaterThan(0);
    expect(missing(sinRows, volumeIds(active, ctx.app, back.targetMachineId))).toEqual([]);
    expect(active.appWriter(back.targetMachineId).running()).toBe(true);
    expect(status.unfinishedOperations).toEqual([]);
    expect(active.violations()).toEqual([]);
  });
});

describe('standby prepare with a machine not found yet', () => {
  it('returns a machine that sync finds', async () => {
    const ctx = await setUpHidden();
    const active = ctx.sim;

    const standby = await ctx.dr.prepareStandby({ region: 'sin', machine: true });
    const committed = active.appWriter(ctx.machineId).committedIds();
    const report = await ctx.dr.sync({ from: 'nrt', to: 'sin' });
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(notFoundCount(active, standby.machineId as string)).toBeGreaterThan(0);
    expect(report.targetMachineId).toBe(standby.machineId);
    expect(missing(committed, volumeIds(active, ctx.app, report.targetMachineId))).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(active.violations()).toEqual([]);
  });

  it('names the region when capacity is gone', async () => {
    const ctx = await setUpFaultApp();
    const fault = ctx.sim.injectFault({
      method: 'POST',
      path: '/v1/apps/:app/machines',
      status: 412,
      body: { error: 'insufficient resources to create new machine with existing volume' },
      times: 1,
    });

    const error = await rejection(ctx.dr.prepareStandby({ region: 'sin', machine: true }));
    const sin = await resourcesIn(ctx, 'sin');
    await ctx.dr.close();

    expect(fault.hits).toBe(1);
    expect(error.code).toBe('DR_NO_CAPACITY');
    expect(error.message).toContain('region sin has no capacity');
    expect(error.hint).toContain('flydr standby prepare --region sin --machine');
    expect(exitCodeOf(error)).toBe(ExitCode.Refused);
    expect(sin.machines).toEqual([]);
    expect(sin.volumes).toHaveLength(1);
    expect(ctx.sim.violations()).toEqual([]);
  });
});

/** A 412 while replacing that lasts for every update the helper sends (4 by default). */
const replacingStorm: FaultSpec = { ...replacing412, times: 4 };

describe('machine updates on a 412 that persists', () => {
  it('failover names the machine and rolls back', async () => {
    const ctx = await setUpFaultApp();
    const fault = ctx.sim.injectFault(replacingStorm);

    const error = await rejection(ctx.dr.failover({ to: 'sin', ...simRunOptions(ctx.sim) }));
    await expectNrtServing(ctx);
    await ctx.dr.close();

    expect(fault.hits).toBe(4);
    expect(error.code).toBe('DR_MACHINE_BUSY');
    expect(error.details.step).toBe('prepare-target');
    expect(error.message).toMatch(/machine \w+ of app \S+ \(state \w+\) did not accept/);
    expect(error.hint).toContain('fly machine status');
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
  });

  it('restore names the machine and keeps the app serving', async () => {
    const ctx = await setUpFaultApp();
    const active = ctx.sim;
    const backup = await ctx.dr.backup();
    const committed = active.appWriter(ctx.machineId).committedIds();
    const fault = active.injectFault(replacingStorm);

    const error = await anyRejection(
      ctx.dr.restore(backup.id, {
        healthUrl: () => active.appWriter(ctx.machineId).healthUrl(),
        healthTimeoutMs: 5_000,
        healthPollMs: 50,
      }),
    );
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(fault.hits).toBe(4);
    expect(error.code).toBe('DR_MACHINE_BUSY');
    expect(error.message).toContain(`machine ${ctx.machineId}`);
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
    expect(active.appWriter(ctx.machineId).running()).toBe(true);
    expect(missing(committed, volumeIds(active, ctx.app, ctx.machineId))).toEqual([]);
    expect(missing(databaseIds(backup.path), committed)).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(active.violations()).toEqual([]);
  });

  it('sync names the machine and leaves the standby empty', async () => {
    const ctx = await setUpFaultApp();
    const active = ctx.sim;
    const standby = await ctx.dr.prepareStandby({ region: 'sin', machine: true });
    const fault = active.injectFault(replacingStorm);

    const error = await anyRejection(ctx.dr.sync({ from: 'nrt', to: 'sin' }));
    const status = await ctx.dr.status();
    const machine = await ctx.client.machines.get(ctx.app, standby.machineId as string);
    await ctx.dr.close();

    expect(fault.hits).toBe(4);
    expect(error.code).toBe('DR_MACHINE_BUSY');
    expect(error.message).toContain(`machine ${standby.machineId as string}`);
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
    expect(volumeIds(active, ctx.app, standby.machineId as string)).toEqual([]);
    expect(machine.state).toBe('stopped');
    expect(active.appWriter(ctx.machineId).running()).toBe(true);
    expect(status.unfinishedOperations).toEqual([]);
    expect(active.violations()).toEqual([]);
  });

  it('failback names the machine and keeps sin serving', async () => {
    const ctx = await setUpFaultApp();
    const failover = await failOverToSin(ctx);
    const fault = ctx.sim.injectFault(replacingStorm);

    const error = await rejection(ctx.dr.failback(simRunOptions(ctx.sim)));
    await expectSinServing(ctx, failover.targetMachineId);
    await ctx.dr.close();

    expect(fault.hits).toBe(4);
    expect(error.code).toBe('DR_MACHINE_BUSY');
    expect(error.message).toContain('did not accept a config update');
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
  });
});

describe('failback when capacity goes midway', () => {
  for (const shape of machineCapacityShapes) {
    it(`rolls back on ${shape}`, async () => {
      const ctx = await setUpFaultApp({ capacityErrors: shape });
      const active = ctx.sim;
      const failover = await failOverToSin(ctx);

      const error = await rejection(
        ctx.dr.failback(
          simRunOptions(active, {
            afterStepPersisted: (step) => {
              if (step === 'standby') active.setCapacity('nrt', { machines: 0 });
            },
          }),
        ),
      );
      active.setCapacity('nrt', { machines: Number.POSITIVE_INFINITY });
      await expectSinServing(ctx, failover.targetMachineId);
      await ctx.dr.close();

      expect(error.code).toBe('DR_NO_CAPACITY');
      expect(error.details.step).toBe('prepare-target');
      expect(error.message).toContain('region nrt ran out of capacity');
      expect(error.hint).toContain('flydr failback --to nrt --wait-for-capacity');
      expect(exitCodeOf(error)).toBe(ExitCode.Refused);
    });
  }
});

describe('sync when the standby region has no room', () => {
  for (const shape of machineCapacityShapes) {
    it(`names sin on ${shape}`, async () => {
      const ctx = await setUpFaultApp({ capacityErrors: shape });
      const active = ctx.sim;
      const standby = await ctx.dr.prepareStandby({ region: 'sin', machine: true });
      const standbyId = standby.machineId as string;
      active.setCapacity('sin', { machines: 0 });

      const error = await anyRejection(ctx.dr.sync({ from: 'nrt', to: 'sin' }));
      const status = await ctx.dr.status();
      const machine = await ctx.client.machines.get(ctx.app, standbyId);
      await ctx.dr.close();

      expect(error.code).toBe('DR_NO_CAPACITY');
      expect(error.message).toContain(`region sin has no capacity to start machine ${standbyId}`);
      expect((error as Error & { hint?: string }).hint).toContain('flydr regions');
      expect(exitCodeOf(error)).toBe(ExitCode.Refused);
      expect(volumeIds(active, ctx.app, standbyId)).toEqual([]);
      expect(machine.state).toBe('stopped');
      expect(active.appWriter(ctx.machineId).running()).toBe(true);
      expect(status.unfinishedOperations).toEqual([]);
      expect(active.violations()).toEqual([]);
    });
  }
});

describe('failback to a host that is down', () => {
  it('fails naming the machine and keeps sin serving', async () => {
    const ctx = await setUpFaultApp();
    const failover = await failOverToSin(ctx);
    await ctx.sim.hostDown(ctx.machineId);

    const error = await rejection(ctx.dr.failback(simRunOptions(ctx.sim)));
    await ctx.sim.hostUp(ctx.machineId);
    await expectSinServing(ctx, failover.targetMachineId);
    await ctx.dr.close();

    expect(error.code).toBe('DR_SOURCE_MACHINE');
    expect(error.details.step).toBe('preflight');
    expect(error.message).toContain(`target machine ${ctx.machineId}`);
    expect(error.message).toContain('unreachable');
    expect(error.hint).toContain(`fly machine status ${ctx.machineId}`);
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
  });
});

describe('failback onto a full volume', () => {
  it('fails with DR_NO_SPACE and keeps sin serving', async () => {
    const ctx = await setUpFaultApp();
    const failover = await failOverToSin(ctx);
    ctx.sim.fillVolume(ctx.volumeId, 1024 ** 3);

    const error = await rejection(ctx.dr.failback(simRunOptions(ctx.sim)));
    await expectSinServing(ctx, failover.targetMachineId);
    await ctx.dr.close();

    expect(error.code).toBe('DR_NO_SPACE');
    expect(error.details.step).toBe('restore');
    expect(error.message).toContain('bytes free');
    expect(error.hint).toContain('fly volumes extend');
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
  });
});

describe('restore to a host that is down', () => {
  it('fails naming the machine and changes nothing', async () => {
    const ctx = await setUpFaultApp();
    const active = ctx.sim;
    const backup = await ctx.dr.backup();
    await active.hostDown(ctx.machineId, { keepAppRunning: true });
    const before = volumeIds(active, ctx.app, ctx.machineId);

    const error = await anyRejection(ctx.dr.restore(backup.id, { healthTimeoutMs: 5_000 }));
    const after = volumeIds(active, ctx.app, ctx.machineId);
    await active.hostUp(ctx.machineId);
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(error.code).toBe('DR_SOURCE_MACHINE');
    expect(error.message).toContain(`target machine ${ctx.machineId}`);
    expect(error.message).toContain('nothing was changed');
    expect((error as Error & { hint?: string }).hint).toContain('fly machine status');
    expect(exitCodeOf(error)).toBe(ExitCode.OperationFailed);
    expect(missing(before, after)).toEqual([]);
    expect(status.unfinishedOperations).toEqual([]);
    expect(active.violations()).toEqual([]);
  });
});
