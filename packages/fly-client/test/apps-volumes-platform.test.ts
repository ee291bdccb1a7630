import { afterEach, describe, expect, it } from 'vitest';
import { type FlyApiError, FlyNotFoundError, FlyUnauthorizedError } from '../src/index.js';
import { type Harness, memoryHarness } from './helpers/harness.js';

const APP = 'live-schedule-api';
const VOLUME = 'vol_8l524yj0ko347zmp';
const PUBLIC_KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOa3nSd9dH1mQ4u0e8bB9lq1Zz5cQ2x7e0A1b2C3d4E5 flydr';
let harness: Harness;

afterEach(async () => {
  await harness?.close();
});

function last(method: string, path: RegExp) {
  const seen = harness.fly.requests(method, path);
  return seen[seen.length - 1];
}

describe('apps', () => {
  it('lists by org slug', async () => {
    harness = memoryHarness();
    const apps = await harness.client.apps.list('personal');
    expect(apps[0]?.organization?.slug).toBe('personal');
    expect(last('GET', /\/v1\/apps$/)?.query.get('org_slug')).toBe('personal');
  });

  it('gets one app and keeps unknown fields', async () => {
    harness = memoryHarness();
    const app = await harness.client.apps.get(APP);
    expect(app.internal_numeric_id).toBe(1_234_567);
  });

  it('raises FLY_NOT_FOUND for a missing app', async () => {
    harness = memoryHarness();
    await expect(harness.client.apps.get('no-such-app')).rejects.toBeInstanceOf(FlyNotFoundError);
  });

  it('creates with name and org_slug', async () => {
    harness = memoryHarness();
    const created = await harness.client.apps.create({ name: 'flydr-demo', orgSlug: 'personal' });
    expect(created).toEqual({ name: 'flydr-demo', id: 'a1b2c3d4e5' });
    expect(last('POST', /\/v1\/apps$/)?.body).toEqual({ name: 'flydr-demo', org_slug: 'personal' });
  });

  it('deletes with force', async () => {
    harness = memoryHarness();
    await harness.client.apps.delete(APP, { force: true });
    expect(last('DELETE', /\/v1\/apps\/live-schedule-api$/)?.query.get('force')).toBe('true');
  });
});

describe('volumes', () => {
  it('lists and gets', async () => {
    harness = memoryHarness();
    const volumes = await harness.client.volumes.list(APP);
    const volume = await harness.client.volumes.get(APP, VOLUME);
    expect(volumes).toHaveLength(1);
    expect(volume.host_dedication_key).toBe('');
  });

  it('creates empty, from a snapshot and as a cross-region fork', async () => {
    harness = memoryHarness();
    const empty = await harness.client.volumes.create(APP, {
      name: 'data',
      region: 'sin',
      size_gb: 1,
    });
    const restored = await harness.client.volumes.create(APP, {
      name: 'data',
      region: 'sin',
      size_gb: 1,
      snapshot_id: 'vs_MgLAggLZkYx89fLy',
    });
    const fork = await harness.client.volumes.create(APP, {
      name: 'data',
      region: 'sin',
      source_volume_id: VOLUME,
      compute: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 },
    });
    expect(empty.state).toBe('created');
    expect(restored.state).toBe('restoring');
    expect(fork.state).toBe('hydrating');
    expect(last('POST', /\/volumes$/)?.body).toMatchObject({
      source_volume_id: VOLUME,
      region: 'sin',
    });
  });

  it('updates, extends and deletes', async () => {
    harness = memoryHarness();
    const updated = await harness.client.volumes.update(APP, VOLUME, { snapshot_retention: 30 });
    const extended = await harness.client.volumes.extend(APP, VOLUME, 2);
    const deleted = await harness.client.volumes.delete(APP, VOLUME);
    expect(updated.snapshot_retention).toBe(30);
    expect(extended).toMatchObject({ needsRestart: true, volume: { size_gb: 2 } });
    expect(deleted?.state).toBe('pending_destroy');
  });

  it('lists and creates snapshots', async () => {
    harness = memoryHarness();
    const snapshots = await harness.client.volumes.listSnapshots(APP, VOLUME);
    await harness.client.volumes.createSnapshot(APP, VOLUME);
    expect(snapshots[0]?.id).toBe('vs_MgLAggLZkYx89fLy');
    expect(harness.fly.requests('POST', /\/snapshots$/)).toHaveLength(1);
  });
});

