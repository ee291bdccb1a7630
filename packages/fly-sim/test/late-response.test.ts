import { afterEach, describe, expect, it } from 'vitest';
import { type Sim, startSim } from '../src/index.js';
import { api } from './helpers/http.js';

let sim: Sim | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('injectFault delayResponseMs', () => {
  it('acts before the late response', async () => {
    const active = await startSim();
    sim = active;
    active.createApp('late-app', { primaryRegion: 'nrt' });
    active.injectFault({ method: 'POST', path: '/v1/apps/:app/machines', delayResponseMs: 400 });

    const create = api<{ id: string }>(active, 'POST', '/v1/apps/late-app/machines', {
      body: { region: 'nrt', skip_launch: true, config: { image: 'app:1' } },
    });
    const listedEarly = await waitForMachines(active);
    const created = await create;

    expect(listedEarly).toHaveLength(1);
    expect(created.status).toBe(200);
    expect(listedEarly[0]?.id).toBe(created.body.id);
  });

  it('is a fault without a status', async () => {
    const active = await startSim();
    sim = active;

    expect(() => active.injectFault({ path: '/v1/apps/:app', delayResponseMs: 10 })).not.toThrow();
  });
});

/** Lists the app's machines until one shows, for up to 5 s, while a create is in flight. */
async function waitForMachines(active: Sim): Promise<{ id: string }[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const listed = await api<{ id: string }[]>(active, 'GET', '/v1/apps/late-app/machines');
    if (listed.body.length > 0 || Date.now() > deadline) return listed.body;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
