import { afterEach, describe, expect, it } from 'vitest';
import { FlyLeaseConflictError, LEASE_NONCE_HEADER, withLease } from '../src/index.js';
import { type Harness, memoryHarness, recordingLogger } from './helpers/harness.js';

const APP = 'live-schedule-api';
const ID = '148ed193b95089';
let harness: Harness;

afterEach(async () => {
  await harness?.close();
});

function holdLease(description: string) {
  harness.fly.leases.set(ID, {
    nonce: 'nonce-held-elsewhere',
    expiresAt: Math.floor(Date.now() / 1000) + 60,
    owner: 'deploy@example.com',
    description,
  });
}

describe('lease calls', () => {
  it('acquires with ttl and description', async () => {
    harness = memoryHarness();
    const lease = await harness.client.machines.acquireLease(APP, ID, {
      ttlSeconds: 30,
      description: 'flydr backup',
    });
    const acquire = harness.fly.requests('POST', /\/lease$/)[0];
    expect(acquire?.body).toEqual({ ttl: 30, description: 'flydr backup' });
    expect(acquire?.headers[LEASE_NONCE_HEADER]).toBeUndefined();
    expect(lease.description).toBe('flydr backup');
    expect(lease.expiresAt).toBeGreaterThan(Date.now());
  });

  it('accepts the flat lease shape', async () => {
    harness = memoryHarness();
    harness.fly.script('POST', /\/lease$/, {
      status: 201,
      body: {
        nonce: 'flat-nonce',
        expires_at: 1_893_456_000,
        owner: 'a@b.c',
        description: 'x',
        version: 'v1',
      },
    });
    const lease = await harness.client.machines.acquireLease(APP, ID, { ttlSeconds: 30 });
    expect(lease).toEqual({
      nonce: 'flat-nonce',
      expiresAt: 1_893_456_000_000,
      owner: 'a@b.c',
      description: 'x',
      version: 'v1',
    });
  });

  it('refreshes and releases with the nonce header', async () => {
    harness = memoryHarness();
    const lease = await harness.client.machines.acquireLease(APP, ID, { ttlSeconds: 30 });
    await harness.client.machines.refreshLease(APP, ID, lease.nonce, { ttlSeconds: 60 });
    await harness.client.machines.releaseLease(APP, ID, lease.nonce);
    expect(harness.fly.requests('POST', /\/lease$/)[1]?.headers[LEASE_NONCE_HEADER]).toBe(
      lease.nonce,
    );
    expect(harness.fly.requests('DELETE', /\/lease$/)[0]?.headers[LEASE_NONCE_HEADER]).toBe(
      lease.nonce,
    );
    expect(harness.fly.leases.has(ID)).toBe(false);
  });

  it('treats release of a missing lease as done', async () => {
    harness = memoryHarness();
    await expect(
      harness.client.machines.releaseLease(APP, ID, 'nonce-gone'),
    ).resolves.toBeUndefined();
  });

  it('reads the current lease or undefined', async () => {
    harness = memoryHarness();
    expect(await harness.client.machines.getLease(APP, ID)).toBeUndefined();
    holdLease('deploy');
    expect((await harness.client.machines.getLease(APP, ID))?.owner).toBe('deploy@example.com');
  });

  it('raises FLY_LEASE_CONFLICT for a mutation without the nonce', async () => {
    harness = memoryHarness();
    holdLease('fly deploy (release v13)');
    const error = await harness.client.machines.stop(APP, ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlyLeaseConflictError);
    expect(harness.fly.machines.get(ID)?.state).toBe('started');
  });

  it('sends an explicit nonce', async () => {
    harness = memoryHarness();
    holdLease('held by this caller elsewhere');
    await harness.client.machines.stop(APP, ID, {}, { nonce: 'nonce-held-elsewhere' });
    expect(harness.fly.requests('POST', /\/stop$/)[0]?.headers[LEASE_NONCE_HEADER]).toBe(
      'nonce-held-elsewhere',
    );
    expect(harness.fly.machines.get(ID)?.state).toBe('stopped');
  });

  it('names the holder on conflict', async () => {
    harness = memoryHarness();
    holdLease('fly deploy (release v13)');
    const error = (await harness.client.machines
      .acquireLease(APP, ID, { ttlSeconds: 30 })
      .catch((e: unknown) => e)) as FlyLeaseConflictError;
    expect(error).toBeInstanceOf(FlyLeaseConflictError);
    expect(error.code).toBe('FLY_LEASE_CONFLICT');
    expect(error.holderDescription).toBe('fly deploy (release v13)');
    expect(error.message).toContain('"fly deploy (release v13)"');
    expect(error.message).toContain('deploy@example.com');
  });
});

