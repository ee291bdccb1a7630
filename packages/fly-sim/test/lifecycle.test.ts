import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sim, startSim } from '../src/index.js';
import { api } from './helpers/http.js';
import { connect, testKey } from './helpers/ssh.js';

type Machine = {
  id: string;
  state: string;
  region: string;
  instance_id: string;
  private_ip: string;
  cordoned: boolean;
  config: Record<string, unknown> & { mounts?: { volume: string; path: string }[] };
  events: { type: string; status: string }[];
};
type ErrorBody = { error: string };

const key = testKey();
let sim: Sim;
let machineId: string;
let volumeId: string;
const machinePath = () => `/v1/apps/life-app/machines/${machineId}`;

beforeAll(async () => {
  sim = await startSim({ authorizedKeys: [key.publicLine] });
  sim.createApp('life-app', { primaryRegion: 'nrt' });
  ({ machineId, volumeId } = await sim.seedMachine('life-app', { metadata: { role: 'primary' } }));
});
afterAll(() => sim.close());

async function getMachine(id = machineId): Promise<Machine> {
  return (await api<Machine>(sim, 'GET', `/v1/apps/life-app/machines/${id}`)).body;
}

async function waitFor(state: string, id = machineId): Promise<number> {
  return (await api(sim, 'GET', `/v1/apps/life-app/machines/${id}/wait?state=${state}&timeout=5`))
    .status;
}

describe('machine update', () => {
  it('replaces a started machine with a new version', async () => {
    const before = await getMachine();
    const config = { ...before.config, env: { MODE: 'two' } };
    const updated = await api<Machine>(sim, 'POST', machinePath(), { body: { config } });
    expect(updated.status).toBe(200);
    expect(updated.body.state).toBe('replacing');
    expect(await waitFor('started')).toBe(200);
    const after = await getMachine();
    expect(after.instance_id).not.toBe(before.instance_id);
    expect(after.region).toBe('nrt');
    expect(after.config.env).toEqual({ MODE: 'two' });
  });

  it('answers SSH again after the replace', async () => {
    const client = await connect((await getMachine()).private_ip, sim.sshPort, key.privateKey);
    client.end();
  });

  it('requires the full config', async () => {
    const answer = await api<ErrorBody>(sim, 'POST', machinePath(), { body: { env: { A: 'b' } } });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/config is required/);
  });

  it('keeps the region', async () => {
    const { config } = await getMachine();
    const answer = await api<ErrorBody>(sim, 'POST', machinePath(), {
      body: { config, region: 'sin' },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/region cannot change/);
  });

  it('rejects a stale current_version', async () => {
    const { config } = await getMachine();
    const answer = await api(sim, 'POST', machinePath(), {
      body: { config, current_version: '01STALE' },
    });
    expect(answer.status).toBe(412);
  });

  it('keeps a stopped machine stopped with skip_launch', async () => {
    expect((await api(sim, 'POST', `${machinePath()}/stop`, { body: {} })).status).toBe(200);
    expect(await waitFor('stopped')).toBe(200);
    const { config } = await getMachine();
    await api(sim, 'POST', machinePath(), { body: { config, skip_launch: true } });
    expect(await waitFor('stopped')).toBe(200);
    expect((await getMachine()).state).toBe('stopped');
  });

  it('starts a stopped machine and reports its previous state', async () => {
    const answer = await api<{ previous_state: string }>(sim, 'POST', `${machinePath()}/start`);
    expect(answer.body.previous_state).toBe('stopped');
    expect(await waitFor('started')).toBe(200);
  });

  it('rejects start of a started machine', async () => {
    expect((await api(sim, 'POST', `${machinePath()}/start`)).status).toBe(412);
  });
});

