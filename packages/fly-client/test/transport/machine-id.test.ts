import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FileHostKeyStore,
  generateEd25519KeyPair,
  isTransportError,
  SshTransport,
  type SshTransportOptions,
  type TransportLogger,
} from '../../src/transport/index.js';
import { findMachineId } from '../../src/transport/machine-id-environ.js';
import { createMachineBin } from './helpers/machine-bin.js';
import { type OpenSshServer, startOpenSshServer } from './helpers/openssh-server.mjs';
import { type Ssh2TestServer, startSsh2Server } from './helpers/ssh2-server.js';

const MACHINE_ID = '5683d449c7e48e';
const OTHER_ID = '91857d0f6e2d38';

const userKey = generateEd25519KeyPair();
const servers: { close(): Promise<void> }[] = [];
let work: string;
let binDir: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flydr-machine-id-'));
  binDir = await createMachineBin(work);
});

afterAll(async () => {
  for (const server of servers) await server.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function ssh2Server(sftpEnviron?: Record<string, string>): Promise<Ssh2TestServer> {
  const server = await startSsh2Server({
    machineId: MACHINE_ID,
    authorizedKey: userKey.public,
    binDir,
    ...(sftpEnviron ? { sftpEnviron } : {}),
  });
  servers.push(server);
  return server;
}

async function openSshServer(internalSftp: boolean): Promise<OpenSshServer> {
  const server = await startOpenSshServer({ machineId: MACHINE_ID, internalSftp });
  servers.push({ close: () => server.stop() });
  return server;
}

let hostKeysCount = 0;

function ssh2Options(
  server: Ssh2TestServer,
  overrides: Partial<SshTransportOptions> = {},
): SshTransportOptions {
  hostKeysCount += 1;
  return {
    app: 'live-schedule-api',
    machine: { id: MACHINE_ID, state: 'started' },
    address: { host: server.host, port: server.port },
    auth: { privateKey: userKey.private },
    hostKeys: join(work, `known_hosts-${hostKeysCount}`),
    ...overrides,
  };
}

function openSshOptions(
  server: OpenSshServer,
  overrides: Partial<SshTransportOptions> = {},
): SshTransportOptions {
  hostKeysCount += 1;
  return {
    app: 'live-schedule-api',
    machine: { id: MACHINE_ID, state: 'started' },
    address: { host: server.host, port: server.port },
    username: server.username,
    auth: { privateKey: server.userKey.privateKey },
    hostKeys: join(work, `known_hosts-${hostKeysCount}`),
    ...overrides,
  };
}

/** Returns a logger that keeps the `source` field of each machine id check. */
function sourceLogger(): { logger: TransportLogger; sources: unknown[] } {
  const sources: unknown[] = [];
  const logger: TransportLogger = {
    debug: (message, fields) => {
      if (message === 'ssh machine id checked') sources.push(fields?.source);
    },
    info: () => undefined,
    warn: () => undefined,
  };
  return { logger, sources };
}

/** Counts the exec sessions sshd logged ("Starting session: command", LogLevel VERBOSE). */
function commandSessions(server: OpenSshServer): number {
  return server.log().match(/Starting session: command /g)?.length ?? 0;
}

/**
 * Waits, at most five seconds, until sshd logged the client's disconnect, so that every
 * session line of that connection is in the log.
 */
async function disconnected(server: OpenSshServer): Promise<void> {
  for (let waited = 0; waited < 5000; waited += 50) {
    if (server.log().includes('Disconnected from user')) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('findMachineId', () => {
  it('returns the first complete entry', () => {
    const content = Buffer.from(`PATH=/bin\0FLY_MACHINE_ID=${MACHINE_ID}\0FLY_MACHINE_ID=x\0`);

    expect(findMachineId(content)).toBe(MACHINE_ID);
  });

  it('ignores an entry cut off by the read', () => {
    expect(findMachineId(Buffer.from('PATH=/bin\0FLY_MACHINE_ID=5683'))).toBeUndefined();
  });

  it('ignores a name that only ends the same', () => {
    expect(findMachineId(Buffer.from('NOT_FLY_MACHINE_ID=abc\0'))).toBeUndefined();
  });

  it('returns an empty value as empty', () => {
    expect(findMachineId(Buffer.from('FLY_MACHINE_ID=\0'))).toBe('');
  });
});

describe('machine id check on an ssh2 server', () => {
  it('reads the id over SFTP without exec', async () => {
    const server = await ssh2Server();
    const { logger, sources } = sourceLogger();
    const transport = await SshTransport.connect(ssh2Options(server, { logger }));
    await transport.close();

    expect(server.execRequests).toBe(0);
    expect(sources).toEqual(['/proc/self/environ']);
  });

  it('falls back to exec without the variable', async () => {
    const server = await ssh2Server({ PATH: binDir });
    const { logger, sources } = sourceLogger();
    const transport = await SshTransport.connect(ssh2Options(server, { logger }));
    await transport.close();

    expect(server.execRequests).toBe(1);
    expect(sources).toEqual(['exec printenv']);
  });

  it('falls back to exec on an empty value', async () => {
    const server = await ssh2Server({ FLY_MACHINE_ID: '' });
    const transport = await SshTransport.connect(ssh2Options(server));
    await transport.close();

    expect(server.execRequests).toBe(1);
  });

  it('rejects another id from SFTP without exec', async () => {
    const server = await ssh2Server({ FLY_MACHINE_ID: OTHER_ID });
    const hostKeys = join(work, 'wrong-ssh2-hosts');
    const error = await rejection(SshTransport.connect(ssh2Options(server, { hostKeys })));

    expect(isTransportError(error, 'TRANSPORT_WRONG_MACHINE')).toBe(true);
    expect((error as Error).message).toContain(
      `reached machine ${OTHER_ID}, not machine ${MACHINE_ID}`,
    );
    expect(server.execRequests).toBe(0);
    expect(await new FileHostKeyStore(hostKeys).get(MACHINE_ID)).toBeUndefined();
  });

  it('rejects another id from exec after fallback', async () => {
    const server = await ssh2Server({ PATH: binDir });
    const error = await rejection(
      SshTransport.connect(ssh2Options(server, { machine: { id: OTHER_ID, state: 'started' } })),
    );

    expect(isTransportError(error, 'TRANSPORT_WRONG_MACHINE')).toBe(true);
    expect((error as Error).message).toContain(
      `reached machine ${MACHINE_ID}, not machine ${OTHER_ID}`,
    );
    expect(server.execRequests).toBe(1);
  });

  it('skips the check when disabled', async () => {
    const server = await ssh2Server({ FLY_MACHINE_ID: OTHER_ID });
    const { logger, sources } = sourceLogger();
    const transport = await SshTransport.connect(
      ssh2Options(server, { verifyMachineId: false, logger }),
    );
    const info = await transport.stat(work);
    await transport.close();

    expect(info).toBeDefined();
    expect(sources).toEqual([]);
    expect(server.execRequests).toBe(0);
  });
});

describe('machine id check on OpenSSH sshd', () => {
  it('reads the id from sftp-server without exec', async () => {
    const server = await openSshServer(false);
    const { logger, sources } = sourceLogger();
    const transport = await SshTransport.connect(openSshOptions(server, { logger }));
    await transport.close();
    await disconnected(server);

    expect(commandSessions(server)).toBe(0);
    expect(sources).toEqual(['/proc/self/environ']);
  });

  it('rejects the wrong machine without exec', async () => {
    const server = await openSshServer(false);
    const hostKeys = join(work, 'wrong-openssh-hosts');
    const error = await rejection(
      SshTransport.connect(
        openSshOptions(server, { hostKeys, machine: { id: OTHER_ID, state: 'started' } }),
      ),
    );
    await disconnected(server);

    expect(isTransportError(error, 'TRANSPORT_WRONG_MACHINE')).toBe(true);
    expect((error as Error).message).toContain(
      `reached machine ${MACHINE_ID}, not machine ${OTHER_ID}`,
    );
    expect(commandSessions(server)).toBe(0);
    expect(await new FileHostKeyStore(hostKeys).get(OTHER_ID)).toBeUndefined();
  });

  it('falls back to exec with internal-sftp', async () => {
    const server = await openSshServer(true);
    const { logger, sources } = sourceLogger();
    const transport = await SshTransport.connect(openSshOptions(server, { logger }));
    await transport.close();
    await disconnected(server);

    expect(commandSessions(server)).toBe(1);
    expect(sources).toEqual(['exec printenv']);
  });
});
