import { createFlyClient, type FlyClient, isFlyError } from '@flydr/fly-client';
import { type Sim, type SimOptions, startSim } from '@flydr/fly-sim';
import { afterEach, describe, expect, it } from 'vitest';
import { isDrError } from '../src/errors.js';
import { findMachine, getNewMachine } from '../src/new-machine.js';
import { deleteDetachedVolume } from '../src/volume-delete.js';

const APP = 'new-machine-app';

let sim: Sim | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** Starts a sim with an app, and a client that does not retry. */
async function setUp(options: SimOptions = {}): Promise<{ active: Sim; client: FlyClient }> {
  const active = await startSim(options);
  sim = active;
  active.createApp(APP, { primaryRegion: 'nrt' });
  const client = createFlyClient({
    token: active.token,
    baseUrl: active.apiUrl,
    graphqlUrl: active.graphqlUrl,
    rateLimit: false,
    retry: { maxAttempts: 1 },
  });
  return { active, client };
}

/** Creates a stopped machine that mounts a new volume, and returns both ids and the time. */
async function createWithVolume(client: FlyClient) {
  const volume = await client.volumes.create(APP, { name: 'data', region: 'nrt', size_gb: 1 });
  const createdAt = Date.now();
  const machine = await client.machines.create(APP, {
    region: 'nrt',
    skip_launch: true,
    config: { image: 'app:1', mounts: [{ volume: volume.id, path: '/data' }] },
  });
  return { machineId: machine.id, volumeId: volume.id, createdAt };
}

/** Counts the requests to a path that the sim handled. */
function requestsTo(active: Sim, path: string): number {
  return active.requests().filter((request) => request.path === path).length;
}

describe('getNewMachine', () => {
  it('waits until Fly returns the machine', async () => {
    const { active, client } = await setUp({ notFoundAfterCreateMs: 300 });
    const { machineId, createdAt } = await createWithVolume(client);

    const machine = await getNewMachine(client, APP, machineId, createdAt);
    const hidden = active
      .requests()
      .filter((request) => request.key === machineId && request.status === 404);

    expect(machine.id).toBe(machineId);
    expect(hidden.length).toBeGreaterThan(0);
  });

  it('leaves lease reads out of the window', async () => {
    const { active, client } = await setUp({ notFoundAfterCreateMs: 300 });
    const { machineId, createdAt } = await createWithVolume(client);
    await getNewMachine(client, APP, machineId, createdAt);

    // No lease is held, so Fly returns 404 for the lease, and the client must not repeat it.
    const lease = await client.machines.getLease(APP, machineId);

    expect(lease).toBeUndefined();
    expect(requestsTo(active, `/v1/apps/${APP}/machines/${machineId}/lease`)).toBe(1);
  });

  it('throws not found after the window', async () => {
    const { client } = await setUp({ notFoundAfterCreateMs: 60_000 });
    const { machineId, createdAt } = await createWithVolume(client);

    const caught = await getNewMachine(client, APP, machineId, createdAt, { windowMs: 300 }).then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(isFlyError(caught, 'FLY_NOT_FOUND')).toBe(true);
  });
});

describe('findMachine', () => {
  it('returns undefined for an unknown machine', async () => {
    const { client } = await setUp();

    expect(await findMachine(client, APP, '0123456789abcd')).toBeUndefined();
  });
});

describe('deleteDetachedVolume', () => {
  it('waits until the destroyed machine lets go', async () => {
    const { active, client } = await setUp({ latencies: { destroyMs: 300 } });
    const { machineId, volumeId } = await createWithVolume(client);
    await client.machines.delete(APP, machineId, { force: true });

    await deleteDetachedVolume(client, APP, volumeId, { pollMs: 20 });
    const rejected = active
      .requests()
      .filter((request) => request.method === 'DELETE' && request.status === 412);
    const volumes = await client.volumes.list(APP);

    expect(rejected.length).toBeGreaterThan(0);
    expect(volumes.filter((volume) => volume.state !== 'destroyed')).toEqual([]);
  });

  it('names the machine that still mounts it', async () => {
    const { client } = await setUp();
    const { machineId, volumeId } = await createWithVolume(client);

    const caught = await deleteDetachedVolume(client, APP, volumeId, {
      timeoutMs: 300,
      pollMs: 20,
    }).then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(isDrError(caught, 'DR_MACHINE_BUSY')).toBe(true);
    expect((caught as Error).message).toContain(`volume ${volumeId}`);
    expect((caught as Error).message).toContain(`machine ${machineId}`);
    expect((caught as { hint: string }).hint).toContain(`fly volumes destroy ${volumeId}`);
  });

  it('counts a missing volume as deleted', async () => {
    const { client } = await setUp();
    const { machineId, volumeId } = await createWithVolume(client);
    await client.machines.delete(APP, machineId, { force: true });
    await client.machines.wait(APP, machineId, { state: 'destroyed' });
    await client.volumes.delete(APP, volumeId);

    await deleteDetachedVolume(client, APP, volumeId);

    expect((await client.volumes.list(APP)).filter((v) => v.state !== 'destroyed')).toEqual([]);
  });
});
