import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sim, startSim } from '../src/index.js';
import { api } from './helpers/http.js';

type Machine = {
  id: string;
  state: string;
  region: string;
  instance_id: string;
  private_ip: string;
  config: { image: string };
};
type Volume = { id: string; region: string; attached_machine_id: string | null };

let sim: Sim;

beforeAll(async () => {
  sim = await startSim();
  sim.createApp('machines-app', { primaryRegion: 'nrt' });
});
afterAll(() => sim.close());

async function newVolume(region = 'nrt'): Promise<Volume> {
  const created = await api<Volume>(sim, 'POST', '/v1/apps/machines-app/volumes', {
    body: { name: 'data', region, size_gb: 1 },
  });
  expect(created.status).toBe(200);
  return created.body;
}

async function waitState(id: string, state: string, timeout = 5) {
  return api<{ ok: boolean; state: string }>(
    sim,
    'GET',
    `/v1/apps/machines-app/machines/${id}/wait?state=${state}&timeout=${timeout}`,
  );
}

describe('machines API', () => {
  it('creates a machine that reaches started', async () => {
    const volume = await newVolume();
    const created = await api<Machine>(sim, 'POST', '/v1/apps/machines-app/machines', {
      body: {
        config: {
          image: 'registry.fly.io/machines-app:1',
          mounts: [{ volume: volume.id, path: '/app/data' }],
        },
      },
    });
    expect(created.status).toBe(200);
    expect(created.body.state).toBe('created');
    expect(created.body.region).toBe('nrt');
    expect(created.headers.get('fly-request-id')).toMatch(/sim$/);
    const waited = await waitState(created.body.id, 'started');
    expect(waited.body).toMatchObject({ ok: true, state: 'started' });
  });

  it('rejects a request without the token', async () => {
    const response = await fetch(`${sim.apiUrl}/v1/apps/machines-app/machines`);
    expect(response.status).toBe(401);
  });

  it('answers 404 for an unknown machine', async () => {
    const answer = await api<{ error: string }>(
      sim,
      'GET',
      '/v1/apps/machines-app/machines/0000000000000',
    );
    expect(answer.status).toBe(404);
    expect(answer.body.error).toMatch(/not found/);
  });
});
