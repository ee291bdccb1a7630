import type { Sim } from '@flydr/fly-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILOVER_STEPS } from '../src/failover-types.js';
import { missing, simRunOptions, volumeIds } from './failover-setup.js';
import { seedApp, startTestSim, waitForRows } from './sim-setup.js';

let sim: Sim;

beforeAll(async () => {
  sim = await startTestSim();
});

afterAll(async () => {
  await sim?.close();
});

class Killed extends Error {}

describe('DisasterRecovery.abort after a crash', () => {
  for (const step of FAILOVER_STEPS) {
    it(`restores nrt after a crash at ${step}`, async () => {
      const ctx = await seedApp(sim);
      await waitForRows(sim, ctx.machineId, 5);

      const crash = ctx.dr.failover({
        to: 'sin',
        ...simRunOptions(sim, {
          afterStepPersisted: (name) => {
            if (name === step) throw new Killed(`killed after ${name}`);
          },
        }),
      });
      await expect(crash).rejects.toBeInstanceOf(Killed);
      const [interrupted] = (await ctx.dr.status()).unfinishedOperations;
      const aborted = await ctx.dr.abort(interrupted?.id as string, simRunOptions(sim));
      const before = sim.appWriter(ctx.machineId).committedIds();
      await waitForRows(sim, ctx.machineId, before.length + 3);
      const nrt = await ctx.client.machines.get(ctx.app, ctx.machineId);
      const sinMachines = await ctx.client.machines.list(ctx.app, { region: 'sin' });
      const sinVolumes = (await ctx.client.volumes.list(ctx.app)).filter(
        (volume) => volume.region === 'sin' && volume.state !== 'destroyed',
      );
      const status = await ctx.dr.status();
      await ctx.dr.close();

      expect(aborted.status).toBe('aborted');
      expect(nrt.state).toBe('started');
      expect(nrt.cordoned).toBe(false);
      expect(sim.appWriter(ctx.machineId).running()).toBe(true);
      expect(sinMachines).toEqual([]);
      expect(sinVolumes).toEqual([]);
      expect(missing(before, volumeIds(sim, ctx.app, ctx.machineId))).toEqual([]);
      expect(status.unfinishedOperations).toEqual([]);
      expect(sim.violations()).toEqual([]);
    });
  }
});
