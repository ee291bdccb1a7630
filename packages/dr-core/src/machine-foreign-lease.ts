import { DrError } from './errors.js';
import type { FlyClient } from './fly-types.js';

/**
 * Checks a machine's Machines API lease before an operation changes the machine. A lease
 * whose description is `ownDescription` belongs to the operation itself and passes.
 *
 * @throws DrError `DR_LOCKED` naming the holder when anyone else holds the lease.
 */
export async function refuseForeignLease(
  client: FlyClient,
  app: string,
  machineId: string,
  ownDescription?: string,
): Promise<void> {
  const lease = await client.machines.getLease(app, machineId);
  if (
    lease === undefined ||
    (ownDescription !== undefined && lease.description === ownDescription)
  ) {
    return;
  }
  throw new DrError(
    'DR_LOCKED',
    `machine ${machineId} of app ${app} is leased by ${lease.owner ?? 'another operator'} (${lease.description ?? 'no description'}) until ${lease.expiresAt}`,
    'Another operation is changing this machine; wait until its lease is released, then run the command again.',
    { machineId, holder: lease.description, owner: lease.owner },
  );
}
