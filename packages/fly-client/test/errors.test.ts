import { type AddressInfo, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createFlyClient,
  FlyApiError,
  FlyCapacityError,
  FlyError,
  type FlyErrorCode,
  FlyInvalidStateError,
  FlyLeaseConflictError,
  FlyNetworkError,
  FlyNotFoundError,
  FlyRateLimitError,
  FlyResponseError,
  FlyTimeoutError,
  FlyUnauthorizedError,
  isFlyError,
} from '../src/index.js';
import { type Harness, MACAROON_TOKEN, memoryHarness } from './helpers/harness.js';

const APP = 'live-schedule-api';
const ID = '148ed193b95089';
let harness: Harness;

/** Returns a loopback port that was just free and is now closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

afterEach(async () => {
  await harness?.close();
});

interface ErrorCase {
  name: string;
  status: number;
  body?: unknown;
  text?: string;
  headers?: Record<string, string>;
  type: typeof FlyApiError;
  code: FlyErrorCode;
}

// Bodies in the shapes Fly sends: `error` or `message`, optional `status`, or plain text.
const CASES: ErrorCase[] = [
  {
    name: 'status insufficient_capacity',
    status: 422,
    body: { error: 'no capacity', status: 'insufficient_capacity' },
    type: FlyCapacityError,
    code: 'FLY_CAPACITY',
  },
  {
    name: 'status volume_placement_capacity',
    status: 400,
    body: { error: 'could not place volume', status: 'volume_placement_capacity' },
    type: FlyCapacityError,
    code: 'FLY_CAPACITY',
  },
  {
    name: '412 existing volume',
    status: 412,
    body: {
      error:
        "insufficient resources to create new machine with existing volume 'vol_8l524yj0ko347zmp'",
    },
    type: FlyCapacityError,
    code: 'FLY_CAPACITY',
  },
  {
    name: '409 could not reserve',
    status: 409,
    body: {
      error:
        'aborted: could not reserve resource for machine: insufficient memory available to fulfill request',
    },
    type: FlyCapacityError,
    code: 'FLY_CAPACITY',
  },
  {
    name: '403 capacity message',
    status: 403,
    body: { message: 'region nrt has no capacity for this organization' },
    type: FlyCapacityError,
    code: 'FLY_CAPACITY',
  },
  {
    name: '400 insufficient cpus',
    status: 400,
    body: { error: 'insufficient cpus available on host' },
    type: FlyCapacityError,
    code: 'FLY_CAPACITY',
  },
  {
    name: '429 rate limit',
    status: 429,
    body: { error: 'rate limit exceeded' },
    headers: { 'retry-after': '2' },
    type: FlyRateLimitError,
    code: 'FLY_RATE_LIMITED',
  },
  {
    name: '409 lease held',
    status: 409,
    body: { error: 'machine 148ed193b95089 is currently leased by another client' },
    type: FlyLeaseConflictError,
    code: 'FLY_LEASE_CONFLICT',
  },
  {
    name: '404 not found',
    status: 404,
    body: { error: 'machine not found' },
    type: FlyNotFoundError,
    code: 'FLY_NOT_FOUND',
  },
  {
    name: '412 wrong state',
    status: 412,
    body: { error: "failed_precondition: unable to start machine from current state: 'destroyed'" },
    type: FlyInvalidStateError,
    code: 'FLY_INVALID_STATE',
  },
  {
    name: '400 wrong state',
    status: 400,
    body: { error: 'machine is not in a valid state to be suspended' },
    type: FlyInvalidStateError,
    code: 'FLY_INVALID_STATE',
  },
  {
    name: '401 bad token',
    status: 401,
    text: 'Unauthorized',
    type: FlyUnauthorizedError,
    code: 'FLY_UNAUTHORIZED',
  },
  {
    name: '403 other org',
    status: 403,
    body: { error: 'You are not authorized to access this resource' },
    type: FlyUnauthorizedError,
    code: 'FLY_UNAUTHORIZED',
  },
  {
    name: '408 timeout',
    status: 408,
    body: { error: 'deadline_exceeded: timed out waiting for machine' },
    type: FlyTimeoutError,
    code: 'FLY_TIMEOUT',
  },
  {
    name: '422 name taken',
    status: 422,
    body: { error: 'name has already been taken', status: 'name_taken' },
    type: FlyApiError,
    code: 'FLY_API_ERROR',
  },
  {
    name: '500 plain text',
    status: 500,
    text: 'internal server error',
    type: FlyApiError,
    code: 'FLY_API_ERROR',
  },
];

describe('error classification', () => {
  for (const item of CASES) {
    it(`maps ${item.name}`, async () => {
      harness = memoryHarness();
      harness.fly.script('POST', /\/start$/, {
        status: item.status,
        body: item.body,
        text: item.text,
        headers: item.headers,
      });
      const error = await harness.client.machines.start(APP, ID).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(item.type);
      expect((error as FlyApiError).code).toBe(item.code);
      expect((error as FlyApiError).status).toBe(item.status);
      expect((error as FlyApiError).requestId).toBe('01JBX7A0D5Q2M8Y6W4R1C3E9TZ-nrt');
      expect((error as FlyApiError).method).toBe('POST');
      expect((error as FlyApiError).path).toBe(`/v1/apps/${APP}/machines/${ID}/start`);
      expect((error as FlyApiError).hint).toBeTruthy();
    });
  }

  it('keeps Fly status and the 429 delay', async () => {
    harness = memoryHarness();
    harness.fly.script('POST', /\/start$/, {
      status: 429,
      body: { error: 'slow down' },
      headers: { 'retry-after': '3' },
    });
    const error = (await harness.client.machines
      .start(APP, ID)
      .catch((e: unknown) => e)) as FlyRateLimitError;
    expect(error.retryAfterMs).toBe(3_000);
  });

  it('names the region and the next step for capacity', async () => {
    harness = memoryHarness();
    harness.fly.script('POST', /\/volumes$/, {
      status: 422,
      body: { error: 'no room', status: 'insufficient_capacity' },
    });
    const error = (await harness.client.volumes
      .create(APP, { name: 'data', region: 'sin' })
      .catch((e: unknown) => e)) as FlyCapacityError;
    expect(error.region).toBe('sin');
    expect(error.flyStatus).toBe('insufficient_capacity');
    expect(error.message).toContain('region sin');
    expect(error.hint).toContain('flydr regions');
    expect(error.message).toContain('Try another region; `flydr regions`');
  });

  it('serializes code and request facts to JSON', async () => {
    harness = memoryHarness();
    harness.fly.script('GET', /\/machines\/148ed193b95089$/, {
      status: 404,
      body: { error: 'machine not found' },
    });
    const error = await harness.client.machines.get(APP, ID).catch((e: unknown) => e);
    const json = JSON.parse(JSON.stringify(error)) as Record<string, unknown>;
    expect(json).toMatchObject({
      name: 'FlyNotFoundError',
      code: 'FLY_NOT_FOUND',
      status: 404,
      method: 'GET',
      path: `/v1/apps/${APP}/machines/${ID}`,
      requestId: '01JBX7A0D5Q2M8Y6W4R1C3E9TZ-nrt',
      detail: 'machine not found',
    });
    expect(String(error)).toBe(`FlyNotFoundError: ${(error as Error).message}`);
  });

  it('prefers message over error in the body', async () => {
    harness = memoryHarness();
    harness.fly.script('GET', /\/machines\/148ed193b95089$/, {
      status: 400,
      body: { error: 'bad', message: 'config.guest.cpus must be positive' },
    });
    const error = (await harness.client.machines
      .get(APP, ID)
      .catch((e: unknown) => e)) as FlyApiError;
    expect(error.detail).toBe('config.guest.cpus must be positive');
  });

  it('raises FLY_NETWORK for a closed port', async () => {
    const port = await closedPort();
    const client = createFlyClient({
      token: MACAROON_TOKEN,
      baseUrl: `http://127.0.0.1:${port}`,
      graphqlUrl: `http://127.0.0.1:${port}/graphql`,
      retry: { maxAttempts: 1 },
    });
    const error = await client.machines.get(APP, ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlyNetworkError);
    expect((error as FlyNetworkError).code).toBe('FLY_NETWORK');
  });

  it('raises FLY_TIMEOUT when no answer arrives in time', async () => {
    harness = memoryHarness({ timeoutMs: 50, retry: { maxAttempts: 1 } });
    harness.fly.script('GET', /\/machines\/148ed193b95089$/, {
      status: 200,
      body: {},
      delayMs: 2_000,
    });
    const error = await harness.client.machines.get(APP, ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlyTimeoutError);
    expect((error as FlyTimeoutError).status).toBeUndefined();
  });

  it('raises FLY_BAD_RESPONSE with endpoint, path and expected', async () => {
    harness = memoryHarness();
    const bad = { ...harness.fly.machines.get(ID), config: { image: 'x', guest: { cpus: 'one' } } };
    harness.fly.script('GET', /\/machines\/148ed193b95089$/, { status: 200, body: bad });
    const error = (await harness.client.machines
      .get(APP, ID)
      .catch((e: unknown) => e)) as FlyResponseError;
    expect(error).toBeInstanceOf(FlyResponseError);
    expect(error.endpoint).toBe('machines.get');
    expect(error.jsonPath).toBe('$.config.guest.cpus');
    expect(error.expected).toBe('number');
    expect(error.message).not.toContain('one');
  });

  it('raises FLY_BAD_RESPONSE for a non-JSON 200', async () => {
    harness = memoryHarness();
    harness.fly.script('GET', /\/volumes$/, { status: 200, text: '<html>gateway</html>' });
    const error = (await harness.client.volumes
      .list(APP)
      .catch((e: unknown) => e)) as FlyResponseError;
    expect(error.code).toBe('FLY_BAD_RESPONSE');
    expect(error.expected).toBe('a JSON document');
  });
});

describe('isFlyError', () => {
  it('matches by code', () => {
    const error = new FlyNotFoundError('gone', { method: 'GET', path: '/v1/apps/x' });
    expect(isFlyError(error)).toBe(true);
    expect(isFlyError(error, 'FLY_NOT_FOUND')).toBe(true);
    expect(isFlyError(error, 'FLY_CAPACITY')).toBe(false);
    expect(isFlyError(new Error('plain'))).toBe(false);
  });

  it('recognizes a branded error from another copy', () => {
    const foreign = Object.assign(new Error('copy'), { code: 'FLY_NOT_FOUND' });
    Object.defineProperty(foreign, Symbol.for('@flydr/fly-client.FlyError'), { value: true });
    expect(foreign instanceof FlyError).toBe(true);
  });
});
