import { afterEach, describe, expect, it } from 'vitest';
import { RateLimiter } from '../src/rate-limiter.js';
import { type Harness, memoryHarness } from './helpers/harness.js';

let harness: Harness;

afterEach(async () => {
  await harness?.close();
});

describe('RateLimiter', () => {
  it('allows a burst of 3 per action, then 1 per second', () => {
    let now = 0;
    const limiter = new RateLimiter({ queueMarginMs: 0 }, () => now);
    const waits = [1, 2, 3, 4, 5].map(() => limiter.reserve('stop:app/m1', 'action'));
    expect(waits).toEqual([0, 0, 0, 1_000, 2_000]);
    now = 5_000;
    expect(limiter.reserve('stop:app/m1', 'action')).toBe(0);
  });

  it('allows a burst of 10 for get machine, then 5 per second', () => {
    const limiter = new RateLimiter({ queueMarginMs: 0 }, () => 0);
    const waits = Array.from({ length: 12 }, () => limiter.reserve('get:app/m1', 'getMachine'));
    expect(waits.slice(0, 10).every((wait) => wait === 0)).toBe(true);
    expect(waits.slice(10)).toEqual([200, 400]);
  });

  it('adds the queue margin to queued requests only', () => {
    const limiter = new RateLimiter({}, () => 0);
    const waits = [1, 2, 3, 4, 5].map(() => limiter.reserve('stop:app/m1', 'action'));
    expect(waits).toEqual([0, 0, 0, 1_250, 2_250]);
  });

  it('rejects a negative queue margin', () => {
    expect(() => new RateLimiter({ queueMarginMs: -1 })).toThrow(/rateLimit.queueMarginMs/);
  });

  it('keeps machines and actions apart', () => {
    const limiter = new RateLimiter({}, () => 0);
    for (let i = 0; i < 3; i++) limiter.reserve('stop:app/m1', 'action');
    expect(limiter.reserve('stop:app/m2', 'action')).toBe(0);
    expect(limiter.reserve('start:app/m1', 'action')).toBe(0);
  });

  it('rejects a zero rate', () => {
    expect(() => new RateLimiter({ perSecond: 0 })).toThrow(/rateLimit.perSecond/);
  });
});

describe('client rate limiting', () => {
  it('spaces a burst of starts on one machine', async () => {
    harness = memoryHarness({ rateLimit: { perSecond: 20, burst: 3 } });
    const started = Date.now();
    for (let i = 0; i < 5; i++)
      await harness.client.machines.cordon('live-schedule-api', '148ed193b95089');
    // Burst of 3, then two tokens at 20/s: at least 2 x 50 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
  });

  it('limits by default to a burst of 3 actions', async () => {
    harness = memoryHarness({ rateLimit: undefined });
    for (let i = 0; i < 3; i++)
      await harness.client.machines.cordon('live-schedule-api', '148ed193b95089');
    const fourth = harness.client.machines.cordon('live-schedule-api', '148ed193b95089', {
      signal: AbortSignal.timeout(100),
    });
    await expect(fourth).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(harness.fly.requests('POST', /\/cordon$/)).toHaveLength(3);
  });

  it('does not limit with rateLimit false', async () => {
    harness = memoryHarness({ rateLimit: false });
    const started = Date.now();
    // With Fly's limits these ten calls would take at least 7 s (burst 3, then 1 per second).
    for (let i = 0; i < 10; i++) {
      await harness.client.machines.cordon('live-schedule-api', '148ed193b95089');
    }
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
