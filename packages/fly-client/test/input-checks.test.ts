import { afterEach, describe, expect, it } from 'vitest';
import { createFlyClient, type FlyClient, FlyInputError, withLease } from '../src/index.js';
import { machineBody } from './helpers/fixtures.js';
import { type Harness, memoryHarness } from './helpers/harness.js';

const APP = 'live-schedule-api';
const ID = '148ed193b95089';
const VOLUME = 'vol_8l524yj0ko347zmp';
const config = machineBody().config as {
  image: string;
  mounts: { volume: string; path: string }[];
};
const LOOPBACK = 'http://127.0.0.1:4280';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOa3nSd9dH1mQ4u0e8bB9lq1Zz5cQ2x7e0A1b2C3d4E5';
let harness: Harness;

afterEach(async () => {
  await harness?.close();
});

type Call = (client: FlyClient) => Promise<unknown>;

// Each case: the field the error must name, a value the message must quote, and the call.
const CASES: [string, string, string, Call][] = [
  ['app name with slash', 'app', '../etc', (c) => c.machines.get('../etc', ID)],
  ['app name uppercase', 'app', 'Live', (c) => c.apps.get('Live')],
  ['empty org slug', 'orgSlug', '""', (c) => c.apps.list('')],
  ['machine id with path', 'machineId', '148ed/../x', (c) => c.machines.get(APP, '148ed/../x')],
  ['volume id without prefix', 'volumeId', '8l524yj0', (c) => c.volumes.get(APP, '8l524yj0')],
  [
    'volume name with dash',
    'name',
    'my-data',
    (c) => c.volumes.create(APP, { name: 'my-data', region: 'sin' }),
  ],
  [
    'volume region alias',
    'region',
    'us',
    (c) => c.volumes.create(APP, { name: 'data', region: 'us' }),
  ],
  ['volume size zero', 'sizeGb', '0', (c) => c.volumes.extend(APP, VOLUME, 0)],
  [
    'volume size too big',
    'size_gb',
    '501',
    (c) => c.volumes.create(APP, { name: 'data', region: 'sin', size_gb: 501 }),
  ],
  [
    'fractional size',
    'size_gb',
    '1.5',
    (c) => c.volumes.create(APP, { name: 'data', region: 'sin', size_gb: 1.5 }),
  ],
  [
    'snapshot and fork',
    'snapshot_id',
    'both',
    (c) =>
      c.volumes.create(APP, {
        name: 'data',
        region: 'sin',
        snapshot_id: 'vs_1',
        source_volume_id: VOLUME,
      }),
  ],
  [
    'retention 90 days',
    'snapshot_retention',
    '90',
    (c) => c.volumes.update(APP, VOLUME, { snapshot_retention: 90 }),
  ],
  [
    'machine region code',
    'region',
    'Tokyo',
    (c) => c.machines.create(APP, { config, region: 'Tokyo' }),
  ],
  ['list region filter', 'region', 'nrt1', (c) => c.machines.list(APP, { region: 'nrt1' })],
  ['list state filter', 'states', 'running', (c) => c.machines.list(APP, { states: ['running'] })],
  [
    'relative mount path',
    'config.mounts[0].path',
    'app/data',
    (c) =>
      c.machines.create(APP, {
        config: { ...config, mounts: [{ volume: VOLUME, path: 'app/data' }] },
      }),
  ],
  [
    'mount path dotdot',
    'config.mounts[0].path',
    '/app/../etc',
    (c) =>
      c.machines.create(APP, {
        config: { ...config, mounts: [{ volume: VOLUME, path: '/app/../etc' }] },
      }),
  ],
  [
    'two mounts',
    'config.mounts',
    '2 mounts',
    (c) =>
      c.machines.create(APP, {
        config: {
          ...config,
          mounts: [
            { volume: VOLUME, path: '/a' },
            { volume: VOLUME, path: '/b' },
          ],
        },
      }),
  ],
  [
    'mount volume id',
    'config.mounts[0].volume',
    'data',
    (c) =>
      c.machines.create(APP, {
        config: { ...config, mounts: [{ volume: 'data', path: '/app/data' }] },
      }),
  ],
  [
    'mount volume in other region',
    'region',
    'volume vol_8l524yj0ko347zmp',
    (c) =>
      c.machines.create(
        APP,
        { config, region: 'sin' },
        { mountVolumes: [{ id: VOLUME, region: 'nrt' }] },
      ),
  ],
  [
    'memory not multiple of 256',
    'config.guest.memory_mb',
    '300',
    (c) =>
      c.machines.create(APP, {
        config: { ...config, guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 300 } },
      }),
  ],
  [
    'memory too big for shared',
    'config.guest.memory_mb',
    '4096',
    (c) =>
      c.machines.create(APP, {
        config: { ...config, guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 4096 } },
      }),
  ],
  [
    'cpu kind',
    'config.guest.cpu_kind',
    'dedicated',
    (c) => c.machines.create(APP, { config: { ...config, guest: { cpu_kind: 'dedicated' } } }),
  ],
  [
    'missing image',
    'config.image',
    'undefined',
    (c) => c.machines.create(APP, { config: { image: undefined as unknown as string } }),
  ],
  [
    'update changes region',
    'region',
    'region',
    (c) => c.machines.update(APP, ID, { config, region: 'sin' }),
  ],
  [
    'stop signal',
    'signal',
    'SIGSTOP',
    (c) => c.machines.stop(APP, ID, { signal: 'SIGSTOP' as 'SIGTERM' }),
  ],
  ['stop timeout unit', 'timeout', '30', (c) => c.machines.stop(APP, ID, { timeout: '30' })],
  [
    'wait state',
    'state',
    'running',
    (c) => c.machines.wait(APP, ID, { state: 'running' as 'started' }),
  ],
  ['exec empty command', 'command', '[]', (c) => c.machines.exec(APP, ID, { command: [] })],
  ['events limit', 'limit', '100', (c) => c.machines.events(APP, ID, { limit: 100 })],
  ['metadata key', 'key', 'a b', (c) => c.machines.setMetadata(APP, ID, 'a b', 'x')],
  ['lease ttl', 'ttlSeconds', '0', (c) => c.machines.acquireLease(APP, ID, { ttlSeconds: 0 })],
  ['lease nonce', 'nonce', 'nonce', (c) => c.machines.releaseLease(APP, ID, 'has space')],
  [
    'placements count',
    'count',
    '-1',
    (c) => c.platform.placements({ orgSlug: 'personal', count: -1 }),
  ],
  [
    'certificate private key',
    'publicKey',
    'authorized_keys',
    (c) =>
      c.ssh.issueCertificate({
        app: APP,
        publicKey:
          '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----',
      }),
  ],
  [
    'certificate hours',
    'validHours',
    '48',
    (c) => c.ssh.issueCertificate({ app: APP, publicKey: KEY, validHours: 48 }),
  ],
  [
    'withLease machine id',
    'machineId',
    'NOPE!',
    (c) => withLease(c, APP, 'NOPE!', {}, async () => undefined),
  ],
];

