import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sim, startSim } from '../src/index.js';
import { api } from './helpers/http.js';

type Volume = { id: string; region: string; size_gb: number; state: string; bytes_used: number };
type Snapshot = { id: string; size: number; digest: string };

let sim: Sim;
let volume: Volume;

beforeAll(async () => {
  sim = await startSim();
  sim.createApp('vol-app', { primaryRegion: 'nrt' });
  volume = (
    await api<Volume>(sim, 'POST', '/v1/apps/vol-app/volumes', {
      body: { name: 'data', region: 'nrt', size_gb: 1 },
    })
  ).body;
  writeFileSync(join(sim.volumeDir(volume.id), 'app.db'), 'database bytes');
});
afterAll(() => sim.close());

describe('volumes', () => {
  it('lists and gets a volume with its usage', async () => {
    const list = await api<Volume[]>(sim, 'GET', '/v1/apps/vol-app/volumes');
    expect(list.body.map((v) => v.id)).toEqual([volume.id]);
    const one = await api<Volume>(sim, 'GET', `/v1/apps/vol-app/volumes/${volume.id}`);
    expect(one.body.bytes_used).toBe('database bytes'.length);
  });

  it('rejects an invalid name', async () => {
    const answer = await api(sim, 'POST', '/v1/apps/vol-app/volumes', {
      body: { name: 'Bad Name', region: 'nrt' },
    });
    expect(answer.status).toBe(400);
  });

  it('extends but never shrinks', async () => {
    const grown = await api<{ volume: Volume; needs_restart: boolean }>(
      sim,
      'PUT',
      `/v1/apps/vol-app/volumes/${volume.id}/extend`,
      { body: { size_gb: 2 } },
    );
    expect(grown.body.volume.size_gb).toBe(2);
    const shrink = await api(sim, 'PUT', `/v1/apps/vol-app/volumes/${volume.id}/extend`, {
      body: { size_gb: 1 },
    });
    expect(shrink.status).toBe(400);
  });

  it('updates snapshot retention', async () => {
    const answer = await api<{ snapshot_retention: number }>(
      sim,
      'PUT',
      `/v1/apps/vol-app/volumes/${volume.id}`,
      {
        body: { snapshot_retention: 10 },
      },
    );
    expect(answer.body.snapshot_retention).toBe(10);
  });

  it('takes a snapshot and restores it in another region', async () => {
    expect((await api(sim, 'POST', `/v1/apps/vol-app/volumes/${volume.id}/snapshots`)).status).toBe(
      200,
    );
    const snapshots = await api<Snapshot[]>(
      sim,
      'GET',
      `/v1/apps/vol-app/volumes/${volume.id}/snapshots`,
    );
    expect(snapshots.body).toHaveLength(1);
    const snapshot = snapshots.body[0] as Snapshot;
    expect(snapshot.size).toBe('database bytes'.length);

    const restored = await api<Volume>(sim, 'POST', '/v1/apps/vol-app/volumes', {
      body: { name: 'data', region: 'sin', snapshot_id: snapshot.id, size_gb: 2 },
    });
    expect(restored.body.region).toBe('sin');
    expect(readFileSync(join(sim.volumeDir(restored.body.id), 'app.db'), 'utf8')).toBe(
      'database bytes',
    );
  });

  it('forks a volume into another region', async () => {
    const fork = await api<Volume>(sim, 'POST', '/v1/apps/vol-app/volumes', {
      body: { name: 'data', region: 'sin', source_volume_id: volume.id },
    });
    expect(fork.status).toBe(200);
    expect(readFileSync(join(sim.volumeDir(fork.body.id), 'app.db'), 'utf8')).toBe(
      'database bytes',
    );
  });

  it('destroys a detached volume and keeps its snapshots', async () => {
    const destroyed = await api<Volume>(sim, 'DELETE', `/v1/apps/vol-app/volumes/${volume.id}`);
    expect(destroyed.body.state).toBe('destroyed');
    const list = await api<Volume[]>(sim, 'GET', '/v1/apps/vol-app/volumes');
    expect(list.body.map((v) => v.id)).not.toContain(volume.id);
    const snapshots = await api<Snapshot[]>(
      sim,
      'GET',
      `/v1/apps/vol-app/volumes/${volume.id}/snapshots`,
    );
    expect(snapshots.body).toHaveLength(1);
  });
});

describe('apps', () => {
  it('creates an app with 201', async () => {
    const created = await api<{ id: string }>(sim, 'POST', '/v1/apps', {
      body: { name: 'new-app', org_slug: 'personal' },
    });
    expect(created.status).toBe(201);
  });

  it('answers 422 name_taken for a used name', async () => {
    const taken = await api<{ status: string }>(sim, 'POST', '/v1/apps', {
      body: { name: 'new-app', org_slug: 'personal' },
    });
    expect(taken.status).toBe(422);
    expect(taken.body.status).toBe('name_taken');
  });

  it('lists the apps of an org', async () => {
    const list = await api<{ total_apps: number; apps: { name: string }[] }>(
      sim,
      'GET',
      '/v1/apps?org_slug=personal',
    );
    expect(list.body.apps.map((a) => a.name).sort()).toEqual(['new-app', 'vol-app']);
    expect(list.body.total_apps).toBe(2);
  });

  it('deletes an app with 202', async () => {
    expect((await api(sim, 'DELETE', '/v1/apps/new-app')).status).toBe(202);
    expect((await api(sim, 'GET', '/v1/apps/new-app')).status).toBe(404);
  });
});

describe('platform', () => {
  it('lists the region table', async () => {
    const answer = await api<{ regions: { code: string }[] }>(sim, 'GET', '/v1/platform/regions');
    expect(answer.body.regions.map((r) => r.code)).toContain('nrt');
  });

  it('requires org_slug for placements', async () => {
    expect((await api(sim, 'POST', '/v1/platform/placements', { body: {} })).status).toBe(400);
  });
});
