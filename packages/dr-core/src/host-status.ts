import { DrError } from './errors.js';
import type { Machine } from './fly-types.js';

/**
 * Raises a clear error for a machine whose host Fly reports unreachable, before any SSH
 * connection waits for it to time out.
 *
 * @throws DrError `DR_SOURCE_MACHINE` naming the machine and its region.
 */
export function refuseUnreachableHost(machine: Machine, region: string): void {
  if (machine.host_status !== 'unreachable') {
    return;
  }
  throw new DrError(
    'DR_SOURCE_MACHINE',
    `source machine ${machine.id} in ${region} is on a host that Fly reports unreachable (host_status unreachable), so its database cannot be read`,
    `Wait until \`fly machine status ${machine.id}\` shows the host back, then run the command again. If the region is down, fail over from the newest backup instead (failover with --allow-stale-backup).`,
    { machineId: machine.id, region },
  );
}