describe('machine volumes', () => {
  it('rejects a second mount', async () => {
    const answer = await api<ErrorBody>(sim, 'POST', '/v1/apps/life-app/machines', {
      body: {
        config: {
          image: 'registry.fly.io/life-app:1',
          mounts: [
            { volume: volumeId, path: '/a' },
            { volume: volumeId, path: '/b' },
          ],
        },
      },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/one volume/);
  });

  it('rejects a volume attached to another machine', async () => {
    const answer = await api<ErrorBody>(sim, 'POST', '/v1/apps/life-app/machines', {
      body: {
        config: {
          image: 'registry.fly.io/life-app:1',
          mounts: [{ volume: volumeId, path: '/data' }],
        },
      },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/already attached/);
  });

  it('rejects a region other than the volume region', async () => {
    const volume = await api<{ id: string }>(sim, 'POST', '/v1/apps/life-app/volumes', {
      body: { name: 'data', region: 'sin', size_gb: 1 },
    });
    const answer = await api<ErrorBody>(sim, 'POST', '/v1/apps/life-app/machines', {
      body: {
        region: 'nrt',
        config: {
          image: 'registry.fly.io/life-app:1',
          mounts: [{ volume: volume.body.id, path: '/data' }],
        },
      },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/volume's region/);
  });

  it('places a machine in its volume region', async () => {
    const volume = await api<{ id: string }>(sim, 'POST', '/v1/apps/life-app/volumes', {
      body: { name: 'data', region: 'sin', size_gb: 1 },
    });
    const answer = await api<Machine>(sim, 'POST', '/v1/apps/life-app/machines', {
      body: {
        skip_launch: true,
        config: {
          image: 'registry.fly.io/life-app:1',
          mounts: [{ volume: volume.body.id, path: '/data' }],
        },
      },
    });
    expect(answer.body.region).toBe('sin');
    expect(answer.body.state).toBe('created');
  });

  it('rejects a volume change through update', async () => {
    const { config } = await getMachine();
    const answer = await api<ErrorBody>(sim, 'POST', machinePath(), {
      body: { config: { ...config, mounts: [] } },
    });
    expect(answer.status).toBe(400);
  });
});

describe('machine controls', () => {
  it('cordons and uncordons', async () => {
    await api(sim, 'POST', `${machinePath()}/cordon`);
    expect((await getMachine()).cordoned).toBe(true);
    await api(sim, 'POST', `${machinePath()}/uncordon`);
    expect((await getMachine()).cordoned).toBe(false);
  });

  it('lists events newest first', async () => {
    const events = await api<{ type: string }[]>(sim, 'GET', `${machinePath()}/events?limit=50`);
    expect(events.body[0]?.type).toBe('uncordon');
    expect(events.body.map((e) => e.type)).toContain('launch');
  });

  it('reads, sets and deletes metadata', async () => {
    expect((await api(sim, 'GET', `${machinePath()}/metadata`)).body).toEqual({ role: 'primary' });
    await api(sim, 'POST', `${machinePath()}/metadata/generation`, { body: { value: '2' } });
    expect((await api(sim, 'GET', `${machinePath()}/metadata/generation`)).body).toEqual({
      value: '2',
    });
    expect((await api(sim, 'DELETE', `${machinePath()}/metadata/generation`)).status).toBe(204);
    expect((await api(sim, 'GET', `${machinePath()}/metadata/generation`)).status).toBe(404);
  });

  it('filters the list by metadata, region and state', async () => {
    const byMetadata = await api<Machine[]>(
      sim,
      'GET',
      '/v1/apps/life-app/machines?metadata.role=primary',
    );
    expect(byMetadata.body.map((m) => m.id)).toEqual([machineId]);
    const bySin = await api<Machine[]>(sim, 'GET', '/v1/apps/life-app/machines?region=sin');
    expect(bySin.body.every((m) => m.region === 'sin')).toBe(true);
    const started = await api<Machine[]>(sim, 'GET', '/v1/apps/life-app/machines?state=started');
    expect(started.body.map((m) => m.id)).toEqual([machineId]);
  });

  it('omits config in a summary list', async () => {
    const summary = await api<Machine[]>(sim, 'GET', '/v1/apps/life-app/machines?summary=true');
    expect(summary.body[0]?.config).toBeUndefined();
  });

  it('refuses to destroy a started machine without force', async () => {
    expect((await api(sim, 'DELETE', machinePath())).status).toBe(412);
  });

  it('destroys with force and frees the volume', async () => {
    expect((await api(sim, 'DELETE', `${machinePath()}?force=true`)).status).toBe(200);
    expect(await waitFor('destroyed')).toBe(200);
    const volume = await api<{ attached_machine_id: string | null }>(
      sim,
      'GET',
      `/v1/apps/life-app/volumes/${volumeId}`,
    );
    expect(volume.body.attached_machine_id).toBeNull();
    const list = await api<Machine[]>(sim, 'GET', '/v1/apps/life-app/machines');
    expect(list.body.map((m) => m.id)).not.toContain(machineId);
  });
});
