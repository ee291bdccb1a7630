import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sim, startSim } from '../src/index.js';
import { api } from './helpers/http.js';

type Lease = { status: string; data: { nonce: string; expires_at: number; version: string } };

let sim: Sim;
let machineId: string;
const base = () => `/v1/apps/lease-app/machines/${machineId}`;

beforeAll(async () => {
  sim = await startSim();
  sim.createApp('lease-app', { primaryRegion: 'nrt' });
  ({ machineId } = await sim.seedMachine('lease-app', { init: { exec: ['sleep', 'inf'] } }));
});
afterAll(() => sim.close());

describe('machine leases', () => {
  let nonce = '';

  it('acquires a lease with 201', async () => {
    const answer = await api<Lease>(sim, 'POST', `${base()}/lease`, {
      body: { ttl: 30, description: 'test' },
    });
    expect(answer.status).toBe(201);
    expect(answer.body.status).toBe('success');
    nonce = answer.body.data.nonce;
    expect(nonce).toMatch(/^[0-9a-f]{32}$/);
  });

  it('answers 409 to a second acquire', async () => {
    expect((await api(sim, 'POST', `${base()}/lease`, { body: { ttl: 30 } })).status).toBe(409);
  });

  it('rejects a stop without the nonce', async () => {
    const answer = await api<{ error: string }>(sim, 'POST', `${base()}/stop`, { body: {} });
    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatch(/fly-machine-lease-nonce/);
  });

  it('rejects a stop with another nonce', async () => {
    const answer = await api(sim, 'POST', `${base()}/stop`, {
      body: {},
      headers: { 'fly-machine-lease-nonce': 'f'.repeat(32) },
    });
    expect(answer.status).toBe(409);
  });

  it('rejects a metadata write without the nonce', async () => {
    const answer = await api(sim, 'POST', `${base()}/metadata/role`, {
      body: { value: 'primary' },
    });
    expect(answer.status).toBe(409);
  });

  it('allows a metadata write with the nonce', async () => {
    const answer = await api(sim, 'POST', `${base()}/metadata/role`, {
      body: { value: 'primary' },
      headers: { 'fly-machine-lease-nonce': nonce },
    });
    expect(answer.status).toBe(204);
  });

  it('refreshes with the nonce header', async () => {
    const answer = await api<Lease>(sim, 'POST', `${base()}/lease`, {
      body: { ttl: 60 },
      headers: { 'fly-machine-lease-nonce': nonce },
    });
    expect(answer.status).toBe(201);
    expect(answer.body.data.nonce).toBe(nonce);
  });

  it('returns the held lease', async () => {
    const answer = await api<Lease>(sim, 'GET', `${base()}/lease`);
    expect(answer.body.data.nonce).toBe(nonce);
  });

  it('rejects a release without the nonce', async () => {
    expect((await api(sim, 'DELETE', `${base()}/lease`)).status).toBe(400);
  });

  it('releases with the nonce, then GET answers 404', async () => {
    const released = await api(sim, 'DELETE', `${base()}/lease`, {
      headers: { 'fly-machine-lease-nonce': nonce },
    });
    expect(released.status).toBe(200);
    expect((await api(sim, 'GET', `${base()}/lease`)).status).toBe(404);
  });

  it('allows a stop once released', async () => {
    expect((await api(sim, 'POST', `${base()}/stop`, { body: {} })).status).toBe(200);
  });

  it('takes a lease on create with lease_ttl', async () => {
    const created = await api<{ id: string; nonce: string }>(
      sim,
      'POST',
      '/v1/apps/lease-app/machines',
      {
        body: {
          lease_ttl: 30,
          skip_launch: true,
          config: { image: 'registry.fly.io/lease-app:1' },
        },
      },
    );
    expect(created.body.nonce).toMatch(/^[0-9a-f]{32}$/);
    const start = await api(sim, 'POST', `/v1/apps/lease-app/machines/${created.body.id}/start`);
    expect(start.status).toBe(409);
  });

  it('lets an expired lease go', async () => {
    const created = await api<{ id: string }>(sim, 'POST', '/v1/apps/lease-app/machines', {
      body: { skip_launch: true, config: { image: 'registry.fly.io/lease-app:1' } },
    });
    const path = `/v1/apps/lease-app/machines/${created.body.id}/lease`;
    expect((await api(sim, 'POST', path, { body: { ttl: 0.05 } })).status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect((await api(sim, 'POST', path, { body: { ttl: 30 } })).status).toBe(201);
  });
});
