import { join } from 'node:path';
import { createFlyClient } from '@flydr/fly-client';
import type { Sim } from '@flydr/fly-sim';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILOVER_STEPS } from '../src/failover-types.js';
import type { MachineConfig } from '../src/fly-types.js';
import { maintenanceConfig } from '../src/maintenance-mode.js';
import { missing, rejection, simRunOptions, volumeIds, waitForMoreRows } from './failover-setup.js';
import { seedApp, startTestSim, waitForRows } from './sim-setup.js';

let sim: Sim;

beforeAll(async () => {
  sim = await startTestSim();
});

afterAll(async () => {
  await sim?.close();
});

describe('DisasterRecovery.capacity', () => {
  it('lists the valid codes for an unknown region', async () => {
    const ctx = await seedApp(sim);
    const error = await rejection(ctx.dr.capacity(['nrt', 'xyz']));
    await ctx.dr.close();

    expect(error.code).toBe('DR_UNKNOWN_REGION');
    expect(error.message).toContain('"xyz"');
    expect(error.message).toContain('nrt, ord, sin, syd');
    expect(error.details.validRegions).toContain('sin');
  });

  it('reports a full region as unable to place', async () => {
    const ctx = await seedApp(sim);
    sim.setCapacity('syd', { machines: 0 });
    const report = await ctx.dr
      .capacity(['sin', 'syd'], { volumeSizeGb: 1 })
      .finally(() => sim.setCapacity('syd', { machines: Number.POSITIVE_INFINITY }));
    await ctx.dr.close();

    expect(report.map((row) => [row.region, row.canPlace])).toEqual([
      ['sin', true],
      ['syd', false],
    ]);
  });
});

describe('DisasterRecovery.prepareStandby', () => {
  it('is idempotent', async () => {
    const ctx = await seedApp(sim);
    const first = await ctx.dr.prepareStandby({ region: 'sin', machine: true });
    const second = await ctx.dr.prepareStandby({ region: 'sin', machine: true });
    const machine = await ctx.client.machines.get(ctx.app, first.machineId as string);
    const volumes = (await ctx.client.volumes.list(ctx.app)).filter((v) => v.region === 'sin');
    await ctx.dr.close();

    expect(first.createdVolume).toBe(true);
    expect(first.createdMachine).toBe(true);
    expect(second).toEqual({ ...first, createdVolume: false, createdMachine: false });
    expect(volumes.map((volume) => volume.id)).toEqual([first.volumeId]);
    expect(first.sizeGb).toBeGreaterThanOrEqual(1);
    expect(['created', 'stopped']).toContain(machine.state);
    expect(machine.config?.metadata?.flydr_role).toBe('standby');
    expect(machine.config?.image).toContain('@sha256:');
  });

  it('is used by a failover', async () => {
    const ctx = await seedApp(sim);
    const standby = await ctx.dr.prepareStandby({ region: 'sin', machine: true });
    const report = await ctx.dr.failover({ to: 'sin', ...simRunOptions(sim) });
    await ctx.dr.close();

    expect(report.targetMachineId).toBe(standby.machineId);
  });
});

describe('DisasterRecovery.prepareStandby requests', () => {
  it('sends compute hints with the volume', async () => {
    const bodies: { path: string; body: string }[] = [];
    const recording = sim.dispatcher();
    const dispatch = recording.dispatch.bind(recording);
    recording.dispatch = (options, handler) => {
      if (options.method === 'POST') {
        bodies.push({ path: options.path, body: String(options.body ?? '') });
      }
      return dispatch(options, handler);
    };
    const client = createFlyClient({
      token: sim.token,
      baseUrl: sim.apiUrl,
      graphqlUrl: sim.graphqlUrl,
      dispatcher: recording,
      rateLimit: false,
    });
    const ctx = await seedApp(sim, { extra: { client } });
    const standby = await ctx.dr.prepareStandby({ region: 'sin' });
    await ctx.dr.close();
    const create = bodies.find((request) => request.path.endsWith('/volumes'));
    const sent = JSON.parse(create?.body ?? '{}') as Record<string, unknown>;

    expect(standby.createdVolume).toBe(true);
    expect(sent.region).toBe('sin');
    expect(sent.compute).toEqual({ cpu_kind: 'shared', cpus: 1, memory_mb: 256 });
    expect(sent.compute_image).toBe(`registry.fly.io/${ctx.app}:deployment-1`);
  });
});

