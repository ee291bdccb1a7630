import { badRequest, notFound, SimApiError } from './api-error.js';
import { newNonce } from './ids.js';
import type { LeaseRecord, MachineRecord } from './model.js';

/** Request header that carries a lease nonce. */
export const LEASE_NONCE_HEADER = 'fly-machine-lease-nonce';

/** Owner recorded on leases, as Fly records the token's user. */
const LEASE_OWNER = 'sim@flydr.invalid';

/** Returns the machine's lease while it has not expired; drops an expired one. */
export function currentLease(machine: MachineRecord): LeaseRecord | undefined {
  if (machine.lease !== undefined && machine.lease.expiresAt <= Date.now()) {
    machine.lease = undefined;
  }
  return machine.lease;
}

function leaseConflict(machine: MachineRecord, lease: LeaseRecord, action: string): SimApiError {
  const expires = new Date(lease.expiresAt).toISOString();
  return new SimApiError(409, {
    error: `machine ${machine.id} is leased (lease "${lease.description}" held by ${lease.owner} until ${expires}); cannot ${action} without its nonce in the ${LEASE_NONCE_HEADER} header`,
  });
}

/**
 * Takes a new lease on a machine.
 *
 * @throws SimApiError 400 for a TTL that is not a positive number, 409 when another
 *   lease is held.
 */
export function acquireLease(
  machine: MachineRecord,
  ttlSeconds: number,
  description: string,
): LeaseRecord {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw badRequest(`invalid ttl ${ttlSeconds}: expected a positive number of seconds`);
  }
  const held = currentLease(machine);
  if (held !== undefined) throw leaseConflict(machine, held, 'acquire a lease');

  machine.lease = {
    nonce: newNonce(),
    expiresAt: Date.now() + ttlSeconds * 1000,
    owner: LEASE_OWNER,
    description,
    version: machine.instanceId,
  };
  return machine.lease;
}

/**
 * Extends the held lease when `nonce` matches it.
 *
 * @throws SimApiError 409 when the nonce is not the held lease's, 404 when none is held.
 */
export function refreshLease(
  machine: MachineRecord,
  nonce: string,
  ttlSeconds: number,
): LeaseRecord {
  const held = currentLease(machine);
  if (held === undefined) throw notFound(`machine ${machine.id} has no lease to refresh`);
  if (held.nonce !== nonce) throw leaseConflict(machine, held, 'refresh the lease');
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw badRequest(`invalid ttl ${ttlSeconds}: expected a positive number of seconds`);
  }
  held.expiresAt = Date.now() + ttlSeconds * 1000;
  return held;
}

/**
 * Releases the held lease.
 *
 * @throws SimApiError 400 without a nonce, 404 when no lease is held, 409 when the nonce
 *   is not the held lease's.
 */
export function releaseLease(machine: MachineRecord, nonce: string | null): void {
  if (nonce === null || nonce === '') {
    throw badRequest(`releasing a lease needs its nonce in the ${LEASE_NONCE_HEADER} header`);
  }
  const held = currentLease(machine);
  if (held === undefined) throw notFound(`lease not found on machine ${machine.id}`);
  if (held.nonce !== nonce) throw leaseConflict(machine, held, 'release the lease');
  machine.lease = undefined;
}

/**
 * Enforces the lease on a mutation: while a lease is held, only requests that carry its
 * nonce may change the machine.
 *
 * @throws SimApiError 409 when a lease is held and the nonce is missing or different.
 */
export function requireLeaseNonce(
  machine: MachineRecord,
  nonce: string | null,
  action: string,
): void {
  const held = currentLease(machine);
  if (held !== undefined && held.nonce !== nonce) throw leaseConflict(machine, held, action);
}

/** The lease as Fly's API returns it: wrapped in `{ status, data }`. */
export function leaseJson(lease: LeaseRecord): Record<string, unknown> {
  return {
    status: 'success',
    data: {
      nonce: lease.nonce,
      expires_at: Math.floor(lease.expiresAt / 1000),
      owner: lease.owner,
      description: lease.description,
      version: lease.version,
    },
  };
}
