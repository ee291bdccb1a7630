import { afterEach, describe, expect, it } from 'vitest';
import { type Sim, type SimOptions, startSim } from '../src/index.js';
import { api } from './helpers/http.js';

type Machine = { id: string; state: string; config: Record<string, unknown> };
type ErrorBody = { error: string };

let sim: Sim | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** Starts a sim whose updates stay `replacing` for 2 s, and returns a started machine's path. */
async function startReplacingSim(options: SimOptions): Promise<{ active: Sim; path: string }> {
  const active = await startSim({ latencies: { updateMs: 2_000 }, ...options });
  sim = active;
  active.createApp('replace-app', { primaryRegion: 'nrt' });
  const { machineId } = await active.seedMachine('replace-app');
  return { active, path: `/v1/apps/replace-app/machines/${machineId}` };
}

/** Sends an update with the machine's own config and a new env value. */
async function update(active: Sim, path: string, mode: string) {
  const { config } = (await api<Machine>(active, 'GET', path)).body;
  return api<Machine & ErrorBody>(active, 'POST', path, {
    body: { config: { ...config, env: { MODE: mode } } },
  });
}

describe('update while replacing', () => {
  it('returns 412 failed_precondition when enabled', async () => {
    const { active, path } = await startReplacingSim({ rejectUpdatesWhileReplacing: true });

    const first = await update(active, path, 'one');
    const second = await update(active, path, 'two');

    expect(first.status).toBe(200);
    expect(first.body.state).toBe('replacing');
    expect(second.status).toBe(412);
    expect(second.body.error).toMatch(/^failed_precondition: machine \w+ is replacing/);
  });

  it('accepts the update once the machine settled', async () => {
    const { active, path } = await startReplacingSim({
      rejectUpdatesWhileReplacing: true,
      latencies: { updateMs: 50 },
    });
    await update(active, path, 'one');
    const wait = await api(active, 'GET', `${path}/wait?state=started&timeout=5`);

    const second = await update(active, path, 'two');

    expect(wait.status).toBe(200);
    expect(second.status).toBe(200);
  });

  it('applies the update by default', async () => {
    const { active, path } = await startReplacingSim({});

    await update(active, path, 'one');
    const second = await update(active, path, 'two');

    expect(second.status).toBe(200);
  });
});