describe('DisasterRecovery.failover input', () => {
  it('lists the valid codes for an unknown target', async () => {
    const ctx = await seedApp(sim);
    const error = await rejection(ctx.dr.failover({ to: 'tokyo' }));
    await ctx.dr.close();

    expect(error.code).toBe('DR_UNKNOWN_REGION');
    expect(error.hint).toContain('nrt');
  });

  it('rejects the source region as target', async () => {
    const ctx = await seedApp(sim);
    const error = await rejection(ctx.dr.failover({ to: 'nrt' }));
    await ctx.dr.close();

    expect(error.code).toBe('DR_INVALID_INPUT');
  });

  it('needs a volume when creating one is off', async () => {
    const ctx = await seedApp(sim);
    const error = await rejection(ctx.dr.failover({ to: 'sin', createVolume: false }));
    const volumes = (await ctx.client.volumes.list(ctx.app)).filter((v) => v.region === 'sin');
    await ctx.dr.close();

    expect(error.code).toBe('DR_REFUSED');
    expect(error.hint).toContain('standby prepare');
    expect(volumes).toEqual([]);
  });
});

describe('DisasterRecovery.sync', () => {
  it('refreshes a stopped standby and keeps it stopped', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 10);
    const standby = await ctx.dr.prepareStandby({ region: 'sin', machine: true });
    const committed = sim.appWriter(ctx.machineId).committedIds();
    const report = await ctx.dr.sync({ from: 'nrt', to: 'sin' });
    const machine = await ctx.client.machines.get(ctx.app, standby.machineId as string);
    await ctx.dr.close();

    expect(report.targetMachineId).toBe(standby.machineId);
    expect(missing(committed, volumeIds(sim, ctx.app, report.targetMachineId))).toEqual([]);
    expect(machine.state).toBe('stopped');
    expect(sim.appWriter(report.targetMachineId).running()).toBe(false);
  });

  it('refuses to overwrite the primary without force', async () => {
    const ctx = await seedApp(sim);
    await ctx.dr.prepareStandby({ region: 'sin', machine: true });
    const error = await rejection(ctx.dr.sync({ from: 'sin', to: 'nrt' }));
    await ctx.dr.close();

    expect(error.code).toBe('DR_REFUSED');
    expect(error.message).toContain('active primary');
    expect(error.hint).toContain('force');
    expect(sim.appWriter(ctx.machineId).running()).toBe(true);
  });

  it('refuses a recorded primary after a failover', async () => {
    const ctx = await seedApp(sim);
    const over = await ctx.dr.failover({ to: 'sin', ...simRunOptions(sim) });
    const error = await rejection(ctx.dr.sync({ from: 'nrt', to: 'sin' }));
    await ctx.dr.close();

    expect(error.code).toBe('DR_REFUSED');
    expect(error.details.machineId).toBe(over.targetMachineId);
  });

  it('refuses a standby written since the last sync', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 5);
    const standby = await ctx.dr.prepareStandby({ region: 'sin', machine: true });
    await ctx.dr.sync({ from: 'nrt', to: 'sin' });
    const standbyDir = sim.app(ctx.app).machine(standby.machineId as string).volumeDir as string;
    const db = new Database(join(standbyDir, 'app.db'));
    db.prepare(
      "INSERT INTO writes (machine_id, region, written_at) VALUES ('stray', 'sin', '')",
    ).run();
    db.close();

    const error = await rejection(ctx.dr.sync({ from: 'nrt', to: 'sin' }));
    const forced = await ctx.dr.sync({ from: 'nrt', to: 'sin', force: true });
    await ctx.dr.close();

    expect(error.code).toBe('DR_DIVERGED');
    expect(forced.divergenceReportPath).toBeDefined();
  });
});