describe('platform', () => {
  it('lists regions with nearest', async () => {
    harness = memoryHarness();
    const { nearest, regions } = await harness.client.platform.regions();
    expect(nearest).toBe('nrt');
    expect(regions.map((region) => region.code)).toEqual(['nrt', 'sin']);
  });

  it('accepts Go-cased region keys', async () => {
    harness = memoryHarness();
    harness.fly.script('GET', /\/platform\/regions$/, {
      status: 200,
      body: {
        Nearest: 'sin',
        Regions: [{ Code: 'sin', Name: 'Singapore', GatewayAvailable: true }],
      },
    });
    const { nearest, regions } = await harness.client.platform.regions();
    expect(nearest).toBe('sin');
    expect(regions[0]).toMatchObject({ code: 'sin', name: 'Singapore', gateway_available: true });
  });

  it('posts a placement simulation', async () => {
    harness = memoryHarness();
    const result = await harness.client.platform.placements({
      orgSlug: 'personal',
      region: 'sin',
      count: 1,
      compute: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 },
      volumeName: 'data',
      volumeSizeBytes: 1_073_741_824,
    });
    expect(result.regions[0]).toEqual({ region: 'sin', count: 3, concurrency: 1 });
    expect(last('POST', /placements$/)?.body).toMatchObject({
      org_slug: 'personal',
      volume_name: 'data',
      volume_size_bytes: 1_073_741_824,
    });
  });
});

describe('ssh.issueCertificate', () => {
  it('looks up the org and issues an app-scoped certificate', async () => {
    harness = memoryHarness();
    const { certificate } = await harness.client.ssh.issueCertificate({
      app: APP,
      publicKey:
        'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOa3nSd9dH1mQ4u0e8bB9lq1Zz5cQ2x7e0A1b2C3d4E5 flydr',
    });
    expect(certificate.startsWith('ssh-ed25519-cert-v01@openssh.com ')).toBe(true);
    const mutation = harness.fly.requests('POST', /graphql$/)[1]?.body as {
      variables: { input: Record<string, unknown> };
    };
    expect(mutation.variables.input).toMatchObject({
      organizationId: 'T3JnYW5pemF0aW9uOjEyMzQ=',
      principals: ['root', 'fly'],
      appNames: [APP],
      validHours: 1,
    });
  });

  it('raises FLY_NOT_FOUND for an unknown app', async () => {
    harness = memoryHarness();
    const publicKey =
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOa3nSd9dH1mQ4u0e8bB9lq1Zz5cQ2x7e0A1b2C3d4E5';
    await expect(
      harness.client.ssh.issueCertificate({ app: 'other-app', publicKey }),
    ).rejects.toBeInstanceOf(FlyNotFoundError);
    expect(harness.fly.requests('POST', /graphql$/)).toHaveLength(1);
  });
  it('raises FLY_UNAUTHORIZED on a GraphQL 401', async () => {
    harness = memoryHarness();
    harness.fly.script('POST', /graphql$/, {
      status: 401,
      body: { errors: [{ message: 'You must be authenticated to view this.' }] },
    });
    const error = await harness.client.ssh
      .issueCertificate({ app: APP, publicKey: PUBLIC_KEY })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlyUnauthorizedError);
  });

  it('raises FLY_API_ERROR naming the CA fix', async () => {
    harness = memoryHarness();
    harness.fly.script(
      'POST',
      /graphql$/,
      { status: 200, body: { data: { app: { organization: { id: 'T3JnOjE=' } } } } },
      {
        status: 200,
        body: { data: null, errors: [{ message: 'no root key established for organization' }] },
      },
    );
    const error = (await harness.client.ssh
      .issueCertificate({ app: APP, publicKey: PUBLIC_KEY })
      .catch((e: unknown) => e)) as FlyApiError;
    expect(error.code).toBe('FLY_API_ERROR');
    expect(error.message).toContain('no root key established');
    expect(error.hint).toContain('fly ssh issue');
  });
});
