import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FlyCapacityError,
  type FlyLeaseConflictError,
  LEASE_NONCE_HEADER,
  withLease,
} from '../src/index.js';
import { httpHarness } from './helpers/harness.js';

const APP = 'live-schedule-api';
const ID = '148ed193b95089';
let harness: Awaited<ReturnType<typeof httpHarness>>;

beforeAll(async () => {
  harness = await httpHarness();
});

afterAll(async () => {
  await harness.close();
});

// The same msw handlers as the in-process tests, served by @mswjs/http-middleware on
// 127.0.0.1 and reached through a keep-alive undici Agent.
describe('client over real HTTP', () => {
  it('reaches the server on loopback', () => {
    expect(harness.origin.startsWith('http://127.0.0.1:')).toBe(true);
  });

  it('runs a representative set of calls', async () => {
    const { client } = harness;
    const apps = await client.apps.list('personal');
    const machines = await client.machines.list(APP, { states: ['started'] });
    const machine = await client.machines.get(APP, ID);
    const volumes = await client.volumes.list(APP);
    const regions = await client.platform.regions();
    const placements = await client.platform.placements({ orgSlug: 'personal', region: 'sin' });
    const result = await client.machines.exec(APP, ID, { command: ['printenv', 'FLY_MACHINE_ID'] });
    const waited = await client.machines.wait(APP, ID, { state: 'started', timeoutMs: 5_000 });
    const fork = await client.volumes.create(APP, {
      name: 'data',
      region: 'sin',
      source_volume_id: volumes[0]!.id,
    });

    expect(apps[0]?.name).toBe(APP);
    expect(machines).toHaveLength(1);
    expect(machine.config.mounts?.[0]?.volume).toBe(volumes[0]?.id);
    expect(regions.nearest).toBe('nrt');
    expect(placements.regions[0]?.region).toBe('sin');
    expect(result.stdout).toBe(`${ID}\n`);
    expect(waited.state).toBe('started');
    expect(fork.state).toBe('hydrating');
  });

  it('reuses pooled keep-alive connections', async () => {
    const before = harness.connections();
    for (let i = 0; i < 20; i++) await harness.client.machines.get(APP, ID);
    expect(harness.connections() - before).toBeLessThanOrEqual(1);
  });

  it('runs concurrent calls over the pool', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => harness.client.machines.get(APP, ID)),
    );
    expect(results.every((machine) => machine.id === ID)).toBe(true);
    expect(harness.connections()).toBeLessThanOrEqual(4);
  });

  it('sends the lease nonce over the wire', async () => {
    await withLease(harness.client, APP, ID, { description: 'flydr http test' }, async (lease) => {
      await harness.client.machines.stop(APP, ID, { signal: 'SIGTERM' });
      const stop = harness.fly.requests('POST', /\/stop$/).at(-1);
      expect(stop?.headers[LEASE_NONCE_HEADER]).toBe(lease.nonce);
    });
  });

  it('classifies errors read from the socket', async () => {
    harness.fly.script('POST', /\/machines$/, {
      status: 412,
      body: {
        error:
          "insufficient resources to create new machine with existing volume 'vol_8l524yj0ko347zmp'",
      },
    });
    const config = (await harness.client.machines.get(APP, ID)).config;
    await expect(
      harness.client.machines.create(APP, { config, region: 'nrt' }),
    ).rejects.toBeInstanceOf(FlyCapacityError);

    harness.fly.leases.set(ID, {
      nonce: 'other',
      expiresAt: Date.now() / 1000 + 60,
      owner: 'ci@example.com',
      description: 'fly deploy',
    });
    const error = await harness.client.machines
      .acquireLease(APP, ID, { ttlSeconds: 10 })
      .catch((e: unknown) => e);
    expect((error as FlyLeaseConflictError).holderDescription).toBe('fly deploy');
    harness.fly.leases.delete(ID);
  });

  it('retries a 503 over HTTP', async () => {
    harness.fly.script('GET', /\/volumes$/, {
      status: 503,
      body: { error: 'unavailable' },
      headers: { 'retry-after': '0' },
    });
    const before = harness.fly.requests('GET', /\/volumes$/).length;
    await harness.client.volumes.list(APP);
    expect(harness.fly.requests('GET', /\/volumes$/).length - before).toBe(2);
  });
});
