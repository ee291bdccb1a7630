import { withLease } from '@flydr/fly-client';
import type { FlyClient } from './fly-types.js';
import type { OperationJournal } from './journal.js';

/** State key under which an operation keeps the nonces of the leases it holds. */
const NONCES_KEY = 'leaseNonces';

/**
 * Runs `fn` under the Machines API lease of a machine, for a journaled operation. The
 * lease nonce goes into the operation's state while it is held, so that a run resumed after
 * the process was killed can release its own stale lease instead of waiting for it to expire.
 *
 * @throws FlyLeaseConflictError (`FLY_LEASE_CONFLICT`) when another operator holds the
 *   lease; whatever `fn` throws.
 */
export async function withOperationLease<T>(
  client: FlyClient,
  journal: OperationJournal,
  operationId: string,
  app: string,
  machineId: string,
  fn: () => Promise<T>,
): Promise<T> {
  const stale = nonces(journal, operationId)[machineId];
  if (stale !== undefined) {
    // A killed run of this operation left its lease behind; only its nonce can release it.
    await client.machines.releaseLease(app, machineId, stale).catch(() => {});
  }

  return withLease(
    client,
    app,
    machineId,
    { ttlSeconds: 30, description: `flydr ${operationId}` },
    async (lease) => {
      remember(journal, operationId, machineId, lease.nonce);
      try {
        return await fn();
      } finally {
        remember(journal, operationId, machineId, undefined);
      }
    },
  );
}

function nonces(journal: OperationJournal, operationId: string): Record<string, string> {
  const state = journal.get<Record<string, unknown>>(operationId).state;
  const value = state[NONCES_KEY];
  return typeof value === 'object' && value !== null ? (value as Record<string, string>) : {};
}

function remember(
  journal: OperationJournal,
  operationId: string,
  machineId: string,
  nonce: string | undefined,
): void {
  const next = { ...nonces(journal, operationId) };
  if (nonce === undefined) {
    delete next[machineId];
  } else {
    next[machineId] = nonce;
  }
  journal.patchState(operationId, { [NONCES_KEY]: next });
}
