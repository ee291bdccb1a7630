import { createFlyClient } from '@flydr/fly-client';
import type { Sim } from '@flydr/fly-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missing, simRunOptions, volumeIds } from './failover-setup.js';
import { seedApp, startTestSim, waitForRows } from './sim-setup.js';

let sim: Sim;

beforeAll(async () => {
  // Fly's limits scaled up ten times, so the test takes seconds rather than minutes.
  sim = await startTestSim({ rateLimit: { perSecond: 10, burst: 3 } });
});

afterAll(async () => {
  await sim?.close();
});

describe('DisasterRecovery.failover under 429 storms', () => {
  it('completes while the API returns 429', async () => {
    const client = createFlyClient({
      token: sim.token,
      baseUrl: sim.apiUrl,
      graphqlUrl: sim.graphqlUrl,
      rateLimit: { perSecond: 10, burst: 3, getMachinePerSecond: 10, getMachineBurst: 3 },
      retry: { maxAttempts: 8, baseDelayMs: 20, maxDelayMs: 2_000 },
    });
    const ctx = await seedApp(sim, { extra: { client } });
    await waitForRows(sim, ctx.machineId, 10);
    const storms = [
      sim.injectFault({
        method: 'GET',
        path: '/v1/apps/:app/machines/:id',
        status: 429,
        times: 12,
      }),
      sim.injectFault({ method: 'GET', path: '/v1/apps/:app/machines', status: 429, times: 4 }),
      sim.injectFault({ method: 'GET', path: '/v1/apps/:app/volumes', status: 429, times: 2 }),
    ];

    const report = await ctx.dr.failover({ to: 'sin', ...simRunOptions(sim) });
    const nrtRows = sim.appWriter(ctx.machineId).committedIds();
    await ctx.dr.close();

    expect(storms.map((storm) => storm.hits)).toEqual([12, 4, 2]);
    expect(sim.appWriter(report.targetMachineId).running()).toBe(true);
    expect(missing(nrtRows, volumeIds(sim, ctx.app, report.targetMachineId))).toEqual([]);
    expect(sim.violations()).toEqual([]);
  });
});
