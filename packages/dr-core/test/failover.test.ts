import type { Sim } from '@flydr/fly-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missing, simRunOptions, volumeIds, waitForMoreRows } from './failover-setup.js';
import { seedApp, startTestSim, waitForRows } from './sim-setup.js';

let sim: Sim;

beforeAll(async () => {
  sim = await startTestSim();
});

afterAll(async () => {
  await sim?.close();
});

describe('DisasterRecovery.failover and failback', () => {
  it('moves nrt to sin and back without losing a row', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 20);

    const report = await ctx.dr.failover({ to: 'sin', ...simRunOptions(sim) });
    const nrtRows = sim.appWriter(ctx.machineId).committedIds();
    const sinId = report.targetMachineId;
    await waitForMoreRows(sim, sinId, 10);

    expect(report.from).toBe('nrt');
    expect(report.rpoMs).toBe(0);
    expect(sim.appWriter(ctx.machineId).running()).toBe(false);
    expect(sim.machine(sinId).region).toBe('sin');
    expect(missing(nrtRows, volumeIds(sim, ctx.app, sinId))).toEqual([]);

    const back = await ctx.dr.failback(simRunOptions(sim));
    const sinRows = sim.appWriter(sinId).committedIds();
    await waitForMoreRows(sim, ctx.machineId, 5);
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(back.targetMachineId).toBe(ctx.machineId);
    expect(back.to).toBe('nrt');
    expect(back.generation).toBe(2);
    expect(sim.appWriter(sinId).running()).toBe(false);
    expect(missing([...nrtRows, ...sinRows], volumeIds(sim, ctx.app, ctx.machineId))).toEqual([]);
    expect(status.primary?.machineId).toBe(ctx.machineId);
    expect(status.warnings).toEqual([]);
    expect(sim.violations()).toEqual([]);
  });
});
