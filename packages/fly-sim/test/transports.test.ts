import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFlyClient, type FlyClient } from '@flydr/fly-client';
import {
  ExecTransport,
  flyCertificateIssuer,
  type MachineTransport,
  SshTransport,
} from '@flydr/fly-client/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sim, startSim } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'flydr-sim-transport-'));
const payload = Buffer.alloc(3 * 1024 * 1024 + 17, 0);
for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) % 251;
const payloadSha = createHash('sha256').update(payload).digest('hex');

let sim: Sim;
let client: FlyClient;
let machineId: string;

beforeAll(async () => {
  sim = await startSim();
  sim.createApp('transport-app', { primaryRegion: 'nrt' });
  ({ machineId } = await sim.seedMachine('transport-app', { init: { exec: ['sleep', 'inf'] } }));
  client = createFlyClient({
    token: sim.token,
    baseUrl: sim.apiUrl,
    graphqlUrl: sim.graphqlUrl,
    rateLimit: false,
  });
  writeFileSync(join(dir, 'payload.bin'), payload);
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Uploads, checks, renames, downloads and removes a file through a transport. */
async function roundTrip(transport: MachineTransport, name: string): Promise<void> {
  const uploaded = await transport.upload(join(dir, 'payload.bin'), `/app/data/${name}.tmp`);
  expect(uploaded.sha256).toBe(payloadSha);
  await transport.rename(`/app/data/${name}.tmp`, `/app/data/${name}`);
  expect((await transport.stat(`/app/data/${name}`))?.size).toBe(payload.length);

  const local = join(dir, `${name}.down`);
  const downloaded = await transport.download(`/app/data/${name}`, local);
  expect(downloaded.sha256).toBe(payloadSha);
  expect(createHash('sha256').update(readFileSync(local)).digest('hex')).toBe(payloadSha);

  await transport.remove(`/app/data/${name}`);
  expect(await transport.stat(`/app/data/${name}`)).toBeUndefined();
}

describe('fly-client transports against the sim', () => {
  it('SSH transport logs in with an issued certificate and moves a file', async () => {
    const machine = await client.machines.get('transport-app', machineId);
    const transport = await SshTransport.connect({
      app: 'transport-app',
      machine,
      auth: { certificate: flyCertificateIssuer(client, 'transport-app') },
      hostKeys: join(dir, 'known_hosts'),
      port: sim.sshPort,
    });
    try {
      await roundTrip(transport, 'ssh.bin');
      const output = await transport.exec(['printenv', 'FLY_MACHINE_ID']);
      expect(output.stdout.toString()).toBe(`${machineId}\n`);
    } finally {
      await transport.close();
    }
  });

  it('SSH transport finishes a download after a dropped connection', async () => {
    const machine = await client.machines.get('transport-app', machineId);
    writeFileSync(join(sim.machine(machineId).volumeDir ?? '', 'drop.bin'), payload);
    const transport = await SshTransport.connect({
      app: 'transport-app',
      machine,
      auth: { certificate: flyCertificateIssuer(client, 'transport-app') },
      hostKeys: join(dir, 'known_hosts'),
      port: sim.sshPort,
    });
    try {
      sim.dropSshAfterBytes(machineId, 1024 * 1024);
      const result = await transport.download('/app/data/drop.bin', join(dir, 'drop.down'), {
        resume: true,
      });
      expect(result.sha256).toBe(payloadSha);
      expect(result.resumedFrom).toBeGreaterThan(0);
    } finally {
      await transport.close();
    }
  });

  it('exec transport moves a file through the API', async () => {
    const machine = await client.machines.get('transport-app', machineId);
    const transport = await ExecTransport.connect({
      app: 'transport-app',
      machine,
      machines: client.machines,
    });
    try {
      await roundTrip(transport, 'exec.bin');
    } finally {
      await transport.close();
    }
  });
});