describe('input checks', () => {
  for (const [name, field, quoted, call] of CASES) {
    it(`rejects ${name} and sends nothing`, async () => {
      harness = memoryHarness();
      const error = await call(harness.client).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FlyInputError);
      expect((error as FlyInputError).code).toBe('FLY_INVALID_INPUT');
      expect((error as FlyInputError).field).toBe(field);
      expect((error as FlyInputError).message).toContain(quoted);
      expect((error as FlyInputError).hint).toBeTruthy();
      expect(harness.fly.seen).toHaveLength(0);
    });
  }

  it('never quotes a private key given as public key', async () => {
    harness = memoryHarness();
    const secret =
      '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----';
    const error = (await harness.client.ssh
      .issueCertificate({ app: APP, publicKey: secret })
      .catch((e: unknown) => e)) as Error;
    expect(error.message).not.toContain('b3BlbnNzaC1rZXktdjEAAAAA');
  });
});

describe('client options', () => {
  it('rejects an empty token', () => {
    expect(() => createFlyClient({ token: '  ', baseUrl: LOOPBACK })).toThrow(FlyInputError);
  });

  it('rejects a base URL with credentials', () => {
    expect(() =>
      createFlyClient({ token: 'fo1_abcdef', baseUrl: 'http://user:pw@127.0.0.1:4280' }),
    ).toThrow(/baseUrl/);
  });

  it('rejects a token with a line break inside', () => {
    expect(() => createFlyClient({ token: 'fm2_abc\ndef', baseUrl: LOOPBACK })).toThrow(
      /whitespace or control/,
    );
  });

  it('rejects waitMaxSeconds above 60', () => {
    expect(() =>
      createFlyClient({ token: 'fo1_abcdef', baseUrl: LOOPBACK, waitMaxSeconds: 61 }),
    ).toThrow(/waitMaxSeconds/);
  });
});
