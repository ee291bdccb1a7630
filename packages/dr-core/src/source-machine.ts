import { posix } from 'node:path';
import { DrError } from './errors.js';
import type { FlyClient, Machine, MachineMount } from './fly-types.js';

/** Criteria for picking the machine with the database. */
export interface MachineSelector {
  /** Use this machine; it must mount the database's volume. */
  machineId?: string;
  /** Only consider machines in this region. */
  region?: string;
}

/** Machine chosen for an operation, with the mount that contains the database. */
export interface SelectedMachine {
  machine: Machine;
  mount: MachineMount;
  /** Volume id of the mount, or null when the config does not name one. */
  volumeId: string | null;
}

/**
 * Returns the mount of `machine` that contains `databasePath`, the longest matching
 * mount path winning, or undefined.
 */
export function mountHolding(machine: Machine, databasePath: string): MachineMount | undefined {
  const mounts = machine.config?.mounts ?? [];
  let best: MachineMount | undefined;
  let bestLength = -1;
  for (const mount of mounts) {
    const root = posix.normalize(mount.path).replace(/\/+$/, '');
    if (databasePath.startsWith(`${root}/`) && root.length > bestLength) {
      best = mount;
      bestLength = root.length;
    }
  }
  return best;
}

/**
 * Picks the source machine of an operation: the one started machine that mounts the volume
 * holding `databasePath`, or the one named by id, optionally limited to a region.
 *
 * @throws DrError `DR_SOURCE_MACHINE` when no machine mounts the volume, when the named id
 *   does not exist or does not mount it, or when several started machines qualify.
 * @throws DrError `DR_MACHINE_NOT_STARTED` when the only candidates are not started.
 */
export async function selectSourceMachine(
  client: FlyClient,
  app: string,
  databasePath: string,
  selector: MachineSelector = {},
): Promise<SelectedMachine> {
  const machines = await client.machines.list(
    app,
    selector.region === undefined ? {} : { region: selector.region },
  );
  const where = selector.region === undefined ? '' : ` in region ${selector.region}`;

  if (selector.machineId !== undefined) {
    const machine = findById(machines, selector.machineId, app, where);
    if (machine.state !== 'started') {
      throw notStarted(app, databasePath, [machine], where);
    }
    return selected(machine, databasePath, app);
  }

  const mounting = machines.filter((m) => mountHolding(m, databasePath) !== undefined);
  if (mounting.length === 0) {
    throw new DrError(
      'DR_SOURCE_MACHINE',
      `no machine of app ${app}${where} mounts a volume holding ${databasePath}`,
      machines.length === 0
        ? 'Check the app name and region: the app has no machines there.'
        : `Check the database path against the machines' mounts: ${describeMachines(machines)}.`,
      { databasePath },
    );
  }
  const started = mounting.filter((m) => m.state === 'started');
  if (started.length === 0) {
    throw notStarted(app, databasePath, mounting, where);
  }
  if (started.length > 1) {
    throw new DrError(
      'DR_SOURCE_MACHINE',
      `${started.length} started machines of app ${app}${where} mount ${databasePath}: ${describeMachines(started)}`,
      'Name one with the machine id or a region.',
      { machineIds: started.map((m) => m.id) },
    );
  }
  return selected(started[0] as Machine, databasePath, app);
}

/**
 * Picks the machine a restore writes to: the one named by id, or the one machine (in the
 * region, when given) that mounts the volume holding `databasePath`, in any state, since
 * a restore starts it in maintenance mode. With several, the one started machine wins.
 *
 * @throws DrError `DR_SOURCE_MACHINE` when none or several qualify, or when Fly reports
 *   the chosen machine's host unreachable.
 */
