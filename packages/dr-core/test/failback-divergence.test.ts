import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sim } from '@flydr/fly-sim';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DivergenceReport } from '../src/divergence.js';
import { missing, rejection, simRunOptions, volumeIds, waitForMoreRows } from './failover-setup.js';
import { seedApp, startTestSim, waitForRows } from './sim-setup.js';

let sim: Sim;

beforeAll(async () => {
  sim = await startTestSim();
});

afterAll(async () => {
  await sim?.close();
});

/** Inserts a row into the stopped old primary's database, as a split-brain writer would. */
function writeBehindFlydr(volumeDir: string): number {
  const db = new Database(join(volumeDir, 'app.db'));
  try {
    const result = db
      .prepare('INSERT INTO writes (machine_id, region, written_at) VALUES (?, ?, ?)')
      .run('split-brain', 'nrt', new Date().toISOString());
    return Number(result.lastInsertRowid);
  } finally {
    db.close();
  }
}

describe('DisasterRecovery.failback divergence', () => {
  it('refuses and reports when both sides were written', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 10);
    const over = await ctx.dr.failover({ to: 'sin', ...simRunOptions(sim) });
    await waitForMoreRows(sim, over.targetMachineId, 5);
    const volumeDir = sim.app(ctx.app).machine(ctx.machineId).volumeDir as string;
    const strayId = writeBehindFlydr(volumeDir);

    const error = await rejection(ctx.dr.failback(simRunOptions(sim)));
    const reportPath = String(error.details.reportPath);
    const report = JSON.parse(readFileSync(reportPath, 'utf8')) as DivergenceReport;
    const writes = report.tables.find((table) => table.table === 'writes');
    // Both sides continued the same AUTOINCREMENT, so the stray row shares an id with sin's.
    const onTarget = [
      ...(writes?.sample.onlyInFirst ?? []),
      ...(writes?.sample.changed ?? []).map((pair) => pair.first),
    ];
    const kept = await ctx.dr.show(error.details.backupId as number);
    const status = await ctx.dr.status();

    expect(error.code).toBe('DR_DIVERGED');
    expect(error.details.step).toBe('restore');
    expect(onTarget.some((row) => row.machine_id === 'split-brain')).toBe(true);
    expect(writes?.onlyInSecond).toBeGreaterThan(0);
    expect(kept.reason).toBe('pre-restore');
    expect(volumeIds(sim, ctx.app, ctx.machineId)).toContain(strayId);
    expect(sim.appWriter(over.targetMachineId).running()).toBe(true);
    expect(status.primary?.machineId).toBe(over.targetMachineId);
    expect(status.unfinishedOperations).toEqual([]);

    const forced = await ctx.dr.failback({ ...simRunOptions(sim), force: true });
    const sinRows = sim.appWriter(over.targetMachineId).committedIds();
    const record = await ctx.dr.operation(forced.operationId);
    await ctx.dr.close();

    expect(forced.targetMachineId).toBe(ctx.machineId);
    expect(existsSync(String(record.state.divergenceReportPath))).toBe(true);
    expect(missing(sinRows, volumeIds(sim, ctx.app, ctx.machineId))).toEqual([]);
    expect(sim.violations()).toEqual([]);
  });

  it('passes when the old primary was not written', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 5);
    await ctx.dr.failover({ to: 'sin', ...simRunOptions(sim) });
    const back = await ctx.dr.failback(simRunOptions(sim));
    const record = await ctx.dr.operation(back.operationId);
    await ctx.dr.close();

    expect(record.status).toBe('succeeded');
    expect(record.state.divergenceReportPath).toBeUndefined();
  });
});

describe('DisasterRecovery.failback capacity', () => {
  it('waits for capacity in the old region', async () => {
    const ctx = await seedApp(sim);
    await ctx.dr.failover({ to: 'sin', ...simRunOptions(sim) });
    sim.setCapacity('nrt', { machines: 0 });
    const release = setTimeout(
      () => sim.setCapacity('nrt', { machines: Number.POSITIVE_INFINITY }),
      300,
    );
    const back = await ctx.dr
      .failback({ ...simRunOptions(sim), waitForCapacityMs: 10_000, capacityPollMs: 50 })
      .finally(() => clearTimeout(release));
    await ctx.dr.close();

    expect(back.to).toBe('nrt');
  });

  it('gives up when capacity never comes', async () => {
    const ctx = await seedApp(sim);
    const over = await ctx.dr.failover({ to: 'sin', ...simRunOptions(sim) });
    sim.setCapacity('nrt', { machines: 0 });
    const error = await rejection(
      ctx.dr.failback({ ...simRunOptions(sim), waitForCapacityMs: 300, capacityPollMs: 50 }),
    ).finally(() => sim.setCapacity('nrt', { machines: Number.POSITIVE_INFINITY }));
    await ctx.dr.close();

    expect(error.code).toBe('DR_NO_CAPACITY');
    expect(error.details.attempts).toBeGreaterThan(1);
    expect(sim.appWriter(over.targetMachineId).running()).toBe(true);
  });
});
