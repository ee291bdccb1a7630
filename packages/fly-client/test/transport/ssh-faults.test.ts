import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  generateEd25519KeyPair,
  isTransportError,
  SshTransport,
  type SshTransportOptions,
} from '../../src/transport/index.js';
import { createMachineBin } from './helpers/machine-bin.js';
import { type Ssh2TestServer, startSsh2Server } from './helpers/ssh2-server.js';

const MACHINE_ID = '148e21ea7e6089';
const FILE_SIZE = 2 * 1024 * 1024 + 123;

const userKey = generateEd25519KeyPair();
let server: Ssh2TestServer;
let work: string;
let content: Buffer;
let digest: string;
let source: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flydr-ssh2-faults-'));
  server = await startSsh2Server({
    machineId: MACHINE_ID,
    authorizedKey: userKey.public,
    binDir: await createMachineBin(work),
  });
  content = randomBytes(FILE_SIZE);
  digest = createHash('sha256').update(content).digest('hex');
  source = join(work, 'app.db');
  await writeFile(source, content);
});

afterAll(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

afterEach(() => {
  server.faults = {};
});

function options(overrides: Partial<SshTransportOptions> = {}): SshTransportOptions {
  return {
    app: 'live-schedule-api',
    machine: { id: MACHINE_ID, state: 'started' },
    address: { host: server.host, port: server.port },
    auth: { privateKey: userKey.private },
    hostKeys: join(work, 'known_hosts'),
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection'),
    (error: unknown) => error,
  );
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

describe('SshTransport faults on an ssh2 server', () => {
  it('resumes a download after a drop', async () => {
    const dropAt = randomInt(100_000, FILE_SIZE - 100_000);
    server.faults.dropAfterBytes = dropAt;
    const transport = await SshTransport.connect(options());
    const target = join(work, 'resumed.db');

    const result = await transport.download(source, target);
    await transport.close();

    expect(result.sha256).toBe(digest);
    expect(result.resumedFrom).toBeGreaterThan(0);
    expect(result.resumedFrom).toBeLessThanOrEqual(dropAt);
    expect((await readFile(target)).equals(content)).toBe(true);
  });

  it('logs the pin and the reconnect', async () => {
    const lines: { message: string; fields?: Record<string, unknown> }[] = [];
    const record = (message: string, fields?: Record<string, unknown>) =>
      lines.push({ message, fields });
    const logger = { debug: record, info: record, warn: record };
    server.faults.dropAfterBytes = 500_000;
    const transport = await SshTransport.connect(
      options({ logger, hostKeys: join(work, 'logged_hosts') }),
    );

    await transport.download(source, join(work, 'logged.db'));
    await transport.close();

    const pin = lines.find((line) => line.message === 'ssh host key pinned on first use');
    const reconnect = lines.find((line) => line.message === 'ssh transfer reconnecting');
    expect(pin?.fields?.machine_id).toBe(MACHINE_ID);
    expect(pin?.fields?.fingerprint).toMatch(/^SHA256:/);
    expect(reconnect?.fields?.attempt).toBe(1);
    expect(JSON.stringify(lines)).not.toContain(userKey.private.split('\n')[1]);
  });

  it('continues a partial file on the next call', async () => {
    server.faults.dropAfterBytes = randomInt(100_000, FILE_SIZE - 100_000);
    const transport = await SshTransport.connect(options({ maxReconnects: 0 }));
    const target = join(work, 'manual-resume.db');

    const error = await rejection(transport.download(source, target));
    const partialSize = (await stat(`${target}.flydr-partial`)).size;
    const finalExistsAfterDrop = await exists(target);
    const result = await transport.download(source, target);
    await transport.close();

    expect(isTransportError(error, 'TRANSPORT_CONNECTION_LOST')).toBe(true);
    expect(finalExistsAfterDrop).toBe(false);
    expect(result.resumedFrom).toBe(partialSize);
    expect(result.sha256).toBe(digest);
  });

  it('resumes an upload after a drop', async () => {
    server.faults.dropAfterBytes = randomInt(100_000, FILE_SIZE - 100_000);
    const transport = await SshTransport.connect(options());
    const target = join(work, 'uploaded-after-drop.db');

    const result = await transport.upload(source, target);
    await transport.close();

    expect(result.resumedFrom).toBeGreaterThan(0);
    expect((await readFile(target)).equals(content)).toBe(true);
    expect(await exists(`${target}.flydr-partial`)).toBe(false);
  });

  it('detects a corrupted byte', async () => {
    server.faults.corruptOffset = randomInt(0, FILE_SIZE);
    const transport = await SshTransport.connect(options());
    const target = join(work, 'corrupt.db');

    const error = await rejection(transport.download(source, target));
    await transport.close();

    expect(isTransportError(error, 'TRANSPORT_CHECKSUM_MISMATCH')).toBe(true);
    expect((error as Error).message).toContain(digest);
    expect(await exists(target)).toBe(false);
    expect(await exists(`${target}.flydr-partial`)).toBe(false);
  });

  it('detects a corrupted upload', async () => {
    server.faults.corruptWriteOffset = randomInt(0, FILE_SIZE);
    const transport = await SshTransport.connect(options());
    const target = join(work, 'corrupt-upload.db');

    const error = await rejection(transport.upload(source, target));
    await transport.close();

    expect(isTransportError(error, 'TRANSPORT_CHECKSUM_MISMATCH')).toBe(true);
    expect(await exists(target)).toBe(false);
    expect(await exists(`${target}.flydr-partial`)).toBe(false);
  });

  it('fails a shrinking local file at once', async () => {
    const shrinking = join(work, 'shrinking.db');
    await writeFile(shrinking, randomBytes(8 * 1024 * 1024));
    const connectionsBefore = server.connections;
    const transport = await SshTransport.connect(options());
    const target = join(work, 'shrinking-upload.db');

    // The first acknowledged write truncates the source, so the next local read comes up short.
    let truncated = false;
    const error = await rejection(
      transport.upload(shrinking, target, {
        onProgress: () => {
          if (truncated) return;
          truncated = true;
          void writeFile(shrinking, '');
        },
      }),
    );
    await transport.close();

    expect(isTransportError(error, 'TRANSPORT_INVALID_INPUT')).toBe(true);
    expect((error as Error).message).toContain('changed size during the upload');
    expect(server.connections - connectionsBefore).toBe(1);
    expect(await exists(target)).toBe(false);
  });

  it('does not reconnect after a local error', async () => {
    const target = join(work, 'blocked.db');
    // A folder under the partial name makes the local open fail with EISDIR.
    await mkdir(`${target}.flydr-partial`);
    const connectionsBefore = server.connections;
    const transport = await SshTransport.connect(options());

    const error = await rejection(transport.download(source, target));
    await transport.close();

    expect((error as NodeJS.ErrnoException).code).toBe('EISDIR');
    expect(server.connections - connectionsBefore).toBe(1);
    expect(await exists(target)).toBe(false);
  });

  it('reports a full local disk', async () => {
    // Writes to /dev/full fail with ENOSPC, as on a full disk.
    const target = join(work, 'full-disk.db');
    await symlink('/dev/full', `${target}.flydr-partial`);
    const transport = await SshTransport.connect(options());

    const error = await rejection(transport.download(source, target));
    await transport.close();

    expect(isTransportError(error, 'TRANSPORT_DISK_FULL')).toBe(true);
    expect((error as Error).message).toContain('local disk full');
    expect(await exists(target)).toBe(false);
  });

  it('restarts a resumed file that fails the checksum', async () => {
    const target = join(work, 'bad-partial.db');
    const badPrefix = Buffer.from(content.subarray(0, 500_000));
    badPrefix[1000] = (badPrefix[1000] ?? 0) ^ 0xff;
    await writeFile(`${target}.flydr-partial`, badPrefix);
    const transport = await SshTransport.connect(options());

    const result = await transport.download(source, target);
    await transport.close();

    expect(result.resumedFrom).toBeUndefined();
    expect((await readFile(target)).equals(content)).toBe(true);
  });

  it('times out an idle transfer', async () => {
    server.faults.stallAfterBytes = 300_000;
    const transport = await SshTransport.connect(options());
    const target = join(work, 'stalled.db');

    const error = await rejection(transport.download(source, target, { idleTimeoutMs: 300 }));
    await transport.close();

    expect(isTransportError(error, 'TRANSPORT_TIMEOUT')).toBe(true);
    expect((error as Error).message).toContain('no data moved for 300 ms');
    expect(await exists(target)).toBe(false);
  });

  it('enforces the deadline', async () => {
    server.faults.readDelayMs = 500;
    const transport = await SshTransport.connect(options());
    const target = join(work, 'late.db');

    const error = await rejection(transport.download(source, target, { deadlineMs: 300 }));
    await transport.close();

    expect(isTransportError(error, 'TRANSPORT_TIMEOUT')).toBe(true);
    expect((error as Error).message).toContain('deadline');
    expect(await exists(target)).toBe(false);
  });

  it('stops on abort', async () => {
    server.faults.readDelayMs = 50;
    const transport = await SshTransport.connect(options());
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    const error = await rejection(
      transport.download(source, join(work, 'aborted.db'), { signal: controller.signal }),
    );
    await transport.close();

    expect(isTransportError(error, 'TRANSPORT_ABORTED')).toBe(true);
  });

  it('falls back to one request after a protocol error', async () => {
    server.faults.malformedFirstRead = true;
    const connectionsBefore = server.connections;
    const transport = await SshTransport.connect(options());
    const target = join(work, 'fallback.db');

    const result = await transport.download(source, target);
    await transport.close();

    expect(result.sha256).toBe(digest);
    expect(server.connections - connectionsBefore).toBe(2);
    expect(server.maxReadsInFlight[connectionsBefore]).toBeGreaterThan(1);
    expect(server.maxReadsInFlight[connectionsBefore + 1]).toBe(1);
  });

  it('uses the pinned key across reconnects', async () => {
    server.faults.dropAfterBytes = 500_000;
    const hostKeys = join(work, 'reconnect_hosts');
    const transport = await SshTransport.connect(options({ hostKeys }));

    await transport.download(source, join(work, 'pinned-reconnect.db'));
    await transport.close();

    const pins = (await readFile(hostKeys, 'utf8')).trim().split('\n');
    expect(pins).toHaveLength(1);
    expect(pins[0]).toContain(MACHINE_ID);
  });
});

describe('SshTransport against a silent server', () => {
  it('times out the handshake', async () => {
    // Accepts TCP connections but never sends an SSH banner, like a host that went down.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;

    const error = await rejection(
      SshTransport.connect(
        options({ address: { host: '127.0.0.1', port }, connectTimeoutMs: 300 }),
      ),
    );
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));

    expect(isTransportError(error, 'TRANSPORT_CONNECT_FAILED')).toBe(true);
    expect((error as Error).message).toContain('no SSH handshake within 300 ms');
    expect((error as Error).message).toContain('fly wireguard');
  });
});

