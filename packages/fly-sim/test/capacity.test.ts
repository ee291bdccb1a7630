import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sim, startSim } from '../src/index.js';
import { api } from './helpers/http.js';

type ErrorBody = { error?: string; status?: string };
type Placement = { regions: { region: string; count: number }[] };

let sim: Sim;

beforeAll(async () => {
  sim = await startSim();
  sim.createApp('cap-app', { primaryRegion: 'nrt' });
});
afterAll(() => sim.close());

function createMachine(region: string, extra: Record<string, unknown> = {}) {
  return api<ErrorBody & { id: string; region: string }>(sim, 'POST', '/v1/apps/cap-app/machines', {
    body: { region, config: { image: 'registry.fly.io/cap-app:1' }, ...extra },
  });
}

function createVolume(region: string) {
  return api<ErrorBody & { id: string }>(sim, 'POST', '/v1/apps/cap-app/volumes', {
    body: { name: 'data', region, size_gb: 1 },
  });
}

describe('region capacity', () => {
  it('fails machine creates in a full region with varying bodies', async () => {
    sim.setCapacity('nrt', { machines: 0 });
    const answers = [await createMachine('nrt'), await createMachine('nrt')];
    for (const answer of answers) {
      expect([409, 412]).toContain(answer.status);
      expect(answer.body.error).toMatch(/insufficient|could not reserve resource|capacity/);
    }
    expect(answers[0]?.body).not.toEqual(answers[1]?.body);
  });

  it('keeps other regions available', async () => {
    const created = await createMachine('sin');
    expect(created.status).toBe(200);
    expect(created.body.region).toBe('sin');
  });

  it('names the volume when a create with a volume fails', async () => {
    const volume = await createVolume('nrt');
    const answer = await api<ErrorBody>(sim, 'POST', '/v1/apps/cap-app/machines', {
      body: {
        config: {
          image: 'registry.fly.io/cap-app:1',
          mounts: [{ volume: volume.body.id, path: '/data' }],
        },
      },
    });
    expect([409, 412]).toContain(answer.status);
    const bodies = [answer.body.error ?? ''];
    for (let i = 0; i < 3; i++) {
      const again = await api<ErrorBody>(sim, 'POST', '/v1/apps/cap-app/machines', {
        body: {
          config: {
            image: 'registry.fly.io/cap-app:1',
            mounts: [{ volume: volume.body.id, path: '/data' }],
          },
        },
      });
      bodies.push(again.body.error ?? '');
    }
    expect(bodies.some((body) => body.includes(`existing volume '${volume.body.id}'`))).toBe(true);
  });

  it('allows a create with skip_launch in a full region', async () => {
    const created = await createMachine('nrt', { skip_launch: true });
    expect(created.status).toBe(200);
    const started = await api<ErrorBody>(
      sim,
      'POST',
      `/v1/apps/cap-app/machines/${created.body.id}/start`,
    );
    expect([409, 412]).toContain(started.status);
  });

  it('starts again once capacity returns', async () => {
    sim.setCapacity('nrt', { machines: 10 });
    expect((await createMachine('nrt')).status).toBe(200);
  });

  it('fails volume creates in a full region', async () => {
    sim.setCapacity('syd', { volumes: 0 });
    const answers = [await createVolume('syd'), await createVolume('syd')];
    for (const answer of answers) expect(answer.status).toBe(412);
    expect(answers.map((a) => a.body.status)).toContain('volume_placement_capacity');
  });

  it('omits full regions from placements', async () => {
    sim.setCapacity('lhr', { machines: 0 });
    sim.setCapacity('fra', { machines: 2 });
    const answer = await api<Placement>(sim, 'POST', '/v1/platform/placements', {
      body: { org_slug: 'personal', region: 'lhr,fra', count: 5 },
    });
    expect(answer.body.regions).toEqual([{ region: 'fra', count: 2, concurrency: 0 }]);
  });

  it('rejects an unknown region', async () => {
    const answer = await createMachine('xyz');
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/invalid region "xyz"/);
  });
});