describe('withLease', () => {
  it('sends the nonce on every mutation inside', async () => {
    harness = memoryHarness();
    let nonce = '';
    await withLease(
      harness.client,
      APP,
      ID,
      { ttlSeconds: 30, description: 'flydr failover' },
      async (lease) => {
        nonce = lease.nonce;
        const machine = await harness.client.machines.get(APP, ID);
        await harness.client.machines.update(APP, ID, { config: machine.config });
        await harness.client.machines.stop(APP, ID);
        await harness.client.machines.start(APP, ID);
        await harness.client.machines.setMetadata(APP, ID, 'flydr_role', 'primary');
        await harness.client.machines.cordon(APP, ID);
        await harness.client.machines.exec(APP, ID, { command: ['printenv', 'FLY_MACHINE_ID'] });
      },
    );
    const mutations = harness.fly.seen.filter(
      (item) => item.method !== 'GET' && !item.path.endsWith('/lease'),
    );
    expect(mutations).toHaveLength(6);
    for (const mutation of mutations) expect(mutation.headers[LEASE_NONCE_HEADER]).toBe(nonce);
  });

  it('does not send a nonce on reads', async () => {
    harness = memoryHarness();
    await withLease(harness.client, APP, ID, {}, async () => {
      await harness.client.machines.get(APP, ID);
    });
    expect(
      harness.fly.requests('GET', /\/machines\/148ed193b95089$/)[0]?.headers[LEASE_NONCE_HEADER],
    ).toBeUndefined();
  });

  it('stops sending the nonce after release', async () => {
    harness = memoryHarness();
    await withLease(harness.client, APP, ID, {}, async () => undefined);
    await harness.client.machines.cordon(APP, ID);
    expect(
      harness.fly.requests('POST', /\/cordon$/)[0]?.headers[LEASE_NONCE_HEADER],
    ).toBeUndefined();
  });

  it('releases when the callback throws', async () => {
    harness = memoryHarness();
    await expect(
      withLease(harness.client, APP, ID, {}, async () => {
        throw new Error('step failed');
      }),
    ).rejects.toThrow('step failed');
    expect(harness.fly.requests('DELETE', /\/lease$/)).toHaveLength(1);
    expect(harness.fly.leases.has(ID)).toBe(false);
  });

  it('refreshes before expiry', async () => {
    harness = memoryHarness();
    let nonce = '';
    await withLease(harness.client, APP, ID, { ttlSeconds: 2 }, async (lease) => {
      nonce = lease.nonce;
      await new Promise((resolve) => setTimeout(resolve, 1_700));
    });
    const posts = harness.fly.requests('POST', /\/lease$/);
    expect(posts.length).toBeGreaterThanOrEqual(2);
    expect(posts[1]?.headers[LEASE_NONCE_HEADER]).toBe(nonce);
    expect(posts[1]?.body).toEqual({ ttl: 2 });
  });

  it('aborts the context when the lease is lost', async () => {
    const logger = recordingLogger();
    harness = memoryHarness({ logger });
    let aborted = false;
    await withLease(harness.client, APP, ID, { ttlSeconds: 2 }, async (_lease, context) => {
      harness.fly.leases.set(ID, {
        nonce: 'stolen',
        expiresAt: Date.now() / 1000 + 60,
        owner: 'x',
        description: 'other',
      });
      await new Promise((resolve) => setTimeout(resolve, 1_700));
      aborted = context.signal.aborted;
    });
    expect(aborted).toBe(true);
    expect(logger.lines.some((line) => line.message === 'fly lease refresh failed')).toBe(true);
  });

  it('raises FLY_LEASE_CONFLICT and runs nothing when held', async () => {
    harness = memoryHarness();
    holdLease('flydr sync nrt->sin');
    let ran = false;
    const error = await withLease(harness.client, APP, ID, {}, async () => {
      ran = true;
    }).catch((e: unknown) => e);
    expect(ran).toBe(false);
    expect((error as FlyLeaseConflictError).holderDescription).toBe('flydr sync nrt->sin');
  });

  it('reuses a held lease when nested', async () => {
    harness = memoryHarness();
    await withLease(harness.client, APP, ID, {}, async (outer) => {
      await withLease(harness.client, APP, ID, {}, async (inner) => {
        expect(inner.nonce).toBe(outer.nonce);
      });
    });
    expect(harness.fly.requests('POST', /\/lease$/)).toHaveLength(1);
    expect(harness.fly.requests('DELETE', /\/lease$/)).toHaveLength(1);
  });
});