describe('SshTransport on a machine without tools', () => {
  let bare: Ssh2TestServer;

  beforeAll(async () => {
    bare = await startSsh2Server({
      machineId: MACHINE_ID,
      authorizedKey: userKey.public,
      binDir: await createMachineBin(work, {
        missing: ['sha256sum'],
        scripts: {
          df: 'echo "Filesystem 1024-blocks Used Available Capacity Mounted on"; echo "/dev/vdb 1024 1023 1 100% /data"',
        },
      }),
    });
  });

  afterAll(async () => {
    await bare?.close();
  });

  function bareOptions(): SshTransportOptions {
    return {
      ...options(),
      address: { host: bare.host, port: bare.port },
      hostKeys: join(work, 'bare_hosts'),
    };
  }

  it('verifies by reading back without sha256sum', async () => {
    const transport = await SshTransport.connect(bareOptions());
    const result = await transport.download(source, join(work, 'read-back.db'));
    await transport.close();

    expect(result.sha256).toBe(digest);
  });

  it('refuses an upload to a full volume', async () => {
    const transport = await SshTransport.connect(bareOptions());
    const target = join(work, 'full.db');
    const error = await rejection(transport.upload(source, target));
    await transport.close();

    expect(isTransportError(error, 'TRANSPORT_DISK_FULL')).toBe(true);
    expect((error as Error).message).toContain('1024 available');
    expect(await exists(target)).toBe(false);
  });
});

describe('SshTransport with a slow hash on the machine', () => {
  let slow: Ssh2TestServer;

  beforeAll(async () => {
    slow = await startSsh2Server({
      machineId: MACHINE_ID,
      authorizedKey: userKey.public,
      binDir: await createMachineBin(work, {
        scripts: { sha256sum: 'sleep 1; exec /usr/bin/sha256sum "$@"' },
      }),
    });
  });

  afterAll(async () => {
    await slow?.close();
  });

  it('keeps the idle timer off while hashing', async () => {
    const transport = await SshTransport.connect({
      ...options(),
      address: { host: slow.host, port: slow.port },
      hostKeys: join(work, 'slow_hosts'),
    });
    const down = await transport.download(source, join(work, 'slow-hash.db'), {
      idleTimeoutMs: 500,
    });
    const up = await transport.upload(source, join(work, 'slow-hash-up.db'), {
      idleTimeoutMs: 500,
    });
    await transport.close();

    expect(down.sha256).toBe(digest);
    expect(up.sha256).toBe(digest);
  });
});
