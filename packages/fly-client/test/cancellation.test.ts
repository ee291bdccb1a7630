import { afterEach, describe, expect, it } from 'vitest';
import { withLease } from '../src/index.js';
import { type Harness, memoryHarness } from './helpers/harness.js';

const APP = 'live-schedule-api';
const ID = '148ed193b95089';
let harness: Harness;

afterEach(async () => {
  await harness?.close();
});

function abortSoon(ms: number): AbortSignal {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('operator cancelled')), ms);
  return controller.signal;
}

describe('cancellation', () => {
  it('rejects a pending request with the abort reason', async () => {
    harness = memoryHarness();
    harness.fly.script('GET', /\/machines\/148ed193b95089$/, {
      status: 200,
      body: {},
      delayMs: 5_000,
    });
    const started = Date.now();
    await expect(harness.client.machines.get(APP, ID, { signal: abortSoon(30) })).rejects.toThrow(
      'operator cancelled',
    );
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('sends nothing when already aborted', async () => {
    harness = memoryHarness();
    const controller = new AbortController();
    controller.abort(new Error('too late'));
    await expect(harness.client.volumes.list(APP, { signal: controller.signal })).rejects.toThrow(
      'too late',
    );
    expect(harness.fly.seen).toHaveLength(0);
  });

  it('stops waiting between retries', async () => {
    harness = memoryHarness({
      retry: { maxAttempts: 5, baseDelayMs: 5_000, maxDelayMs: 5_000, maxElapsedMs: 60_000 },
    });
    harness.fly.script('GET', /\/volumes$/, { status: 503, body: { error: 'unavailable' } });
    const started = Date.now();
    await expect(harness.client.volumes.list(APP, { signal: abortSoon(50) })).rejects.toThrow(
      'operator cancelled',
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(harness.fly.requests('GET', /\/volumes$/)).toHaveLength(1);
  });

  it('stops a wait loop', async () => {
    harness = memoryHarness({ waitMaxSeconds: 1 });
    const timedOut = { status: 408, body: { error: 'deadline_exceeded' }, delayMs: 20 };
    harness.fly.script('GET', /\/wait$/, ...Array.from({ length: 50 }, () => timedOut));
    await expect(
      harness.client.machines.wait(
        APP,
        ID,
        { state: 'started', timeoutMs: 60_000 },
        { signal: abortSoon(100) },
      ),
    ).rejects.toThrow('operator cancelled');
  });

  it('stops the rate limiter wait', async () => {
    harness = memoryHarness({ rateLimit: { perSecond: 0.1, burst: 1 } });
    await harness.client.machines.cordon(APP, ID);
    const started = Date.now();
    await expect(
      harness.client.machines.cordon(APP, ID, { signal: abortSoon(30) }),
    ).rejects.toThrow('operator cancelled');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(harness.fly.requests('POST', /\/cordon$/)).toHaveLength(1);
  });

  it('releases the lease when the callback is cancelled', async () => {
    harness = memoryHarness();
    const signal = abortSoon(30);
    await expect(
      withLease(harness.client, APP, ID, { signal }, async (_lease, context) => {
        await harness.client.machines.get(APP, ID, { signal: context.signal });
        await new Promise((_resolve, reject) =>
          context.signal.addEventListener('abort', () => reject(context.signal.reason)),
        );
      }),
    ).rejects.toThrow('operator cancelled');
    expect(harness.fly.leases.has(ID)).toBe(false);
  });
});
