import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type Sim, startSim } from '@flydr/fly-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createFlyClient, type FlyClient } from '../../src/index.js';
import {
  createExecTransportFactory,
  createSshTransportFactory,
  FileHostKeyStore,
  flyCertificateIssuer,
  isTransportError,
  type MachineTransportFactory,
} from '../../src/transport/index.js';
import { createKeyPair } from './helpers/openssh-server.mjs';

const APP = 'live-schedule-api';
const FILE_SIZE = 4 * 1024 * 1024 + 99;

let sim: Sim;
let client: FlyClient;
let work: string;
let machineId: string;
let content: Buffer;
let digest: string;
let sshFactory: MachineTransportFactory;
let hostKeys: string;

beforeAll(async () => {
  sim = await startSim();
  sim.createApp(APP, { primaryRegion: 'nrt' });
  ({ machineId } = await sim.seedMachine(APP));
  client = createFlyClient({
    token: sim.token,
    baseUrl: sim.apiUrl,
    graphqlUrl: sim.graphqlUrl,
    rateLimit: false,
  });
  work = await mkdtemp(join(tmpdir(), 'flydr-transport-sim-'));
  hostKeys = join(work, 'known_hosts');
  sshFactory = createSshTransportFactory({
    app: APP,
    auth: { certificate: flyCertificateIssuer(client, APP) },
    hostKeys,
    port: sim.sshPort,
  });
  content = randomBytes(FILE_SIZE);
  digest = createHash('sha256').update(content).digest('hex');
  await writeFile(join(work, 'upload.db'), content);
});

afterAll(async () => {
  await sim?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('SshTransport against fly-sim', () => {
  it('logs in with an issued certificate', async () => {
    const transport = await sshFactory(await client.machines.get(APP, machineId));
    const output = await transport.exec(['printenv', 'FLY_MACHINE_ID']);
    await transport.close();

    expect(output.stdout.toString().trim()).toBe(machineId);
  });

  it('pins the machine host key', async () => {
    const transport = await sshFactory(await client.machines.get(APP, machineId));
    await transport.close();

    const pin = await new FileHostKeyStore(hostKeys).get(machineId);
    const expected = Buffer.from(sim.machine(machineId).hostPublicKey.split(' ')[1]!, 'base64');
    expect(pin?.key.equals(expected)).toBe(true);
  });

  it('round-trips a file through the volume', async () => {
    const transport = await sshFactory(await client.machines.get(APP, machineId));
    const up = await transport.upload(join(work, 'upload.db'), '/app/data/restore.db');
    const down = await transport.download('/app/data/restore.db', join(work, 'download.db'));
    await transport.close();

    expect(up.sha256).toBe(digest);
    expect(down.sha256).toBe(digest);
    expect(
      (await readFile(join(sim.machine(machineId).volumeDir!, 'restore.db'))).equals(content),
    ).toBe(true);
  });

  it('resumes after the sim drops the connection', async () => {
    await writeFile(join(sim.machine(machineId).volumeDir!, 'big.db'), content);
    const transport = await sshFactory(await client.machines.get(APP, machineId));
    // Cut late enough that the first bytes have reached the partial file, whatever the sim
    // had in flight when it reset the connection.
    sim.dropSshAfterBytes(machineId, randomInt(Math.floor(FILE_SIZE / 2), FILE_SIZE - 100_000));
    const result = await transport.download('/app/data/big.db', join(work, 'big.db'));
    await transport.close();

    expect(result.resumedFrom).toBeGreaterThan(0);
    expect(result.sha256).toBe(digest);
  });

  it('hashes uploads without the waiting form', async () => {
    const debugLines: string[] = [];
    const factory = createSshTransportFactory({
      app: APP,
      auth: { certificate: flyCertificateIssuer(client, APP) },
      hostKeys,
      port: sim.sshPort,
      logger: {
        debug: (message) => debugLines.push(message),
        info: () => undefined,
        warn: () => undefined,
      },
    });
    const transport = await factory(await client.machines.get(APP, machineId));
    const first = await transport.upload(join(work, 'upload.db'), '/app/data/first.db');
    const second = await transport.upload(join(work, 'upload.db'), '/app/data/second.db');
    await transport.close();

    // The sim's shell runs no `read`, so the first upload falls back and the second skips it.
    expect(first.sha256).toBe(digest);
    expect(second.sha256).toBe(digest);
    expect(debugLines.filter((line) => line.startsWith('ssh prepared hash failed'))).toHaveLength(
      1,
    );
  });

  it('refuses a stopped machine', async () => {
    const stopped = await sim.seedMachine(APP, { skipLaunch: true, volumeName: 'data_stopped' });
    const machine = await client.machines.get(APP, stopped.machineId);
    const error = await rejection(sshFactory(machine));

    expect(isTransportError(error, 'TRANSPORT_NOT_STARTED')).toBe(true);
    expect((error as Error).message).toContain(`fly machine start ${stopped.machineId}`);
  });

  it('rejects a certificate from another CA', async () => {
    const caPath = join(work, 'other_ca');
    await createKeyPair(caPath);
    const factory = createSshTransportFactory({
      app: APP,
      auth: {
        certificate: {
          issue: async (publicKey) => {
            const keyPath = join(work, 'in-memory-key.pub');
            await writeFile(keyPath, `${publicKey}\n`);
            execFileSync('ssh-keygen', [
              '-q',
              '-s',
              caPath,
              '-I',
              'other',
              '-n',
              'root',
              '-V',
              '+1h',
              keyPath,
            ]);
            return {
              certificate: (await readFile(join(work, 'in-memory-key-cert.pub'), 'utf8')).trim(),
            };
          },
        },
      },
      hostKeys,
      port: sim.sshPort,
    });
    const error = await rejection(factory(await client.machines.get(APP, machineId)));

    expect(error).toMatchObject({ code: 'TRANSPORT_AUTH_FAILED' });
    expect((error as Error).message).toContain('did not accept the certificate');
  });
});

describe('ExecTransport against fly-sim', () => {
  it('round-trips a file through the volume', async () => {
    const factory = createExecTransportFactory({
      app: APP,
      machines: client.machines,
      chunkSize: 256 * 1024,
    });
    const transport = await factory(await client.machines.get(APP, machineId));
    const up = await transport.upload(join(work, 'upload.db'), '/app/data/exec.db');
    const down = await transport.download('/app/data/exec.db', join(work, 'exec-copy.db'));
    await transport.close();

    expect(up.sha256).toBe(digest);
    expect(down.sha256).toBe(digest);
  });
});