export async function selectTargetMachine(
  client: FlyClient,
  app: string,
  databasePath: string,
  selector: MachineSelector = {},
): Promise<SelectedMachine> {
  const machines = await client.machines.list(
    app,
    selector.region === undefined ? {} : { region: selector.region },
  );
  const where = selector.region === undefined ? '' : ` in region ${selector.region}`;
  if (selector.machineId !== undefined) {
    const machine = findById(machines, selector.machineId, app, where);
    rejectUnreachableTarget(machine, app);
    return selected(machine, databasePath, app);
  }
  const mounting = machines.filter((m) => mountHolding(m, databasePath) !== undefined);
  const started = mounting.filter((m) => m.state === 'started');
  let only: Machine | undefined;
  if (mounting.length === 1) {
    only = mounting[0];
  } else if (started.length === 1) {
    only = started[0];
  }
  if (only !== undefined) {
    rejectUnreachableTarget(only, app);
    return selected(only, databasePath, app);
  }
  throw new DrError(
    'DR_SOURCE_MACHINE',
    mounting.length === 0
      ? `no machine of app ${app}${where} mounts a volume holding ${databasePath}`
      : `${mounting.length} machines of app ${app}${where} mount ${databasePath}: ${describeMachines(mounting)}`,
    mounting.length === 0
      ? 'Check the app, region and database path.'
      : 'Name the target with the machine id or a region.',
    { databasePath },
  );
}

/**
 * Raises a clear error before anything changes when Fly reports the host of the machine
 * that would receive the database unreachable, because every update of it would fail.
 *
 * @throws DrError `DR_SOURCE_MACHINE` naming the machine and its region.
 */
export function rejectUnreachableTarget(machine: Machine, app: string): void {
  if (machine.host_status !== 'unreachable') {
    return;
  }
  const region = machine.region ?? 'its region';
  throw new DrError(
    'DR_SOURCE_MACHINE',
    `target machine ${machine.id} of app ${app} in ${region} is on a host that Fly reports unreachable (host_status unreachable), so its database cannot be written; nothing was changed`,
    `Wait until \`fly machine status ${machine.id}\` shows the host back, then run the command again.`,
    { machineId: machine.id, region },
  );
}

function findById(
  machines: readonly Machine[],
  machineId: string,
  app: string,
  where: string,
): Machine {
  const machine = machines.find((m) => m.id === machineId);
  if (machine === undefined) {
    throw new DrError(
      'DR_SOURCE_MACHINE',
      `machine ${machineId} not found in app ${app}${where}`,
      `Pick one of: ${describeMachines(machines)}.`,
      { machineId },
    );
  }
  return machine;
}

function notStarted(
  app: string,
  databasePath: string,
  machines: readonly Machine[],
  where: string,
): DrError {
  const first = machines[0] as Machine;
  return new DrError(
    'DR_MACHINE_NOT_STARTED',
    `no started machine of app ${app}${where} holds ${databasePath}: ${describeMachines(machines)}`,
    `Start it first (fly machine start ${first.id}); files can only be read from a started machine.`,
    { machineId: first.id, state: first.state },
  );
}

function selected(machine: Machine, databasePath: string, app: string): SelectedMachine {
  const mount = mountHolding(machine, databasePath);
  if (mount === undefined) {
    throw new DrError(
      'DR_SOURCE_MACHINE',
      `machine ${machine.id} of app ${app} mounts no volume holding ${databasePath}`,
      `Its mounts are: ${(machine.config?.mounts ?? []).map((m) => m.path).join(', ') || 'none'}. Pick the machine with the database's volume.`,
      { machineId: machine.id },
    );
  }
  return { machine, mount, volumeId: mount.volume ?? null };
}

/** Formats machines as `id (region, state)` for messages. */
export function describeMachines(machines: readonly Machine[]): string {
  if (machines.length === 0) {
    return 'none';
  }
  return machines
    .map((m) => `${m.id} (${m.region ?? 'unknown region'}, ${m.state ?? 'unknown state'})`)
    .join(', ');
}

/** Formats a machine's image reference as `registry/repository[:tag][@digest]`. */
export function imageRefOf(machine: Machine): string | null {
  const ref = machine.image_ref;
  if (ref === undefined || ref === null || !ref.repository) {
    return machine.config?.image ?? null;
  }
  const base = ref.registry ? `${ref.registry}/${ref.repository}` : ref.repository;
  return `${base}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}
