import type { z } from 'zod';
import type { ClientContext } from '../context.js';
import {
  FlyApiError,
  FlyLeaseConflictError,
  FlyNotFoundError,
  FlyResponseError,
} from '../errors.js';
import { type CallOptions, restRequest } from '../http.js';
import { type LeaseData, leaseResponseSchema } from '../schemas/lease.js';
import { checkInteger, checkNonce } from '../validate.js';
import { machinePath } from './paths.js';

/** A machine lease. Mutating calls on a leased machine must send `nonce`. */
export interface Lease {
  nonce: string;
  /** Expiry as Unix time in milliseconds. */
  expiresAt: number;
  /** Holder of the lease, usually an email address. */
  owner?: string | undefined;
  /** Text the holder gave when acquiring, such as `flydr failover to sin`. */
  description?: string | undefined;
  /** Machine `instance_id` the lease was taken on. */
  version?: string | undefined;
}

/** Input of lease acquire and refresh. */
export interface LeaseOptions {
  /** Lease length in seconds, 1 to 3600. */
  ttlSeconds: number;
  /** Text shown to anyone who finds the machine leased. */
  description?: string | undefined;
}

/** Converts `expires_at` (Unix seconds, Unix ms or a timestamp string) to Unix ms. */
function toUnixMs(value: number | string): number {
  if (typeof value === 'number') return value < 1e12 ? value * 1000 : value;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? 0 : parsed;
}

function toLease(data: LeaseData): Lease {
  return {
    nonce: data.nonce,
    expiresAt: toUnixMs(data.expires_at),
    owner: data.owner ?? undefined,
    description: data.description ?? undefined,
    version: data.version ?? undefined,
  };
}

type LeaseResponse = z.output<typeof leaseResponseSchema>;

/**
 * Returns the lease from either response shape, or undefined for a wrapped `data: null`.
 *
 * @throws FlyLeaseConflictError when a wrapped response has a status other than `success`.
 */
function unwrap(response: LeaseResponse, path: string, subject: string): LeaseData | undefined {
  if (!('data' in response)) return response as LeaseData;

  const wrapped = response as {
    status?: string | null;
    message?: string | null;
    data: LeaseData | null;
  };
  if (wrapped.status && wrapped.status !== 'success') {
    throw new FlyLeaseConflictError(
      `lease request on ${subject} returned status ${wrapped.status}` +
        (wrapped.message ? `: ${wrapped.message}` : ''),
      {
        method: 'POST',
        path,
        status: 200,
        flyStatus: wrapped.status,
        detail: wrapped.message ?? undefined,
      },
    );
  }
  return wrapped.data ?? undefined;
}

/** Like unwrap, for calls that must return a lease. */
function requireLease(response: LeaseResponse, path: string, subject: string): Lease {
  const data = unwrap(response, path, subject);
  if (data) return toLease(data);
  throw new FlyResponseError({
    endpoint: 'machines lease',
    method: 'POST',
    path,
    status: 200,
    jsonPath: '$.data',
    expected: 'a lease object',
  });
}

function checkTtl(ttlSeconds: unknown): number {
  return checkInteger(
    ttlSeconds,
    'ttlSeconds',
    1,
    3600,
    'Use a short lease, such as 30 seconds, and refresh it.',
  );
}

/**
 * Acquires a lease. Sends `POST .../machines/{id}/lease` with `{ ttl, description }` and no
 * nonce. Not retried, because a lost response would leave a lease only its holder can release.
 *
 * @throws FlyLeaseConflictError when another holder has the lease; the message names the
 *   holder's description and owner (read with a follow-up GET).
 */
export async function acquireLease(
  context: ClientContext,
  app: string,
  machineId: string,
  lease: LeaseOptions,
  options: CallOptions,
): Promise<Lease> {
  const ttl = checkTtl(lease?.ttlSeconds);
  const path = `${machinePath(app, machineId)}/lease`;
  const subject = `machine ${machineId} of app ${app}`;

  try {
    const response = await restRequest(context, {
      endpoint: 'machines.acquireLease',
      method: 'POST',
      path,
      body: { ttl, description: lease.description },
      schema: leaseResponseSchema,
      nonce: null,
      idempotent: false,
      app,
      machineId,
      rate: { key: `lease:${app}/${machineId}`, class: 'action' },
      signal: options.signal,
      subject,
    });
    return requireLease(response, path, subject);
  } catch (error) {
    if (!(error instanceof FlyLeaseConflictError) || error.status === 200) throw error;
    throw await describeHolder(context, app, machineId, error, options);
  }
}

