import { createFlyClient, type FlyClient } from '@flydr/fly-client';
import { type Sim, type SimOptions, startSim } from '@flydr/fly-sim';
import { afterEach, describe, expect, it } from 'vitest';
import { type DrError, isDrError } from '../src/errors.js';
import type { LogFields } from '../src/logger.js';
import { updateWhenSettled } from '../src/machine-update.js';

const APP = 'update-app';

const replacing412 = {
  method: 'POST',
  path: '/v1/apps/:app/machines/:id',
  status: 412,
  body: { error: 'failed_precondition: machine is replacing, try again' },
};

let sim: Sim | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

interface Setup {
  active: Sim;
  client: FlyClient;
  machineId: string;
  warnings: LogFields[];
}

/** Starts a sim with one machine (started unless `skipLaunch`) and a client that does not retry. */
async function setUp(options: SimOptions = {}, skipLaunch = false): Promise<Setup> {
  const active = await startSim(options);
  sim = active;
  active.createApp(APP, { primaryRegion: 'nrt' });
  const { machineId } = await active.seedMachine(APP, { skipLaunch });
  const client = createFlyClient({
    token: active.token,
    baseUrl: active.apiUrl,
    graphqlUrl: active.graphqlUrl,
    rateLimit: false,
    retry: { maxAttempts: 1 },
  });
  return { active, client, machineId, warnings: [] };
}

/** Sends the machine's own config with a new env value through {@link updateWhenSettled}. */
async function updateEnv(
  setup: Setup,
  mode: string,
  options: Parameters<typeof updateWhenSettled>[4] = {},
) {
  const { config } = await setup.client.machines.get(APP, setup.machineId);
  return updateWhenSettled(
    setup.client,
    APP,
    setup.machineId,
    { config: { ...config, env: { MODE: mode } } },
    {
      pollMs: 20,
      logger: {
        debug() {},
        info() {},
        warn: (_message, fields) => setup.warnings.push(fields ?? {}),
        error() {},
      },
      ...options,
    },
  );
}

/** Awaits a promise that must reject with a DrError. */
async function busy(promise: Promise<unknown>): Promise<DrError> {
  const caught = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!isDrError(caught)) throw new Error(`expected a DrError, got ${String(caught)}`);
  return caught;
}

describe('updateWhenSettled', () => {
  it('waits while the machine is replacing', async () => {
    const setup = await setUp({ rejectUpdatesWhileReplacing: true, latencies: { updateMs: 300 } });
    await updateEnv(setup, 'one', { maxAttempts: 1 });

    const updated = await updateEnv(setup, 'two');
    const machine = await setup.client.machines.wait(APP, setup.machineId, { state: 'started' });
    const config = (await setup.client.machines.get(APP, setup.machineId)).config;

    expect(updated.id).toBe(setup.machineId);
    expect(machine.state).toBe('started');
    expect(config?.env).toEqual({ MODE: 'two' });
    expect(setup.warnings).toHaveLength(1);
    expect(setup.warnings[0]?.state).toBe('started');
  });

  it('sends again after one 412', async () => {
    const setup = await setUp();
    const fault = setup.active.injectFault({ ...replacing412, times: 1 });

    await updateEnv(setup, 'two');
    const config = (await setup.client.machines.get(APP, setup.machineId)).config;

    expect(fault.hits).toBe(1);
    expect(config?.env).toEqual({ MODE: 'two' });
  });

  it('names the state when it never settles', async () => {
    const setup = await setUp({
      rejectUpdatesWhileReplacing: true,
      latencies: { updateMs: 20_000 },
    });
    await updateEnv(setup, 'one', { maxAttempts: 1 });

    const error = await busy(updateEnv(setup, 'two', { settleTimeoutMs: 300 }));

    expect(error.code).toBe('DR_MACHINE_BUSY');
    expect(error.message).toContain(`machine ${setup.machineId}`);
    expect(error.message).toContain('state replacing');
    expect(error.message).toContain('did not settle within 300 ms');
    expect(error.hint).toContain(`fly machine status ${setup.machineId}`);
    expect(error.details.state).toBe('replacing');
  });

  it('stops after maxAttempts rejections', async () => {
    const setup = await setUp();
    const fault = setup.active.injectFault({ ...replacing412, times: 10 });

    const error = await busy(updateEnv(setup, 'two', { maxAttempts: 3 }));

    expect(fault.hits).toBe(3);
    expect(error.code).toBe('DR_MACHINE_BUSY');
    expect(error.message).toContain('state started');
    expect(error.message).toContain('rejected 3 updates');
    expect(error.message).toContain('machine is replacing');
  });

  it('gives up at once on a destroyed machine', async () => {
    const setup = await setUp();
    const { config } = await setup.client.machines.get(APP, setup.machineId);
    await setup.client.machines.delete(APP, setup.machineId, { force: true });
    await setup.client.machines.wait(APP, setup.machineId, { state: 'destroyed' });

    const error = await busy(
      updateWhenSettled(setup.client, APP, setup.machineId, { config: config ?? {} }),
    );

    expect(error.code).toBe('DR_MACHINE_BUSY');
    expect(error.message).toContain('it is destroyed');
  });

  it('names the region when capacity is gone', async () => {
    const setup = await setUp({ capacityErrors: 'reserve-resource-409' }, true);
    setup.active.setCapacity('nrt', { machines: 0 });

    const caught = await updateEnv(setup, 'two').then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(isDrError(caught, 'DR_NO_CAPACITY')).toBe(true);
    expect((caught as DrError).message).toContain(
      `region nrt has no capacity to start machine ${setup.machineId}`,
    );
    expect((caught as DrError).hint).toContain('flydr regions');
    expect((caught as DrError).details.region).toBe('nrt');
  });

  it('passes other errors through', async () => {
    const setup = await setUp();
    const fault = setup.active.injectFault({
      method: 'POST',
      path: '/v1/apps/:app/machines/:id',
      status: 500,
      body: { error: 'internal error' },
      times: 5,
    });

    const caught = await updateEnv(setup, 'two').then(
      () => undefined,
      (error: unknown) => error as { code?: string },
    );

    expect(fault.hits).toBe(1);
    expect(caught?.code).toBe('FLY_API_ERROR');
  });
});
