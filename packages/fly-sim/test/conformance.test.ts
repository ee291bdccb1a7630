import {
  appSchema,
  createFlyClient,
  errorBodySchema,
  execResponseSchema,
  extendVolumeResponseSchema,
  type FlyClient,
  leaseResponseSchema,
  listAppsResponseSchema,
  machineEventSchema,
  machineSchema,
  machineSummarySchema,
  machineVersionSchema,
  placementsResponseSchema,
  processStatSchema,
  regionsResponseSchema,
  startResponseSchema,
  volumeSchema,
  volumeSnapshotSchema,
  waitResponseSchema,
} from '@flydr/fly-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sim, startSim } from '../src/index.js';
import { api } from './helpers/http.js';
import { testKey } from './helpers/ssh.js';

/** The part of a zod schema this test uses. */
interface Schema {
  safeParse(value: unknown): { success: boolean; error?: { issues: unknown[] } };
}

/** Checks a value against a fly-client schema; a mismatch lists zod's issues. */
function conforms(schema: Schema, value: unknown): void {
  const result = schema.safeParse(value);
  expect(result.error?.issues ?? []).toEqual([]);
}

function arrayOf(schema: Schema): Schema {
  return {
    safeParse(value: unknown) {
      if (!Array.isArray(value)) return { success: false, error: { issues: ['not an array'] } };
      const issues = value.flatMap((item) => schema.safeParse(item).error?.issues ?? []);
      return issues.length === 0 ? { success: true } : { success: false, error: { issues } };
    },
  };
}

let sim: Sim;
let client: FlyClient;
let machineId = '';
let instanceId = '';
let volumeId = '';
let spareVolumeId = '';
let nonce = '';
const app = 'conf-app';
const machinePath = () => `/v1/apps/${app}/machines/${machineId}`;

beforeAll(async () => {
  sim = await startSim();
  sim.createApp(app, { primaryRegion: 'nrt' });
  client = createFlyClient({
    token: sim.token,
    baseUrl: sim.apiUrl,
    graphqlUrl: sim.graphqlUrl,
    rateLimit: false,
    retry: { maxAttempts: 1 },
    waitMaxSeconds: 5,
  });
});
afterAll(() => sim.close());

