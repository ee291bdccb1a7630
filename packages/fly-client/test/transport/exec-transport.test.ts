import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createFlyClient } from '../../src/index.js';
import {
  ExecTransport,
  type ExecTransportOptions,
  isTransportError,
} from '../../src/transport/index.js';
import { type ExecEndpoint, startExecEndpoint } from './helpers/exec-endpoint.js';
import { createMachineBin } from './helpers/machine-bin.js';

const MACHINE_ID = '9080e4d1c45318';
const FILE_SIZE = 300 * 1024 + 7;

let endpoint: ExecEndpoint;
let work: string;
let content: Buffer;
let digest: string;
let source: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flydr-exec-'));
  endpoint = await startExecEndpoint({
    machineId: MACHINE_ID,
    binDir: await createMachineBin(work),
  });
  content = randomBytes(FILE_SIZE);
  digest = createHash('sha256').update(content).digest('hex');
  source = join(work, 'app.db');
  await writeFile(source, content);
});

afterAll(async () => {
  await endpoint?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

afterEach(() => {
  endpoint.limits = {};
});

function options(
  overrides: Partial<ExecTransportOptions> = {},
  url = endpoint.url,
): ExecTransportOptions {
  const client = createFlyClient({
    token: 'test-token',
    baseUrl: url,
    rateLimit: false,
    retry: { maxAttempts: 1 },
  });
  return {
    app: 'live-schedule-api',
    machine: { id: MACHINE_ID, state: 'started' },
    machines: client.machines,
    chunkSize: 64 * 1024,
    minChunkSize: 4 * 1024,
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

describe('ExecTransport', () => {
  it('round-trips a file', async () => {
    const transport = await ExecTransport.connect(options());
    const down = await transport.download(source, join(work, 'copy.db'));
    const up = await transport.upload(join(work, 'copy.db'), join(work, 'uploaded.db'));

    expect(down.sha256).toBe(digest);
    expect(up.sha256).toBe(digest);
    expect((await readFile(join(work, 'uploaded.db'))).equals(content)).toBe(true);
    expect(await exists(join(work, 'uploaded.db.flydr-partial'))).toBe(false);
    expect(await exists(join(work, 'copy.db.flydr-partial'))).toBe(false);
  });

  it('shrinks chunks the endpoint rejects', async () => {
    endpoint.limits = { maxRequestBytes: 40 * 1024, maxResponseBytes: 40 * 1024 };
    const warnings: Record<string, unknown>[] = [];
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (_message: string, fields?: Record<string, unknown>) => warnings.push(fields ?? {}),
    };
    const transport = await ExecTransport.connect(options({ logger }));
    const down = await transport.download(source, join(work, 'small-down.db'));
    const up = await transport.upload(source, join(work, 'small-up.db'));

    expect(down.sha256).toBe(digest);
    expect(up.sha256).toBe(digest);
    expect(transport.chunkSize).toBe(16 * 1024);
    expect((await readFile(join(work, 'small-up.db'))).equals(content)).toBe(true);
    expect(warnings[0]).toMatchObject({
      machine_id: MACHINE_ID,
      chunk_size: 32 * 1024,
      previous_chunk_size: 64 * 1024,
    });
  });

  it('waits out a rate limit', async () => {
    const transport = await ExecTransport.connect(options());
    await transport.stat(source);
    endpoint.limits = { rateLimited: 2 };
    const result = await transport.download(source, join(work, 'rate-limited.db'));

    expect(result.sha256).toBe(digest);
    expect(transport.chunkSize).toBe(64 * 1024);
  });

  it('enforces the deadline', async () => {
    const transport = await ExecTransport.connect(options());
    const target = join(work, 'late.db');
    const info = await transport.stat(source);
    endpoint.limits = { delayMs: 200 };
    const error = await rejection(transport.download(source, target, { deadlineMs: 300 }));

    expect(info?.size).toBe(FILE_SIZE);
    expect(isTransportError(error, 'TRANSPORT_TIMEOUT')).toBe(true);
    expect(await exists(target)).toBe(false);
  });

  it('bounds a stalled setup call', async () => {
    const transport = await ExecTransport.connect(options());
    const received = endpoint.commands.length;
    // Each command now waits 3 s before the endpoint runs and records it, far past the 300 ms
    // deadline, so the upload must fail while its first setup call is still pending.
    endpoint.limits = { delayMs: 3000 };
    const error = await rejection(
      transport.upload(source, join(work, 'stalled.db'), { deadlineMs: 300 }),
    );
    // Calls of earlier tests may still land, so only the upload's own partial file counts.
    const sent = endpoint.commands
      .slice(received)
      .filter((argv) => argv.some((arg) => arg.includes('stalled.db')));
    endpoint.limits = {};

    expect(isTransportError(error, 'TRANSPORT_TIMEOUT')).toBe(true);
    expect(sent).toEqual([]);
  });

  it('resumes a partial download', async () => {
    const target = join(work, 'resumed.db');
    await writeFile(`${target}.flydr-partial`, content.subarray(0, 100_000));
    const transport = await ExecTransport.connect(options());
    const result = await transport.download(source, target);

    expect(result.resumedFrom).toBe(98_304);
    expect((await readFile(target)).equals(content)).toBe(true);
  });

  it('restarts a bad partial download', async () => {
    const target = join(work, 'bad-partial.db');
    const prefix = Buffer.from(content.subarray(0, 100_000));
    prefix[10] = (prefix[10] ?? 0) ^ 0xff;
    await writeFile(`${target}.flydr-partial`, prefix);
    const transport = await ExecTransport.connect(options());
    const result = await transport.download(source, target);

    expect(result.resumedFrom).toBeUndefined();
    expect((await readFile(target)).equals(content)).toBe(true);
  });

  it('reads a range', async () => {
    const transport = await ExecTransport.connect(options());
    const range = await transport.readRange(source, 1000, 3000);

    expect(range.equals(content.subarray(1000, 4000))).toBe(true);
  });

  it('stats, renames and removes', async () => {
    await writeFile(join(work, 'move-me.db'), 'abc');
    const transport = await ExecTransport.connect(options());
    const info = await transport.stat(join(work, 'move-me.db'));
    await transport.rename(join(work, 'move-me.db'), join(work, 'moved.db'));
    await transport.remove(join(work, 'moved.db'));
    await transport.remove(join(work, 'moved.db'));

    expect(info?.size).toBe(3);
    expect(await transport.stat(join(work, 'move-me.db'))).toBeUndefined();
    expect(await exists(join(work, 'moved.db'))).toBe(false);
  });

  it('reports a missing remote file', async () => {
    const transport = await ExecTransport.connect(options());
    const error = await rejection(
      transport.download(join(work, 'none.db'), join(work, 'none-copy.db')),
    );

    expect(isTransportError(error, 'TRANSPORT_REMOTE_NOT_FOUND')).toBe(true);
  });

  it('reports a missing local folder', async () => {
    const transport = await ExecTransport.connect(options());
    const sent = endpoint.commands.length;
    const error = await rejection(transport.download(source, join(work, 'missing-dir', 'x.db')));

    expect(isTransportError(error, 'TRANSPORT_LOCAL_DIR_MISSING')).toBe(true);
    expect(endpoint.commands.length).toBe(sent);
  });

  it('refuses a stopped machine', async () => {
    const error = await rejection(
      ExecTransport.connect(options({ machine: { id: MACHINE_ID, state: 'suspended' } })),
    );

    expect(isTransportError(error, 'TRANSPORT_NOT_STARTED')).toBe(true);
  });
});

describe('ExecTransport on an image without tools', () => {
  let bare: ExecEndpoint;

  beforeAll(async () => {
    bare = await startExecEndpoint({
      machineId: MACHINE_ID,
      binDir: await createMachineBin(work, { missing: ['base64', 'sha256sum'] }),
    });
  });

  afterAll(async () => {
    await bare?.close();
  });

  it('names the missing tool', async () => {
    const transport = await ExecTransport.connect(options({}, bare.url));
    const error = await rejection(transport.download(source, join(work, 'no-tools.db')));

    expect(isTransportError(error, 'TRANSPORT_TOOL_MISSING')).toBe(true);
    expect((error as Error).message).toContain('base64');
    expect((error as Error).message).toContain('coreutils');
    expect(await exists(join(work, 'no-tools.db'))).toBe(false);
  });
});
