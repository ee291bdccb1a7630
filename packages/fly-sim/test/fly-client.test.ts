import { createFlyClient, type FlyClient, isFlyError } from '@flydr/fly-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sim, startSim } from '../src/index.js';
import { testKey } from './helpers/ssh.js';

let sim: Sim;
let http: FlyClient;
let inProcess: FlyClient;
let machineId: string;

beforeAll(async () => {
  sim = await startSim();
  sim.createApp('client-app', { primaryRegion: 'nrt' });
  ({ machineId } = await sim.seedMachine('client-app', { init: { exec: ['sleep', 'inf'] } }));
  const common = {
    token: sim.token,
    rateLimit: false as const,
    retry: { maxAttempts: 1 },
    waitMaxSeconds: 1,
  };
  http = createFlyClient({ ...common, baseUrl: sim.apiUrl, graphqlUrl: sim.graphqlUrl });
  // The host name is never resolved, because the dispatcher serves requests in-process.
  inProcess = createFlyClient({
    ...common,
    baseUrl: 'http://127.0.0.1:9',
    graphqlUrl: 'http://127.0.0.1:9/graphql',
    dispatcher: sim.dispatcher(),
  });
});
afterAll(() => sim.close());

describe('fly-client against the sim', () => {
  for (const [name, client] of [
    ['over HTTP', () => http],
    ['in-process', () => inProcess],
  ] as const) {
    it(`reads a machine ${name}`, async () => {
      const machine = await client().machines.get('client-app', machineId);
      expect(machine.state).toBe('started');
    });

    it(`runs exec ${name}`, async () => {
      const result = await client().machines.exec('client-app', machineId, {
        command: ['printenv', 'FLY_MACHINE_ID'],
      });
      expect(result.stdout).toBe(`${machineId}\n`);
    });
  }

  it('classifies a full region as FLY_CAPACITY', async () => {
    sim.setCapacity('sin', { machines: 0 });
    const codes = [];
    for (let i = 0; i < 3; i++) {
      const error = await http.machines
        .create('client-app', { region: 'sin', config: { image: 'registry.fly.io/client-app:1' } })
        .catch((e: unknown) => e);
      codes.push(isFlyError(error) ? error.code : String(error));
    }
    expect(codes).toEqual(['FLY_CAPACITY', 'FLY_CAPACITY', 'FLY_CAPACITY']);
  });

  it('classifies a held lease as FLY_LEASE_CONFLICT', async () => {
    const lease = await http.machines.acquireLease('client-app', machineId, { ttlSeconds: 30 });
    const error = await http.machines.stop('client-app', machineId).catch((e: unknown) => e);
    expect(isFlyError(error, 'FLY_LEASE_CONFLICT')).toBe(true);
    await http.machines.releaseLease('client-app', machineId, lease.nonce);
  });

  it('classifies an unknown machine as FLY_NOT_FOUND', async () => {
    const error = await http.machines.get('client-app', '1234567890abcd').catch((e: unknown) => e);
    expect(isFlyError(error, 'FLY_NOT_FOUND')).toBe(true);
  });

  it('classifies a destroy of a started machine as FLY_INVALID_STATE', async () => {
    const error = await http.machines.delete('client-app', machineId).catch((e: unknown) => e);
    expect(isFlyError(error, 'FLY_INVALID_STATE')).toBe(true);
  });

  it('turns an unmet wait into FLY_TIMEOUT', async () => {
    const machine = await http.machines.get('client-app', machineId);
    const error = await http.machines
      .wait('client-app', machineId, {
        state: 'stopped',
        instanceId: machine.instance_id,
        timeoutMs: 1_500,
      })
      .catch((e: unknown) => e);
    expect(isFlyError(error, 'FLY_TIMEOUT')).toBe(true);
  });

  it('classifies a wrong token as FLY_UNAUTHORIZED', async () => {
    const stranger = createFlyClient({
      token: 'not-the-token',
      baseUrl: sim.apiUrl,
      rateLimit: false,
    });
    const error = await stranger.apps.get('client-app').catch((e: unknown) => e);
    expect(isFlyError(error, 'FLY_UNAUTHORIZED')).toBe(true);
  });

  it('issues a certificate for the sim CA', async () => {
    const { certificate } = await http.ssh.issueCertificate({
      app: 'client-app',
      publicKey: testKey().publicLine,
    });
    expect(certificate.startsWith('ssh-ed25519-cert-v01@openssh.com ')).toBe(true);
  });
});