/** One call per route, in an order that leaves each route something to act on. */
const cases: Array<[route: string, run: () => Promise<void>]> = [
  [
    'post /v1/apps',
    async () => {
      const created = await client.apps.create({ name: 'conf-other', orgSlug: 'personal' });
      expect(created.id).toBeTruthy();
    },
  ],
  [
    'get /v1/apps',
    async () =>
      conforms(listAppsResponseSchema, (await api(sim, 'GET', '/v1/apps?org_slug=personal')).body),
  ],
  [
    'get /v1/apps/:app',
    async () => conforms(appSchema, (await api(sim, 'GET', `/v1/apps/${app}`)).body),
  ],
  [
    'post /v1/apps/:app/volumes',
    async () => {
      const answer = await api<{ id: string }>(sim, 'POST', `/v1/apps/${app}/volumes`, {
        body: { name: 'data', region: 'nrt', size_gb: 1 },
      });
      conforms(volumeSchema, answer.body);
      volumeId = answer.body.id;
      spareVolumeId = (
        await client.volumes.create(app, { name: 'spare', region: 'nrt', size_gb: 1 })
      ).id;
    },
  ],
  [
    'get /v1/apps/:app/volumes',
    async () =>
      conforms(arrayOf(volumeSchema), (await api(sim, 'GET', `/v1/apps/${app}/volumes`)).body),
  ],
  [
    'get /v1/apps/:app/volumes/:volume',
    async () =>
      conforms(volumeSchema, (await api(sim, 'GET', `/v1/apps/${app}/volumes/${volumeId}`)).body),
  ],
  [
    'put /v1/apps/:app/volumes/:volume',
    async () => {
      conforms(
        volumeSchema,
        (
          await api(sim, 'PUT', `/v1/apps/${app}/volumes/${volumeId}`, {
            body: { snapshot_retention: 7 },
          })
        ).body,
      );
    },
  ],
  [
    'put /v1/apps/:app/volumes/:volume/extend',
    async () => {
      conforms(
        extendVolumeResponseSchema,
        (
          await api(sim, 'PUT', `/v1/apps/${app}/volumes/${volumeId}/extend`, {
            body: { size_gb: 2 },
          })
        ).body,
      );
    },
  ],
  [
    'post /v1/apps/:app/volumes/:volume/snapshots',
    async () => client.volumes.createSnapshot(app, volumeId),
  ],
  [
    'get /v1/apps/:app/volumes/:volume/snapshots',
    async () => {
      conforms(
        arrayOf(volumeSnapshotSchema),
        (await api(sim, 'GET', `/v1/apps/${app}/volumes/${volumeId}/snapshots`)).body,
      );
    },
  ],
  [
    'post /v1/apps/:app/machines',
    async () => {
      const answer = await api<{ id: string; instance_id: string }>(
        sim,
        'POST',
        `/v1/apps/${app}/machines`,
        {
          body: {
            region: 'nrt',
            config: {
              image: 'registry.fly.io/conf-app:1',
              mounts: [{ volume: volumeId, path: '/app/data' }],
              checks: { health: { type: 'http', port: 8080, path: '/health' } },
            },
          },
        },
      );
      conforms(machineSchema, answer.body);
      machineId = answer.body.id;
    },
  ],
  [
    'get /v1/apps/:app/machines/:id/wait',
    async () => {
      conforms(
        waitResponseSchema,
        (await api(sim, 'GET', `${machinePath()}/wait?state=started&timeout=5`)).body,
      );
    },
  ],
  [
    'get /v1/apps/:app/machines',
    async () => {
      conforms(arrayOf(machineSchema), (await api(sim, 'GET', `/v1/apps/${app}/machines`)).body);
      conforms(
        arrayOf(machineSummarySchema),
        (await api(sim, 'GET', `/v1/apps/${app}/machines?summary=true`)).body,
      );
    },
  ],
  [
    'get /v1/apps/:app/machines/:id',
    async () => {
      const answer = await api<{ instance_id: string }>(
        sim,
        'GET',
        `${machinePath()}?include_leases=true`,
      );
      conforms(machineSchema, answer.body);
      instanceId = answer.body.instance_id;
    },
  ],
  [
    'post /v1/apps/:app/machines/:id/exec',
    async () => {
      conforms(
        execResponseSchema,
        (
          await api(sim, 'POST', `${machinePath()}/exec`, {
            body: { command: ['printenv', 'FLY_MACHINE_ID'] },
          })
        ).body,
      );
    },
  ],
  [
    'get /v1/apps/:app/machines/:id/events',
    async () => {
      conforms(
        arrayOf(machineEventSchema),
        (await api(sim, 'GET', `${machinePath()}/events`)).body,
      );
    },
  ],
  [
    'get /v1/apps/:app/machines/:id/versions',
    async () => {
      conforms(
        arrayOf(machineVersionSchema),
        (await api(sim, 'GET', `${machinePath()}/versions`)).body,
      );
    },
  ],
  [
    'get /v1/apps/:app/machines/:id/ps',
    async () => {
      conforms(arrayOf(processStatSchema), (await api(sim, 'GET', `${machinePath()}/ps`)).body);
    },
  ],
  [
    'post /v1/apps/:app/machines/:id/lease',
    async () => {
      const answer = await api<{ data: { nonce: string } }>(sim, 'POST', `${machinePath()}/lease`, {
        body: { ttl: 30 },
      });
      conforms(leaseResponseSchema, answer.body);
      nonce = answer.body.data.nonce;
      conforms(
        errorBodySchema,
        (await api(sim, 'POST', `${machinePath()}/lease`, { body: { ttl: 30 } })).body,
      );
    },
  ],
  [
    'get /v1/apps/:app/machines/:id/lease',
    async () => {
      conforms(leaseResponseSchema, (await api(sim, 'GET', `${machinePath()}/lease`)).body);
    },
  ],
  [
    'delete /v1/apps/:app/machines/:id/lease',
    async () => client.machines.releaseLease(app, machineId, nonce),
  ],
  [
    'post /v1/apps/:app/machines/:id/metadata/:key',
    async () => client.machines.setMetadata(app, machineId, 'flydr_role', 'primary'),
  ],
  [
    'get /v1/apps/:app/machines/:id/metadata/:key',
    async () => {
      const answer = await api<{ value: string }>(
        sim,
        'GET',
        `${machinePath()}/metadata/flydr_role`,
      );
      expect(answer.body).toEqual({ value: 'primary' });
    },
  ],
  [
    'get /v1/apps/:app/machines/:id/metadata',
    async () => {
      expect(await client.machines.getMetadata(app, machineId)).toEqual({ flydr_role: 'primary' });
    },
  ],
  [
    'patch /v1/apps/:app/machines/:id/metadata',
    async () => client.machines.mergeMetadata(app, machineId, { flydr_generation: '1' }),
  ],
  [
    'put /v1/apps/:app/machines/:id/metadata',
    async () => client.machines.replaceMetadata(app, machineId, { flydr_role: 'primary' }),
  ],
  [
    'delete /v1/apps/:app/machines/:id/metadata/:key',
    async () => client.machines.deleteMetadata(app, machineId, 'flydr_role'),
  ],
  ['post /v1/apps/:app/machines/:id/cordon', async () => client.machines.cordon(app, machineId)],
  [
    'post /v1/apps/:app/machines/:id/uncordon',
    async () => client.machines.uncordon(app, machineId),
  ],
  [
    'post /v1/apps/:app/machines/:id/signal',
    async () => client.machines.signal(app, machineId, 'SIGHUP'),
  ],
  [
    'post /v1/apps/:app/machines/:id/restart',
    async () => {
      await client.machines.restart(app, machineId);
      await client.machines.wait(app, machineId, { state: 'started', timeoutMs: 5_000 });
    },
  ],
  [
    'post /v1/apps/:app/machines/:id/suspend',
    async () => {
      await client.machines.suspend(app, machineId);
      await client.machines.wait(app, machineId, { state: 'suspended', timeoutMs: 5_000 });
    },
  ],
  [
    'post /v1/apps/:app/machines/:id/start',
    async () => {
      conforms(startResponseSchema, (await api(sim, 'POST', `${machinePath()}/start`)).body);
      await client.machines.wait(app, machineId, { state: 'started', timeoutMs: 5_000 });
    },
  ],
  [
    'post /v1/apps/:app/machines/:id',
    async () => {
      const machine = await client.machines.get(app, machineId);
      const answer = await api(sim, 'POST', machinePath(), {
        body: { config: { ...machine.config, env: { A: '1' } } },
      });
      conforms(machineSchema, answer.body);
      await client.machines.wait(app, machineId, { state: 'started', timeoutMs: 5_000 });
      instanceId = (await client.machines.get(app, machineId)).instance_id ?? '';
    },
  ],
  [
    'post /v1/apps/:app/machines/:id/stop',
    async () => {
      await client.machines.stop(app, machineId);
      await client.machines.wait(app, machineId, {
        state: 'stopped',
        instanceId,
        timeoutMs: 5_000,
      });
    },
  ],
  ['delete /v1/apps/:app/machines/:id', async () => client.machines.delete(app, machineId)],
  [
    'delete /v1/apps/:app/volumes/:volume',
    async () => {
      conforms(
        volumeSchema,
        (await api(sim, 'DELETE', `/v1/apps/${app}/volumes/${spareVolumeId}`)).body,
      );
    },
  ],
  [
    'get /v1/platform/regions',
    async () =>
      conforms(regionsResponseSchema, (await api(sim, 'GET', '/v1/platform/regions')).body),
  ],
  [
    'post /v1/platform/placements',
    async () => {
      conforms(
        placementsResponseSchema,
        (
          await api(sim, 'POST', '/v1/platform/placements', {
            body: { org_slug: 'personal', region: 'nrt,sin' },
          })
        ).body,
      );
    },
  ],
  [
    'post /graphql',
    async () => {
      const { certificate } = await client.ssh.issueCertificate({
        app,
        publicKey: testKey().publicLine,
      });
      expect(certificate).toMatch(/^ssh-ed25519-cert-v01@openssh\.com /);
    },
  ],
  ['delete /v1/apps/:app', async () => client.apps.delete('conf-other')],
];

describe('conformance with fly-client schemas', () => {
  it('covers every route of the sim', () => {
    const routes = sim.routes.map((route) => `${route.method} ${route.path}`).sort();
    expect(cases.map(([route]) => route).sort()).toEqual(routes);
  });

  for (const [route, run] of cases) {
    it(route, run);
  }

  it('sends error bodies that match errorBodySchema', async () => {
    sim.setCapacity('lhr', { machines: 0 });
    const capacity = await api(sim, 'POST', `/v1/apps/${app}/machines`, {
      body: { region: 'lhr', config: { image: 'registry.fly.io/conf-app:1' } },
    });
    conforms(errorBodySchema, capacity.body);
    conforms(
      errorBodySchema,
      (await api(sim, 'GET', `/v1/apps/${app}/machines/000000000000000`)).body,
    );
  });
});