/** Reads the current lease to name its holder in the conflict error. */
async function describeHolder(
  context: ClientContext,
  app: string,
  machineId: string,
  conflict: FlyLeaseConflictError,
  options: CallOptions,
): Promise<FlyLeaseConflictError> {
  const holder = await getLease(context, app, machineId, options).catch((error: unknown) => {
    context.logger.debug('fly lease holder lookup failed', { app, machine_id: machineId, error });
    return undefined;
  });
  const description = holder?.description ?? undefined;
  const by = description ? ` by "${description}"` : ' by another operation';
  const owner = holder?.owner ? ` (owner ${holder.owner})` : '';
  const until = holder ? ` until ${new Date(holder.expiresAt).toISOString()}` : '';

  return new FlyLeaseConflictError(
    `machine ${machineId} of app ${app} is leased${by}${owner}${until}`,
    {
      status: conflict.status,
      flyStatus: conflict.flyStatus,
      requestId: conflict.requestId,
      method: conflict.method,
      path: conflict.path,
      detail: conflict.detail,
      holderDescription: description,
      holderOwner: holder?.owner,
      expiresAt: holder?.expiresAt,
      hint: 'Wait for that operation to finish or its lease to expire, then retry.',
      cause: conflict,
    },
  );
}

/**
 * Extends a lease this caller holds. Sends `POST .../lease` with `{ ttl }` and the nonce
 * header; retried like a read, because refreshing twice has the same effect.
 *
 * @throws FlyLeaseConflictError when the nonce is no longer the current one.
 */
export async function refreshLease(
  context: ClientContext,
  app: string,
  machineId: string,
  nonce: string,
  lease: Pick<LeaseOptions, 'ttlSeconds'>,
  options: CallOptions,
): Promise<Lease> {
  checkNonce(nonce);
  const ttl = checkTtl(lease?.ttlSeconds);
  const path = `${machinePath(app, machineId)}/lease`;
  const subject = `machine ${machineId} of app ${app}`;
  const response = await restRequest(context, {
    endpoint: 'machines.refreshLease',
    method: 'POST',
    path,
    body: { ttl },
    schema: leaseResponseSchema,
    nonce,
    idempotent: true,
    app,
    machineId,
    rate: { key: `lease:${app}/${machineId}`, class: 'action' },
    signal: options.signal,
    subject,
  });
  return requireLease(response, path, subject);
}

/**
 * Releases a lease. Sends `DELETE .../lease` with the nonce header. A lease that is already
 * gone (404) counts as released.
 *
 * @throws FlyLeaseConflictError when another holder has the lease now; other FlyApiError
 *   classes from the response.
 */
export async function releaseLease(
  context: ClientContext,
  app: string,
  machineId: string,
  nonce: string,
  options: CallOptions,
): Promise<void> {
  checkNonce(nonce);
  try {
    await restRequest(context, {
      endpoint: 'machines.releaseLease',
      method: 'DELETE',
      path: `${machinePath(app, machineId)}/lease`,
      nonce,
      idempotent: true,
      app,
      machineId,
      rate: { key: `lease:${app}/${machineId}`, class: 'action' },
      signal: options.signal,
      subject: `lease on machine ${machineId} of app ${app}`,
      notFoundIsValid: true,
    });
  } catch (error) {
    if (!(error instanceof FlyNotFoundError)) throw error;
    context.logger.debug('fly lease already gone at release', { app, machine_id: machineId });
  }
}

/**
 * Reads the current lease. Sends `GET .../lease`; returns undefined when the machine has none.
 *
 * @throws FlyApiError classes other than not-found from the response.
 */
export async function getLease(
  context: ClientContext,
  app: string,
  machineId: string,
  options: CallOptions,
): Promise<Lease | undefined> {
  const path = `${machinePath(app, machineId)}/lease`;
  const subject = `lease on machine ${machineId} of app ${app}`;
  try {
    const response = await restRequest(context, {
      endpoint: 'machines.getLease',
      method: 'GET',
      path,
      schema: leaseResponseSchema,
      idempotent: true,
      app,
      machineId,
      rate: { key: `lease.get:${app}/${machineId}`, class: 'action' },
      signal: options.signal,
      subject,
      notFoundIsValid: true,
    });
    const data = unwrap(response, path, subject);
    return data ? toLease(data) : undefined;
  } catch (error) {
    if (error instanceof FlyNotFoundError) return undefined;
    if (error instanceof FlyApiError && error.status === 200) return undefined;
    throw error;
  }
}
