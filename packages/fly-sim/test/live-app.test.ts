import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sim, startSim } from '../src/index.js';
import { api, eventually } from './helpers/http.js';
import { connect, execOver, openSftp, shellJoin, testKey } from './helpers/ssh.js';

type Machine = {
  id: string;
  state: string;
  config: Record<string, unknown>;
  checks: { status: string }[];
};

const key = testKey();
let sim: Sim;

beforeAll(async () => {
  sim = await startSim({ authorizedKeys: [key.publicLine], writeIntervalMs: 5 });
  sim.createApp('live-app', { primaryRegion: 'nrt' });
  sim.createApp('other-app', { primaryRegion: 'sin' });
});
afterAll(() => sim.close());

async function getMachine(app: string, id: string): Promise<Machine> {
  return (await api<Machine>(sim, 'GET', `/v1/apps/${app}/machines/${id}`)).body;
}

async function updateConfig(
  app: string,
  id: string,
  change: (config: Record<string, unknown>) => void,
) {
  const machine = await getMachine(app, id);
  change(machine.config);
  const updated = await api(sim, 'POST', `/v1/apps/${app}/machines/${id}`, {
    body: { config: machine.config },
  });
  expect(updated.status).toBe(200);
  const waited = await api(
    sim,
    'GET',
    `/v1/apps/${app}/machines/${id}/wait?state=started&timeout=5`,
  );
  expect(waited.status).toBe(200);
}

describe('simulated app', () => {
  it('records committed rows that are in its database', async () => {
    const { machineId } = await sim.seedMachine('live-app');
    const writer = sim.appWriter(machineId);
    await eventually(() => writer.committedIds().length >= 20);

    const stop = await api(sim, 'POST', `/v1/apps/live-app/machines/${machineId}/stop`, {
      body: {},
    });
    expect(stop.status).toBe(200);
    await api(sim, 'GET', `/v1/apps/live-app/machines/${machineId}/wait?state=stopped&timeout=5`);
    expect(writer.running()).toBe(false);

    const ids = writer.committedIds();
    const database = new Database(join(sim.machine(machineId).volumeDir ?? '', 'app.db'), {
      readonly: true,
    });
    const rows = database.prepare('SELECT id FROM writes').all() as { id: number }[];
    database.close();
    const present = new Set(rows.map((row) => row.id));
    expect(ids.filter((id) => !present.has(id))).toEqual([]);
    expect(sim.violations()).toEqual([]);
  });

  it('serves GET /health while it runs', async () => {
    const { machineId } = await sim.seedMachine('other-app');
    const url = sim.appWriter(machineId).healthUrl();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/health$/);
    const response = await fetch(url ?? '');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', machine_id: machineId });
    const machine = await getMachine('other-app', machineId);
    expect(machine.checks[0]?.status).toBe('passing');
  });

  it('answers the public URL from an uncordoned machine', async () => {
    const proxied = await startSim();
    try {
      proxied.createApp('proxy-app');
      const { machineId } = await proxied.seedMachine('proxy-app');
      const url = `${await proxied.publicUrl('proxy-app')}/health`;
      const served = await fetch(url);
      expect(served.status).toBe(200);
      expect(served.headers.get('fly-machine-id')).toBe(machineId);

      await api(proxied, 'POST', `/v1/apps/proxy-app/machines/${machineId}/cordon`);
      expect((await fetch(url)).status).toBe(503);
    } finally {
      await proxied.close();
    }
  });

  it('fails the machine when the database is garbage', async () => {
    const { machineId, volumeId } = await sim.seedMachine('other-app', { skipLaunch: true });
    writeFileSync(join(sim.volumeDir(volumeId), 'app.db'), Buffer.alloc(4096, 0x41));
    expect((await api(sim, 'POST', `/v1/apps/other-app/machines/${machineId}/start`)).status).toBe(
      200,
    );
    const waited = await api(
      sim,
      'GET',
      `/v1/apps/other-app/machines/${machineId}/wait?state=failed&timeout=5`,
    );
    expect(waited.status).toBe(200);
    expect(sim.runtimeErrors().join('\n')).toMatch(/not a database/);
  });

  it('stops writing when its host loses power', async () => {
    const { machineId } = await sim.seedMachine('other-app');
    await sim.hostDown(machineId);
    expect(sim.appWriter(machineId).running()).toBe(false);
    await sim.hostUp(machineId);
    expect(sim.appWriter(machineId).running()).toBe(true);
  });

  it('keeps writing through a partition', async () => {
    const { machineId } = await sim.seedMachine('other-app');
    await sim.hostDown(machineId, { keepAppRunning: true });
    const count = sim.appWriter(machineId).committedIds().length;
    await eventually(() => sim.appWriter(machineId).committedIds().length > count + 3);
    expect(sim.appWriter(machineId).running()).toBe(true);
    await sim.hostUp(machineId);
  });

  it('does not run under an init override', async () => {
    const { machineId } = await sim.seedMachine('other-app', { init: { cmd: ['sleep', 'inf'] } });
    expect(sim.appWriter(machineId).running()).toBe(false);
  });
});

