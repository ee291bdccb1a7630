import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { isTransportError, SshTransport } from '@flydr/fly-client/transport';
import type { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MachineFiles } from '../src/commands/machine-files.js';
import { generateEd25519, openSshPrivateKey } from '../src/ssh/ed25519-keys.js';
import { MachineSshServer } from '../src/ssh/machine-ssh-server.js';
import { parseAuthorizedKeys } from '../src/ssh/ssh-auth.js';
import { connect, openSftp, testKey } from './helpers/ssh.js';

const MACHINE_ID = '3287e61b0d4418';
const OTHER_ID = '4d89d0c1f65e78';
const ADDRESS = '127.0.0.1';

const key = testKey();
const dir = mkdtempSync(join(tmpdir(), 'flydr-sim-environ-'));
let server: MachineSshServer;
let port: number;

/** Returns a TCP port that was free on 127.0.0.1 a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, ADDRESS, () => {
      const address = probe.address();
      const free = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(free));
    });
  });
}

beforeAll(async () => {
  port = await freePort();
  const files = new MachineFiles('/app/data', dir, () => undefined);
  server = new MachineSshServer({
    address: ADDRESS,
    port,
    hostKey: openSshPrivateKey(generateEd25519()),
    authPolicy: () => ({
      caBlob: generateEd25519().publicBlob,
      authorizedKeys: parseAuthorizedKeys([key.publicLine]),
    }),
    commandContext: () => ({
      machineId: MACHINE_ID,
      files,
      image: {},
      env: { PRIMARY_REGION: 'nrt', FLY_MACHINE_ID: MACHINE_ID },
    }),
  });
  await server.start();
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Reads a whole remote file with READ requests until EOF. */
async function readAll(client: Client, path: string): Promise<Buffer> {
  const sftp = await openSftp(client);
  const handle = await new Promise<Buffer>((resolve, reject) =>
    sftp.open(path, 'r', (error, opened) => (error ? reject(error) : resolve(opened))),
  );
  const parts: Buffer[] = [];
  for (let offset = 0; offset < 1024 * 1024; ) {
    const part = await new Promise<Buffer>((resolve, reject) => {
      const buffer = Buffer.alloc(7);
      sftp.read(handle, buffer, 0, buffer.length, offset, (error, bytesRead) =>
        error ? reject(error) : resolve(buffer.subarray(0, bytesRead)),
      );
    });
    if (part.length === 0) break;
    parts.push(part);
    offset += part.length;
  }
  sftp.end();
  return Buffer.concat(parts);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('SFTP /proc/self/environ', () => {
  it('returns the machine environment', async () => {
    const client = await connect(ADDRESS, port, key.privateKey);
    const content = await readAll(client, '/proc/self/environ');
    client.end();

    expect(content.toString('utf8')).toBe(`PRIMARY_REGION=nrt\0FLY_MACHINE_ID=${MACHINE_ID}\0`);
  });

  it('reports size 0 as procfs does', async () => {
    const client = await connect(ADDRESS, port, key.privateKey);
    const sftp = await openSftp(client);
    const size = await new Promise<number>((resolve, reject) =>
      sftp.stat('/proc/self/environ', (error, stats) =>
        error ? reject(error) : resolve(stats.size),
      ),
    );
    client.end();

    expect(size).toBe(0);
  });

  it('rejects opening it for writing', async () => {
    const client = await connect(ADDRESS, port, key.privateKey);
    const sftp = await openSftp(client);
    const error = await new Promise<unknown>((resolve) =>
      sftp.open('/proc/self/environ', 'w', (failure) => resolve(failure)),
    );
    client.end();

    expect((error as { code?: number }).code).toBe(3);
  });
});

describe('SshTransport machine id check on the sim', () => {
  it('confirms the machine without exec', async () => {
    const before = server.execRequests;
    const transport = await SshTransport.connect({
      app: 'environ-app',
      machine: { id: MACHINE_ID, state: 'started' },
      address: { host: ADDRESS, port },
      auth: { privateKey: key.privateKey },
      hostKeys: join(dir, 'known_hosts'),
    });
    await transport.close();

    expect(server.execRequests - before).toBe(0);
  });

  it('rejects another machine with both ids', async () => {
    const before = server.execRequests;
    const error = await rejection(
      SshTransport.connect({
        app: 'environ-app',
        machine: { id: OTHER_ID, state: 'started' },
        address: { host: ADDRESS, port },
        auth: { privateKey: key.privateKey },
        hostKeys: join(dir, 'other_known_hosts'),
      }),
    );

    expect(isTransportError(error, 'TRANSPORT_WRONG_MACHINE')).toBe(true);
    expect((error as Error).message).toContain(
      `reached machine ${MACHINE_ID}, not machine ${OTHER_ID}`,
    );
    expect(server.execRequests - before).toBe(0);
  });

  it('counts exec requests', async () => {
    const before = server.execRequests;
    const transport = await SshTransport.connect({
      app: 'environ-app',
      machine: { id: MACHINE_ID, state: 'started' },
      address: { host: ADDRESS, port },
      auth: { privateKey: key.privateKey },
      hostKeys: join(dir, 'known_hosts'),
    });
    const output = await transport.exec(['printenv', 'FLY_MACHINE_ID']);
    await transport.close();

    expect(output.stdout.toString('utf8').trim()).toBe(MACHINE_ID);
    expect(server.execRequests - before).toBe(1);
  });
});
