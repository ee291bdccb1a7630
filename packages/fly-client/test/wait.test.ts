import { afterEach, describe, expect, it } from 'vitest';
import { FlyInputError, FlyTimeoutError } from '../src/index.js';
import { type Harness, memoryHarness } from './helpers/harness.js';

const APP = 'live-schedule-api';
const ID = '148ed193b95089';
const WAIT = /\/wait$/;
const TIMED_OUT = {
  status: 408,
  body: { error: 'deadline_exceeded: machine did not reach state started in 60s' },
};
let harness: Harness;

afterEach(async () => {
  await harness?.close();
});

describe('machines.wait', () => {
  it('sends state, instance id and timeout', async () => {
    harness = memoryHarness();
    const result = await harness.client.machines.wait(APP, ID, {
      state: 'stopped',
      instanceId: '01JBX6Q2T3SAWC7N5RW4E1K9ZD',
      timeoutMs: 30_000,
    });
    const query = harness.fly.requests('GET', WAIT)[0]?.query;
    expect(query?.get('state')).toBe('stopped');
    expect(query?.get('version')).toBe('01JBX6Q2T3SAWC7N5RW4E1K9ZD');
    expect(query?.get('instance_id')).toBe('01JBX6Q2T3SAWC7N5RW4E1K9ZD');
    expect(query?.get('timeout')).toBe('30');
    expect(result.ok).toBe(true);
  });

  it('loops past the 60 s server maximum on 408', async () => {
    harness = memoryHarness();
    harness.fly.script('GET', WAIT, TIMED_OUT, TIMED_OUT);
    const result = await harness.client.machines.wait(APP, ID, {
      state: 'started',
      timeoutMs: 150_000,
    });
    const timeouts = harness.fly
      .requests('GET', WAIT)
      .map((request) => request.query.get('timeout'));
    expect(timeouts).toEqual(['60', '60', '60']);
    expect(result.state).toBe('started');
  });

  it('raises FLY_TIMEOUT when the budget runs out', async () => {
    harness = memoryHarness({ waitMaxSeconds: 1 });
    const slow = { ...TIMED_OUT, delayMs: 80 };
    harness.fly.script('GET', WAIT, slow, slow, slow, slow, slow, slow, slow, slow);
    const error = await harness.client.machines
      .wait(APP, ID, { state: 'started', timeoutMs: 200 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlyTimeoutError);
    expect((error as FlyTimeoutError).message).toContain(
      'did not reach state started within 200 ms',
    );
    expect(harness.fly.requests('GET', WAIT).length).toBeGreaterThanOrEqual(2);
  });

  it('sends the server timeout capped by waitMaxSeconds', async () => {
    harness = memoryHarness({ waitMaxSeconds: 5 });
    await harness.client.machines.wait(APP, ID, {
      state: ['started', 'failed'],
      timeoutMs: 120_000,
    });
    const query = harness.fly.requests('GET', WAIT)[0]?.query;
    expect(query?.get('timeout')).toBe('5');
    expect(query?.get('state')).toBe('started,failed');
  });

  it('requires instanceId for stopped', async () => {
    harness = memoryHarness();
    await expect(
      harness.client.machines.wait(APP, ID, { state: 'stopped' }),
    ).rejects.toBeInstanceOf(FlyInputError);
    expect(harness.fly.seen).toHaveLength(0);
  });
});
