import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parsePrivateKey } from '../../src/transport/certificate.js';
import { generateEd25519KeyPair, SshTransport } from '../../src/transport/index.js';
import { FileHostKeyStore } from '../../src/transport/known-hosts.js';
import { RemoteSha256 } from '../../src/transport/remote-sha256.js';
import { SshConnection } from '../../src/transport/ssh-connection.js';
import { createMachineBin } from './helpers/machine-bin.js';
import { type Ssh2TestServer, startSsh2Server } from './helpers/ssh2-server.js';

const MACHINE_ID = '3d8d9e1b7c4e28';
const userKey = generateEd25519KeyPair();
let server: Ssh2TestServer;
let work: string;
/** Each run of the machine's sha256sum appends its arguments here. */
let hashLog: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flydr-remote-sha256-'));
  hashLog = join(work, 'sha256sum.log');
  await writeFile(hashLog, '');
  server = await startSsh2Server({
    machineId: MACHINE_ID,
    authorizedKey: userKey.public,
    binDir: await createMachineBin(work, {
      scripts: { sha256sum: `echo "$*" >> '${hashLog}'; exec /usr/bin/sha256sum "$@"` },
    }),
  });
});

afterAll(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function hashRuns(): Promise<string[]> {
  return (await readFile(hashLog, 'utf8')).split('\n').filter((line) => line !== '');
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function openConnection(): Promise<SshConnection> {
  return SshConnection.open({
    app: 'live-schedule-api',
    machineId: MACHINE_ID,
    host: server.host,
    port: server.port,
    username: 'root',
    key: parsePrivateKey(userKey.private),
    authKind: 'key',
    hostKeys: new FileHostKeyStore(join(work, 'connection_hosts')),
    acceptNewHostKey: false,
    connectTimeoutMs: 10_000,
    keepaliveIntervalMs: 10_000,
    keepaliveCountMax: 3,
  });
}

describe('RemoteSha256 prepared hash', () => {
  it('hashes the file at run time', async () => {
    const path = join(work, 'changing.bin');
    await writeFile(path, randomBytes(1000));
    const connection = await openConnection();
    const hasher = new RemoteSha256(MACHINE_ID);

    const prepared = hasher.prepare(connection, path);
    const final = randomBytes(300_000);
    await writeFile(path, final);
    const digest = await prepared.run();
    await connection.close();

    expect(digest).toBe(sha256(final));
  });

  it('hashes nothing once cancelled', async () => {
    const path = join(work, 'cancelled.bin');
    await writeFile(path, randomBytes(1000));
    const before = (await hashRuns()).length;
    const connection = await openConnection();
    const hasher = new RemoteSha256(MACHINE_ID);

    hasher.prepare(connection, path).cancel();
    const output = await connection.exec(['printenv', 'FLY_MACHINE_ID']);
    await connection.close();

    expect(output.stdout.toString('utf8').trim()).toBe(MACHINE_ID);
    expect((await hashRuns()).length).toBe(before);
  });

  it('runs one hash per upload', async () => {
    const source = join(work, 'source.bin');
    const content = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(source, content);
    const before = (await hashRuns()).length;
    const transport = await SshTransport.connect({
      app: 'live-schedule-api',
      machine: { id: MACHINE_ID, state: 'started' },
      address: { host: server.host, port: server.port },
      auth: { privateKey: userKey.private },
      hostKeys: join(work, 'known_hosts'),
    });

    const first = await transport.upload(source, join(work, 'first.bin'));
    const second = await transport.upload(source, join(work, 'second.bin'));
    await transport.close();

    expect(first.sha256).toBe(sha256(content));
    expect(second.sha256).toBe(sha256(content));
    expect((await hashRuns()).slice(before)).toEqual([
      `-- ${join(work, 'first.bin')}.flydr-partial`,
      `-- ${join(work, 'second.bin')}.flydr-partial`,
    ]);
  });
});