describe('sim.violations', () => {
  it('reports a database replaced over SFTP while the app runs', async () => {
    const { machineId, privateIp } = await sim.seedMachine('live-app', { region: 'nrt' });
    await eventually(() => sim.appWriter(machineId).committedIds().length > 0);
    const client = await connect(privateIp, sim.sshPort, key.privateKey);
    try {
      const sftp = await openSftp(client);
      await new Promise<void>((resolve, reject) =>
        sftp.writeFile('/app/data/new.db', 'not a database', (e) => (e ? reject(e) : resolve())),
      );
      await new Promise<void>((resolve, reject) =>
        sftp.rename('/app/data/new.db', '/app/data/app.db', (e) => (e ? reject(e) : resolve())),
      );
    } finally {
      client.end();
    }
    expect(sim.violations()).toContainEqual(
      expect.objectContaining({
        kind: 'database-written-while-app-running',
        machineId,
        path: '/app/data/app.db',
        operation: 'sftp rename',
      }),
    );
  });

  it('reports a WAL removed by exec while the app runs', async () => {
    const { machineId, privateIp } = await sim.seedMachine('other-app');
    const client = await connect(privateIp, sim.sshPort, key.privateKey);
    try {
      const result = await execOver(client, shellJoin(['rm', '-f', '--', '/app/data/app.db-wal']));
      expect(result.code).toBe(0);
    } finally {
      client.end();
    }
    expect(sim.violations()).toContainEqual(
      expect.objectContaining({ machineId, path: '/app/data/app.db-wal', operation: 'exec rm' }),
    );
  });

  it('reports nothing for writes in maintenance mode', async () => {
    const { machineId } = await sim.seedMachine('other-app');
    await updateConfig('other-app', machineId, (config) => {
      config.init = { exec: ['sleep', 'inf'] };
    });
    expect(sim.appWriter(machineId).running()).toBe(false);
    const before = sim.violations().length;
    const result = await api<{ exit_code: number }>(
      sim,
      'POST',
      `/v1/apps/other-app/machines/${machineId}/exec`,
      {
        body: { command: ['mv', '-f', '--', '/app/data/app.db', '/app/data/app.db.prev'] },
      },
    );
    expect(result.body.exit_code).toBe(0);
    expect(sim.violations().length).toBe(before);
  });

  it('reports two machines of one app writing at once', async () => {
    const split = await startSim();
    try {
      split.createApp('split-app');
      const first = await split.seedMachine('split-app', { region: 'nrt' });
      const second = await split.seedMachine('split-app', { region: 'sin' });
      expect(split.violations()).toEqual([
        expect.objectContaining({
          kind: 'two-writers',
          app: 'split-app',
          machineIds: [first.machineId, second.machineId],
        }),
      ]);
    } finally {
      await split.close();
    }
  });
});