describe('DisasterRecovery target left in maintenance mode', () => {
  it('is rejected by sync and failover', async () => {
    const ctx = await seedApp(sim);
    const standby = await ctx.dr.prepareStandby({ region: 'sin', machine: true });
    const machine = await ctx.client.machines.get(ctx.app, standby.machineId as string);
    await ctx.client.machines.update(ctx.app, machine.id, {
      config: maintenanceConfig(machine.config as MachineConfig),
      skip_launch: true,
    });
    const sync = await rejection(ctx.dr.sync({ from: 'nrt', to: 'sin' }));
    const failover = await rejection(ctx.dr.failover({ to: 'sin', ...simRunOptions(sim) }));
    await ctx.dr.close();

    expect(sync.code).toBe('DR_REFUSED');
    expect(sync.message).toContain('maintenance mode');
    expect(failover.code).toBe('DR_REFUSED');
    expect(failover.details.machineId).toBe(machine.id);
    expect(sim.appWriter(ctx.machineId).running()).toBe(true);
  });
});

describe('DisasterRecovery.planFailover', () => {
  it('lists the steps and changes nothing', async () => {
    const ctx = await seedApp(sim);
    const plan = await ctx.dr.planFailover({ to: 'sin' });
    const sinMachines = await ctx.client.machines.list(ctx.app, { region: 'sin' });
    const nrt = await ctx.client.machines.get(ctx.app, ctx.machineId);
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(plan.steps.map((step) => step.name)).toEqual([...FAILOVER_STEPS]);
    expect(plan.found.sourceMachineId).toBe(ctx.machineId);
    expect(plan.found.targetVolumeId).toBeUndefined();
    expect(sinMachines).toEqual([]);
    expect(nrt.cordoned).toBe(false);
    expect(status.unfinishedOperations).toEqual([]);
  });
});

describe('DisasterRecovery.status', () => {
  it('shows machines, primary and backup age', async () => {
    const ctx = await seedApp(sim);
    await ctx.dr.backup();
    const status = await ctx.dr.status();
    await ctx.dr.close();

    expect(status.primary).toEqual({
      machineId: ctx.machineId,
      region: 'nrt',
      generation: null,
      source: 'started-machine',
    });
    expect(status.regions.map((region) => region.region)).toEqual(['nrt']);
    expect(status.regions[0]?.machines[0]?.checks).toEqual([{ name: 'health', status: 'passing' }]);
    expect(status.newestBackup?.ageMs).toBeGreaterThanOrEqual(0);
    expect(status.warnings).toEqual([]);
  });

  it('warns about two started writers', async () => {
    const split = await startTestSim();
    try {
      const ctx = await seedApp(split);
      await split.seedMachine(ctx.app, { region: 'sin' });
      const status = await ctx.dr.status();
      const failover = await rejection(ctx.dr.failover({ from: 'nrt', to: 'sin' }));
      await ctx.dr.close();

      expect(status.warnings.map((warning) => warning.code)).toContain('two-writers');
      expect(status.primary).toBeNull();
      expect(failover.code).toBe('DR_SPLIT_BRAIN');
    } finally {
      await split.close();
    }
  });

  it('warns about an unfinished operation', async () => {
    const ctx = await seedApp(sim);
    const crash = ctx.dr.failover({
      to: 'sin',
      ...simRunOptions(sim, {
        afterStepPersisted: (step) => {
          if (step === 'fence') throw new Error('killed');
        },
      }),
    });
    await expect(crash).rejects.toThrow('killed');
    const status = await ctx.dr.status();
    const [operation] = status.unfinishedOperations;
    const second = await rejection(ctx.dr.failover({ to: 'sin', ...simRunOptions(sim) }));
    await ctx.dr.abort(operation?.id as string, simRunOptions(sim));
    await ctx.dr.close();

    expect(status.warnings.map((warning) => warning.code)).toContain('unfinished-operation');
    expect(operation?.kind).toBe('failover');
    expect(second.code).toBe('DR_REFUSED');
    expect(second.hint).toContain(`flydr resume ${operation?.id}`);
  });
});

describe('DisasterRecovery.compare', () => {
  it('compares two backups by id', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 3);
    const first = await ctx.dr.backup();
    await waitForMoreRows(sim, ctx.machineId, 3);
    const second = await ctx.dr.backup();
    const report = await ctx.dr.compare(first.id, second.id);
    await ctx.dr.close();

    expect(report.identical).toBe(false);
    expect(report.tables[0]?.onlyInSecond).toBeGreaterThanOrEqual(3);
  });

  it('leaves no violations', () => {
    expect(sim.violations()).toEqual([]);
  });
});
