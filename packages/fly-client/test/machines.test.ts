import { afterEach, describe, expect, it } from 'vitest';
import { FlyExecError, FlyNotFoundError, isFlyError } from '../src/index.js';
import { type Harness, memoryHarness } from './helpers/harness.js';

const APP = 'live-schedule-api';
const ID = '148ed193b95089';
let harness: Harness;

afterEach(async () => {
  await harness?.close();
});

function last(method: string, path: RegExp) {
  const seen = harness.fly.requests(method, path);
  return seen[seen.length - 1];
}

describe('machines.list', () => {
  it('sends every filter as query', async () => {
    harness = memoryHarness();
    const machines = await harness.client.machines.list(APP, {
      region: 'nrt',
      states: ['started', 'stopped'],
      metadata: { flydr_role: 'primary' },
      includeDeleted: true,
    });
    expect(machines[0]?.id).toBe(ID);
    const query = last('GET', /\/machines$/)?.query;
    expect(query?.get('region')).toBe('nrt');
    expect(query?.get('state')).toBe('started,stopped');
    expect(query?.get('metadata.flydr_role')).toBe('primary');
    expect(query?.get('include_deleted')).toBe('true');
  });

  it('parses summary machines without config', async () => {
    harness = memoryHarness();
    const { config: _config, ...summary } = harness.fly.machines.get(ID)!;
    harness.fly.script('GET', /\/machines$/, { status: 200, body: [summary] });
    const machines = await harness.client.machines.list(APP, { summary: true });
    expect(machines[0]?.config).toBeUndefined();
    expect(last('GET', /\/machines$/)?.query.get('summary')).toBe('true');
  });
});

describe('machines.get', () => {
  it('returns the typed machine', async () => {
    harness = memoryHarness();
    const machine = await harness.client.machines.get(APP, ID);
    expect(machine.config.mounts?.[0]?.path).toBe('/app/data');
    expect(machine.image_ref?.repository).toBe('live-schedule-api');
  });
});

describe('machines.create', () => {
  it('posts the request and returns the machine', async () => {
    harness = memoryHarness();
    const config = (await harness.client.machines.get(APP, ID)).config;
    const machine = await harness.client.machines.create(APP, {
      config,
      region: 'sin',
      name: 'standby-sin-1',
      skip_launch: true,
    });
    expect(machine.region).toBe('sin');
    expect(last('POST', /\/machines$/)?.body).toMatchObject({
      region: 'sin',
      skip_launch: true,
      name: 'standby-sin-1',
    });
  });

  it('retries 404 within notFoundRetryMs', async () => {
    harness = memoryHarness();
    const config = (await harness.client.machines.get(APP, ID)).config;
    const created = await harness.client.machines.create(
      APP,
      { config, region: 'sin' },
      { notFoundRetryMs: 2_000 },
    );
    harness.fly.script(
      'GET',
      new RegExp(`/machines/${created.id}$`),
      { status: 404, body: { error: 'machine not found' } },
      { status: 404, body: { error: 'machine not found' } },
    );
    const machine = await harness.client.machines.get(APP, created.id);
    expect(machine.id).toBe(created.id);
    expect(harness.fly.requests('GET', new RegExp(`/machines/${created.id}$`))).toHaveLength(3);
  });

  it('reads no lease at once within notFoundRetryMs', async () => {
    harness = memoryHarness();
    const config = (await harness.client.machines.get(APP, ID)).config;
    const created = await harness.client.machines.create(
      APP,
      { config, region: 'sin' },
      { notFoundRetryMs: 2_000 },
    );
    harness.fly.script('GET', new RegExp(`/machines/${created.id}/lease$`), {
      status: 404,
      body: { error: 'lease not found' },
    });
    const lease = await harness.client.machines.getLease(APP, created.id);
    expect(lease).toBeUndefined();
    expect(harness.fly.requests('GET', new RegExp(`/machines/${created.id}/lease$`))).toHaveLength(
      1,
    );
  });

  it('ends the 404 window after a success', async () => {
    harness = memoryHarness();
    const config = (await harness.client.machines.get(APP, ID)).config;
    const created = await harness.client.machines.create(
      APP,
      { config, region: 'sin' },
      { notFoundRetryMs: 2_000 },
    );
    await harness.client.machines.get(APP, created.id);
    harness.fly.script('GET', new RegExp(`/machines/${created.id}$`), {
      status: 404,
      body: { error: 'machine not found' },
    });
    await expect(harness.client.machines.get(APP, created.id)).rejects.toBeInstanceOf(
      FlyNotFoundError,
    );
    expect(harness.fly.requests('GET', new RegExp(`/machines/${created.id}$`))).toHaveLength(2);
  });

  it('gives up on 404 without notFoundRetryMs', async () => {
    harness = memoryHarness();
    harness.fly.script('GET', /\/machines\/148ed193b95089$/, {
      status: 404,
      body: { error: 'machine not found' },
    });
    await expect(harness.client.machines.get(APP, ID)).rejects.toBeInstanceOf(FlyNotFoundError);
    expect(harness.fly.requests('GET', /\/machines\/148ed193b95089$/)).toHaveLength(1);
  });
});

