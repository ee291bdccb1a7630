import type { Sim } from '@flydr/fly-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILOVER_STEPS } from '../src/failover-types.js';
import { missing, rejection, simRunOptions, volumeIds } from './failover-setup.js';
import { seedApp, startTestSim, waitForRows } from './sim-setup.js';

let sim: Sim;

beforeAll(async () => {
  sim = await startTestSim();
});

afterAll(async () => {
  await sim?.close();
});

/** Thrown from afterStepPersisted: the run stops where a killed process would. */
class Killed extends Error {}

const killAfter = (name: string) => (step: string) => {
  if (step === name) throw new Killed(`killed after ${step}`);
};

describe('DisasterRecovery.resume after a crash', () => {
  for (const step of FAILOVER_STEPS) {
    it(`completes after a crash at ${step}`, async () => {
      const ctx = await seedApp(sim);
      await waitForRows(sim, ctx.machineId, 5);

      const crash = ctx.dr.failover({
        to: 'sin',
        ...simRunOptions(sim, { afterStepPersisted: killAfter(step) }),
      });
      await expect(crash).rejects.toBeInstanceOf(Killed);
      const [interrupted] = (await ctx.dr.status()).unfinishedOperations;
      const report = await ctx.dr.resume(interrupted?.id as string, simRunOptions(sim));
      const nrtRows = sim.appWriter(ctx.machineId).committedIds();
      const record = await ctx.dr.operation(report.operationId);
      await ctx.dr.close();

      expect(interrupted?.step).toBe(null);
      expect(record.status).toBe('succeeded');
      expect(sim.appWriter(report.targetMachineId).running()).toBe(true);
      expect(sim.appWriter(ctx.machineId).running()).toBe(false);
      expect(missing(nrtRows, volumeIds(sim, ctx.app, report.targetMachineId))).toEqual([]);
      expect(sim.violations()).toEqual([]);
    });
  }

  it('refuses a finished operation', async () => {
    const ctx = await seedApp(sim);
    const report = await ctx.dr.failover({ to: 'sin', ...simRunOptions(sim) });
    const error = await rejection(ctx.dr.resume(report.operationId));
    await ctx.dr.close();
    expect(error.code).toBe('DR_REFUSED');
  });
});
