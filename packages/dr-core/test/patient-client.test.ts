import { FlyRateLimitError } from '@flydr/fly-client';
import { describe, expect, it } from 'vitest';
import { isDrError } from '../src/errors.js';
import type { FlyClient } from '../src/fly-types.js';
import { silentLogger } from '../src/logger.js';
import { patientClient } from '../src/patient-client.js';

/** Builds the 429 error that the client raises once its own attempts are used up. */
function rateLimited(retryAfterMs?: number): FlyRateLimitError {
  return new FlyRateLimitError('rate limited', {
    method: 'GET',
    path: '/v1/apps/app/machines',
    status: 429,
    retryAfterMs,
  });
}

/**
 * A client whose machines.list fails with `failures` 429s before it returns, and whose
 * machines.update always fails with a 429. It records when each list call came.
 */
function fakeClient(failures: number, retryAfterMs?: number) {
  const calls: number[] = [];
  let updates = 0;
  class Machines {
    readonly #failures = { left: failures };

    async list(): Promise<string[]> {
      calls.push(Date.now());
      if (this.#failures.left > 0) {
        this.#failures.left -= 1;
        throw rateLimited(retryAfterMs);
      }
      return ['m1'];
    }

    async update(): Promise<void> {
      updates += 1;
      throw rateLimited(retryAfterMs);
    }
  }
  const client = { machines: new Machines() } as unknown as FlyClient;
  return { client, calls, updates: () => updates };
}

describe('patientClient', () => {
  it('sends a read again after a 429 storm', async () => {
    const fake = fakeClient(3);
    const client = patientClient(fake.client, silentLogger, { baseDelayMs: 1 });

    const machines = await client.machines.list('app');

    expect(machines).toEqual(['m1']);
    expect(fake.calls).toHaveLength(4);
  });

  it('waits for Retry-After', async () => {
    const fake = fakeClient(1, 150);
    const client = patientClient(fake.client, silentLogger, { baseDelayMs: 1 });

    await client.machines.list('app');
    const [first, second] = fake.calls as [number, number];

    expect(second - first).toBeGreaterThanOrEqual(140);
  });

  it('names the call when the runs are used up', async () => {
    const fake = fakeClient(10);
    const client = patientClient(fake.client, silentLogger, { baseDelayMs: 1, maxRuns: 3 });

    const error = await client.machines.list('app').catch((caught: unknown) => caught);

    expect(isDrError(error, 'DR_RATE_LIMITED')).toBe(true);
    expect((error as Error).message).toContain('machines.list');
    expect(fake.calls).toHaveLength(3);
  });

  it('leaves writes to the client', async () => {
    const fake = fakeClient(0);
    const client = patientClient(fake.client, silentLogger, { baseDelayMs: 1 });

    const error = await client.machines
      .update('app', 'm1', {} as never)
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(FlyRateLimitError);
    expect(fake.updates()).toBe(1);
  });
});