describe('machines lifecycle', () => {
  it('updates with the full config', async () => {
    harness = memoryHarness();
    const machine = await harness.client.machines.get(APP, ID);
    const updated = await harness.client.machines.update(APP, ID, {
      config: { ...machine.config, env: { MODE: 'maintenance' } },
      current_version: machine.instance_id,
      skip_launch: true,
    });
    expect(updated.instance_id).toBe('01JBX9ZZZZZZZZZZZZZZZZZZZZ');
    expect(last('POST', /\/machines\/148ed193b95089$/)?.body).toMatchObject({
      current_version: machine.instance_id,
    });
  });

  it('starts and reads the lenient answer', async () => {
    harness = memoryHarness();
    harness.fly.machines.get(ID)!.state = 'stopped';
    const result = await harness.client.machines.start(APP, ID);
    expect(result.previous_state).toBe('stopped');
  });

  it('starts with an empty answer', async () => {
    harness = memoryHarness();
    harness.fly.script('POST', /\/start$/, { status: 200 });
    expect(await harness.client.machines.start(APP, ID)).toEqual({});
  });

  it('stops with signal and timeout', async () => {
    harness = memoryHarness();
    await harness.client.machines.stop(APP, ID, { signal: 'SIGTERM', timeout: '30s' });
    expect(last('POST', /\/stop$/)?.body).toEqual({ signal: 'SIGTERM', timeout: '30s' });
  });

  it('restarts with query options', async () => {
    harness = memoryHarness();
    await harness.client.machines.restart(APP, ID, {
      signal: 'SIGINT',
      timeout: '10s',
      forceStop: true,
    });
    const query = last('POST', /\/restart$/)?.query;
    expect(query?.get('signal')).toBe('SIGINT');
    expect(query?.get('timeout')).toBe('10s');
    expect(query?.get('force_stop')).toBe('true');
  });

  it('suspends, signals, cordons and uncordons', async () => {
    harness = memoryHarness();
    await harness.client.machines.suspend(APP, ID);
    await harness.client.machines.signal(APP, ID, 'SIGUSR1');
    await harness.client.machines.cordon(APP, ID);
    expect(harness.fly.machines.get(ID)?.cordoned).toBe(true);
    await harness.client.machines.uncordon(APP, ID);
    expect(harness.fly.machines.get(ID)?.cordoned).toBe(false);
    expect(last('POST', /\/signal$/)?.body).toEqual({ signal: 'SIGUSR1' });
    expect(harness.fly.machines.get(ID)?.state).toBe('suspended');
  });

  it('deletes with force', async () => {
    harness = memoryHarness();
    await harness.client.machines.delete(APP, ID, { force: true });
    expect(last('DELETE', /\/machines\/148ed193b95089$/)?.query.get('force')).toBe('true');
    expect(harness.fly.machines.has(ID)).toBe(false);
  });
});

describe('machines.exec', () => {
  it('returns output of a zero exit', async () => {
    harness = memoryHarness();
    const result = await harness.client.machines.exec(APP, ID, {
      command: ['printenv', 'FLY_MACHINE_ID'],
      timeoutSeconds: 10,
    });
    expect(result).toEqual({
      exitCode: 0,
      exitSignal: undefined,
      stdout: '148ed193b95089\n',
      stderr: '',
    });
    expect(last('POST', /\/exec$/)?.body).toEqual({
      command: ['printenv', 'FLY_MACHINE_ID'],
      timeout: 10,
    });
  });

  it('throws FLY_EXEC_FAILED on a 200 with a failing exit code', async () => {
    harness = memoryHarness();
    const error = await harness.client.machines
      .exec(APP, ID, { command: ['sqlite3', '/app/data/app.db'] })
      .catch((e: unknown) => e);
    expect(isFlyError(error, 'FLY_EXEC_FAILED')).toBe(true);
    expect((error as FlyExecError).result.exitCode).toBe(127);
  });

  it('returns a failure with allowFailure', async () => {
    harness = memoryHarness();
    const result = await harness.client.machines.exec(APP, ID, {
      command: ['sqlite3'],
      allowFailure: true,
    });
    expect(result.exitCode).toBe(127);
  });

  it('treats a terminating signal as failure', async () => {
    harness = memoryHarness();
    harness.fly.script('POST', /\/exec$/, {
      status: 200,
      body: { exit_code: 0, exit_signal: 9, stdout: '', stderr: '' },
    });
    await expect(
      harness.client.machines.exec(APP, ID, { command: ['sleep', '100'] }),
    ).rejects.toBeInstanceOf(FlyExecError);
  });
});

describe('machines events, versions, processes', () => {
  it('reads events with a limit', async () => {
    harness = memoryHarness();
    const events = await harness.client.machines.events(APP, ID, { limit: 5 });
    expect(events[0]?.type).toBe('start');
    expect(last('GET', /\/events$/)?.query.get('limit')).toBe('5');
  });

  it('reads versions and processes', async () => {
    harness = memoryHarness();
    const versions = await harness.client.machines.versions(APP, ID);
    const processes = await harness.client.machines.processes(APP, ID);
    expect(versions[0]?.version).toBe('01JBX6Q2T3SAWC7N5RW4E1K9ZD');
    expect(processes[0]?.command).toBe('node server.js');
    expect(processes[0]?.listen_sockets).toEqual([{ address: '0.0.0.0:8080', proto: 'tcp' }]);
  });
});

describe('machines metadata', () => {
  it('sets, reads, merges, replaces and deletes keys', async () => {
    harness = memoryHarness();
    await harness.client.machines.setMetadata(APP, ID, 'flydr_role', 'primary');
    expect(await harness.client.machines.getMetadata(APP, ID)).toEqual({
      fly_process_group: 'app',
      flydr_role: 'primary',
    });
    await harness.client.machines.mergeMetadata(
      APP,
      ID,
      { flydr_generation: '2' },
      { machineVersion: 'v1' },
    );
    expect(last('PATCH', /\/metadata$/)?.body).toEqual({
      metadata: { flydr_generation: '2' },
      machine_version: 'v1',
    });
    await harness.client.machines.replaceMetadata(APP, ID, { a: '1' });
    await harness.client.machines.deleteMetadata(APP, ID, 'a');
    expect(await harness.client.machines.getMetadata(APP, ID)).toEqual({});
  });
});
