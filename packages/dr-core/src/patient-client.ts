import { isFlyError } from '@flydr/fly-client';
import { DrError } from './errors.js';
import type { FlyClient } from './fly-types.js';
import type { DrLogger } from './logger.js';
import { retryRateLimited, type StepRetryOptions } from './step-retry.js';

// Calls that only read, per resource of the client. Only these are sent again, because the
// client, too, retries a 429 only on calls that are safe to repeat.
const READ_CALLS: Record<string, ReadonlySet<string>> = {
  apps: new Set(['get', 'list']),
  machines: new Set([
    'get',
    'list',
    'wait',
    'getLease',
    'getMetadata',
    'events',
    'versions',
    'processes',
  ]),
  volumes: new Set(['get', 'list', 'listSnapshots']),
  platform: new Set(['regions', 'placements']),
};

/**
 * Wraps a client so that a read for which Fly keeps returning 429 beyond the client's own
 * retries is sent again, pausing for Retry-After (or a doubling backoff), as failover does
 * with its steps. Backup, restore and sync use it. Other calls pass through unchanged.
 *
 * The wrapped reads throw DrError `DR_RATE_LIMITED` naming the call once the runs are used
 * up (5 runs of the client's attempts by default), and any other error as it came.
 */
export function patientClient(
  client: FlyClient,
  logger: DrLogger,
  options: StepRetryOptions = {},
): FlyClient {
  const resources = new Map<string, object>();
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      const reads = typeof property === 'string' ? READ_CALLS[property] : undefined;
      if (reads === undefined || typeof value !== 'object' || value === null) {
        return value;
      }
      const name = property as string;
      let wrapped = resources.get(name);
      if (wrapped === undefined) {
        wrapped = patientResource(name, value, reads, logger, options);
        resources.set(name, wrapped);
      }
      return wrapped;
    },
  });
}

function patientResource(
  resourceName: string,
  resource: object,
  reads: ReadonlySet<string>,
  logger: DrLogger,
  options: StepRetryOptions,
): object {
  return new Proxy(resource, {
    get(target, property) {
      // Methods run on the real resource, whose private fields a proxy cannot reach.
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') {
        return value;
      }
      const method = value as (...args: unknown[]) => Promise<unknown>;
      if (typeof property !== 'string' || !reads.has(property)) {
        return method.bind(target);
      }
      const call = `${resourceName}.${property}`;
      return (...args: unknown[]) =>
        retryRateLimited(call, logger, () => method.apply(target, args), options).catch(
          (error: unknown) => {
            throw rateLimitedError(error, call, options.maxRuns ?? 5);
          },
        );
    },
  });
}

function rateLimitedError(error: unknown, call: string, runs: number): unknown {
  if (!isFlyError(error, 'FLY_RATE_LIMITED')) {
    return error;
  }
  return new DrError(
    'DR_RATE_LIMITED',
    `the Fly Machines API kept answering ${call} with 429 (rate limited) through ${runs} rounds of retries: ${error.message}`,
    'Wait until the rate limit recovers and check that no other tool is calling the Machines API for this organization in a loop, then run the command again.',
    { call, cause: error },
  );
}
