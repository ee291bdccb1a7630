import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createFlyClient, FlyApiError, FlyRateLimitError } from '../src/index.js';
import {
  backoffDelayMs,
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
  resolveRetryPolicy,
} from '../src/retry.js';
import { machineBody } from './helpers/fixtures.js';
import {
  FAST_RETRY,
  type Harness,
  memoryHarness,
  OAUTH_TOKEN,
  recordingLogger,
} from './helpers/harness.js';

const APP = 'live-schedule-api';
const ID = '148ed193b95089';
const MACHINE_PATH = /\/machines\/148ed193b95089$/;
let harness: Harness;

afterEach(async () => {
  await harness?.close();
});

describe('retry of idempotent calls', () => {
  for (const status of [429, 502, 503, 504]) {
    it(`retries a read on ${status}`, async () => {
      harness = memoryHarness();
      harness.fly.script('GET', MACHINE_PATH, { status, body: { error: 'try later' } });
      const machine = await harness.client.machines.get(APP, ID);
      expect(machine.id).toBe(ID);
      expect(harness.fly.requests('GET', MACHINE_PATH)).toHaveLength(2);
    });
  }

  it('retries an idempotent POST such as cordon', async () => {
    harness = memoryHarness();
    harness.fly.script('POST', /\/cordon$/, { status: 503, body: { error: 'unavailable' } });
    await harness.client.machines.cordon(APP, ID);
    expect(harness.fly.requests('POST', /\/cordon$/)).toHaveLength(2);
  });

  it('does not retry a start on 503', async () => {
    harness = memoryHarness();
    harness.fly.script('POST', /\/start$/, { status: 503, body: { error: 'unavailable' } });
    await expect(harness.client.machines.start(APP, ID)).rejects.toMatchObject({ status: 503 });
    expect(harness.fly.requests('POST', /\/start$/)).toHaveLength(1);
  });

  it('does not retry a 500', async () => {
    harness = memoryHarness();
    harness.fly.script('GET', MACHINE_PATH, { status: 500, body: { error: 'boom' } });
    await expect(harness.client.machines.get(APP, ID)).rejects.toBeInstanceOf(FlyApiError);
    expect(harness.fly.requests('GET', MACHINE_PATH)).toHaveLength(1);
  });

  it('stops after maxAttempts', async () => {
    harness = memoryHarness({
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, maxElapsedMs: 5_000 },
    });
    const busy = { status: 503, body: { error: 'unavailable' } };
    harness.fly.script('GET', MACHINE_PATH, busy, busy, busy, busy);
    await expect(harness.client.machines.get(APP, ID)).rejects.toMatchObject({ status: 503 });
    expect(harness.fly.requests('GET', MACHINE_PATH)).toHaveLength(3);
  });

  it('stops when maxElapsedMs would pass', async () => {
    harness = memoryHarness({
      retry: { maxAttempts: 10, baseDelayMs: 40, maxDelayMs: 40, maxElapsedMs: 50 },
    });
    const busy = { status: 502, body: { error: 'bad gateway' } };
    harness.fly.script('GET', MACHINE_PATH, busy, busy, busy, busy, busy);
    await expect(harness.client.machines.get(APP, ID)).rejects.toMatchObject({ status: 502 });
    expect(harness.fly.requests('GET', MACHINE_PATH).length).toBeLessThanOrEqual(3);
  });

  it('waits the Retry-After delay', async () => {
    const logger = recordingLogger();
    harness = memoryHarness({
      logger,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1_000, maxElapsedMs: 5_000 },
    });
    harness.fly.script('GET', MACHINE_PATH, {
      status: 429,
      body: { error: 'rate limited' },
      headers: { 'retry-after': '0.15' },
    });
    const started = Date.now();
    await harness.client.machines.get(APP, ID);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const retry = logger.lines.find((line) => line.message === 'fly request retry');
    expect(retry?.fields).toMatchObject({ delay_ms: 150, status: 429, attempt: 1 });
  });

  it('uses short backoff without Retry-After', async () => {
    const logger = recordingLogger();
    harness = memoryHarness({
      logger,
      retry: { maxAttempts: 3, baseDelayMs: 4, maxDelayMs: 1_000, maxElapsedMs: 5_000 },
    });
    harness.fly.script('GET', MACHINE_PATH, { status: 429, body: { error: 'rate limited' } });
    await harness.client.machines.get(APP, ID);
    const retry = logger.lines.find((line) => line.message === 'fly request retry');
    expect((retry?.fields as { delay_ms: number }).delay_ms).toBeLessThanOrEqual(4);
  });

  it('gives up when Retry-After exceeds maxDelayMs', async () => {
    harness = memoryHarness({
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 100, maxElapsedMs: 5_000 },
    });
    harness.fly.script('GET', MACHINE_PATH, {
      status: 429,
      body: { error: 'rate limited' },
      headers: { 'retry-after': '30' },
    });
    const error = (await harness.client.machines
      .get(APP, ID)
      .catch((e: unknown) => e)) as FlyRateLimitError;
    expect(error).toBeInstanceOf(FlyRateLimitError);
    expect(error.retryAfterMs).toBe(30_000);
    expect(harness.fly.requests('GET', MACHINE_PATH)).toHaveLength(1);
  });

  it('retries a reset connection of a read', async () => {
    let calls = 0;
    const server = createServer((request, response) => {
      calls += 1;
      if (calls === 1) {
        request.socket.destroy();
        return;
      }
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(machineBody()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = createFlyClient({
      token: OAUTH_TOKEN,
      baseUrl: `http://127.0.0.1:${port}`,
      graphqlUrl: `http://127.0.0.1:${port}/graphql`,
      retry: FAST_RETRY,
    });
    try {
      const machine = await client.machines.get(APP, ID);
      expect(machine.id).toBe(ID);
      expect(calls).toBe(2);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('no retry of calls that create or run', () => {
  it('sends a machine create once on 504', async () => {
    harness = memoryHarness();
    harness.fly.script('POST', /\/machines$/, { status: 504, text: 'gateway timeout' });
    const config = harness.fly.machines.get(ID)!.config as { image: string };
    await expect(
      harness.client.machines.create(APP, { config, region: 'nrt' }),
    ).rejects.toMatchObject({ status: 504 });
    expect(harness.fly.requests('POST', /\/machines$/)).toHaveLength(1);
  });

  it('sends a volume create once on 503', async () => {
    harness = memoryHarness();
    harness.fly.script('POST', /\/volumes$/, { status: 503, body: { error: 'unavailable' } });
    await expect(
      harness.client.volumes.create(APP, { name: 'data', region: 'sin' }),
    ).rejects.toMatchObject({ status: 503 });
    expect(harness.fly.requests('POST', /\/volumes$/)).toHaveLength(1);
  });

  it('sends exec once on 502', async () => {
    harness = memoryHarness();
    harness.fly.script('POST', /\/exec$/, { status: 502, body: { error: 'bad gateway' } });
    await expect(
      harness.client.machines.exec(APP, ID, { command: ['sync'] }),
    ).rejects.toMatchObject({ status: 502 });
    expect(harness.fly.requests('POST', /\/exec$/)).toHaveLength(1);
  });

  it('sends a snapshot create once on 429', async () => {
    harness = memoryHarness();
    harness.fly.script('POST', /\/snapshots$/, { status: 429, body: { error: 'rate limited' } });
    await expect(
      harness.client.volumes.createSnapshot(APP, 'vol_8l524yj0ko347zmp'),
    ).rejects.toBeInstanceOf(FlyRateLimitError);
    expect(harness.fly.requests('POST', /\/snapshots$/)).toHaveLength(1);
  });
});

describe('retry helpers', () => {
  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('5')).toBe(5_000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('grows backoff exponentially with jitter', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1_000 };
    expect(backoffDelayMs(1, policy, () => 0)).toBe(50);
    expect(backoffDelayMs(1, policy, () => 1)).toBe(100);
    expect(backoffDelayMs(3, policy, () => 1)).toBe(400);
    expect(backoffDelayMs(10, policy, () => 1)).toBe(1_000);
  });

  it('rejects a negative retry option', () => {
    expect(() => resolveRetryPolicy({ maxDelayMs: -1 })).toThrow(/retry.maxDelayMs/);
  });
});
describe('request logging', () => {
  it('logs each request with its facts', async () => {
    const logger = recordingLogger();
    harness = memoryHarness({ logger });
    await harness.client.machines.get(APP, ID);
    const line = logger.lines.find((item) => item.message === 'fly request');
    expect(line?.level).toBe('debug');
    expect(line?.fields).toMatchObject({
      endpoint: 'machines.get',
      method: 'GET',
      path: `/v1/apps/${APP}/machines/${ID}`,
      status: 200,
      attempt: 1,
    });
  });
});
