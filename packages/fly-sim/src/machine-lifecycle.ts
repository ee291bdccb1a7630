import { badRequest, SimApiError } from './api-error.js';
import { newInstanceId, newMachineId, newMachineName } from './ids.js';
import { acquireLease } from './leases.js';
import { parseMachineConfig } from './machine-config.js';
import type { JsonObject, MachineConfig, MachineRecord, VolumeRecord } from './model.js';
import { generateEd25519 } from './ssh/ed25519-keys.js';
import type { SimWorld } from './world.js';

/** Machine states from which `start` launches the machine. */
const STARTABLE = new Set(['created', 'stopped', 'suspended', 'failed']);

/** Machine states that stop acts on; an already stopped machine is left as it is. */
const STOPPABLE = new Set(['starting', 'started', 'replacing', 'restarting']);

/** 412 for an action that the machine's current state does not allow. */
export function invalidState(machine: MachineRecord, action: string): SimApiError {
  return new SimApiError(412, {
    error: `unable to ${action} machine ${machine.id} from its current state '${machine.state}'`,
  });
}

/** 503 for an action on a machine whose host is down. */
function hostUnreachable(machine: MachineRecord, action: string): SimApiError {
  return new SimApiError(503, {
    error: `failed to ${action} machine ${machine.id}: its host is unreachable; retry later or use another machine`,
  });
}

/**
 * Sets a state now, then walks through `later` states, each after its delay. Before each
 * later state the runtime prepares it (e.g. the SSH server listens before `started`). A
 * newer transition cancels the rest of an older one.
 */
export function transition(
  world: SimWorld,
  machine: MachineRecord,
  now: string,
  later: Array<[delayMs: number, state: string, onReach?: () => void]> = [],
): void {
  world.cancel(machine.pending);
  machine.pending = undefined;
  machine.transitionSeq += 1;
  const seq = machine.transitionSeq;
  world.setState(machine, now);

  const step = (index: number): void => {
    const next = later[index];
    if (next === undefined) return;
    const [delayMs, state, onReach] = next;
    machine.pending = world.schedule(delayMs, () => {
      machine.pending = undefined;
      void world.prepare(machine, state).then(
        () => {
          if (machine.transitionSeq !== seq || world.isClosed) return;
          world.setState(machine, state);
          onReach?.();
          step(index + 1);
        },
        (error: unknown) => {
          if (machine.transitionSeq !== seq || world.isClosed) return;
          world.recordEvent(machine, 'launch', 'failed', 'flyd');
          world.setState(machine, 'failed');
          world.runtimeErrors.push(
            `machine ${machine.id} could not reach ${state}: ${(error as Error).message}`,
          );
        },
      );
    });
  };
  step(0);
}

/**
 * Throws the region's capacity error unless the region has a free machine slot. A machine
 * that already uses a slot in the region does not need another one.
 */
export function requireMachineCapacity(
  world: SimWorld,
  region: string,
  volumeId: string | undefined,
): void {
  const record = world.regions.get(region);
  if (record === undefined) throw badRequest(`invalid region "${region}"`);
  if (world.runningMachinesIn(region) < record.machineLimit) return;
  throw world.capacityErrors.errorFor({ kind: 'machine', region, volumeId });
}

function hasMachineCapacity(world: SimWorld, region: string): boolean {
  const record = world.regions.get(region);
  return record !== undefined && world.runningMachinesIn(region) < record.machineLimit;
}

/** Parses a region field: one code or a comma list in priority order. */
function parseRegionList(world: SimWorld, value: unknown): string[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw badRequest('invalid region: expected a string');
  const codes = value.split(',').map((code) => code.trim().toLowerCase());
  for (const code of codes) {
    if (world.regions.get(code) === undefined) {
      throw badRequest(
        `invalid region "${code}": not a known region; list them with GET /v1/platform/regions`,
      );
    }
  }
  return codes;
}

/** Finds the volume a config mounts and checks that this machine may attach it. */
function mountedVolume(
  world: SimWorld,
  appName: string,
  config: MachineConfig,
  machineId: string,
): VolumeRecord | undefined {
  const mount = config.mounts?.[0];
  if (mount === undefined) return undefined;

  const volume = world.volumes.get(mount.volume);
  if (volume === undefined || volume.app !== appName || volume.state === 'destroyed') {
    throw badRequest(`volume ${mount.volume} not found in app ${appName}`);
  }
  const holder =
    volume.attachedMachineId === null ? undefined : world.machines.get(volume.attachedMachineId);
  if (holder !== undefined && holder.id !== machineId && holder.state !== 'destroyed') {
    throw badRequest(`volume ${volume.id} is already attached to machine ${holder.id}`);
  }
  return volume;
}

/** Picks the region for a new machine: its volume's, else the first listed with room. */
function chooseRegion(
  world: SimWorld,
  requested: string[] | undefined,
  volume: VolumeRecord | undefined,
  launch: boolean,
  fallback: string,
): string {
  if (volume !== undefined) {
    if (requested !== undefined && !requested.includes(volume.region)) {
      throw badRequest(
        `volume ${volume.id} is in region ${volume.region}, but the machine was requested in ${requested.join(',')}; a machine runs in its volume's region`,
      );
    }
    return volume.region;
  }
  const candidates = requested ?? [fallback];
  if (!launch) return candidates[0] ?? fallback;
  return candidates.find((code) => hasMachineCapacity(world, code)) ?? candidates[0] ?? fallback;
}

/** Launches a new machine: starting after `firstDelayMs`, then started after the start latency. */
function launch(world: SimWorld, machine: MachineRecord, firstDelayMs: number): void {
  machine.pending = world.schedule(firstDelayMs, () => {
    world.recordEvent(machine, 'start', 'started', 'user');
    transition(world, machine, 'starting', [[world.latencies.startMs, 'started']]);
  });
}

/**
 * Creates a machine from a create request body.
 *
 * @returns The machine and, when `lease_ttl` was sent, the nonce of its new lease.
 * @throws SimApiError 400 for an invalid request, the region's capacity error when a
 *   launch has no room.
 */
export function createMachine(
  world: SimWorld,
  appName: string,
  body: JsonObject,
): { machine: MachineRecord; nonce?: string } {
  const app = world.getApp(appName);
  const config = parseMachineConfig(body.config);
  const id = newMachineId();
  const volume = mountedVolume(world, appName, config, id);
  const willLaunch = body.skip_launch !== true;
  const fallback = app.primaryRegion ?? world.regions.list()[0]?.code ?? 'nrt';
  const region = chooseRegion(
    world,
    parseRegionList(world, body.region),
    volume,
    willLaunch,
    fallback,
  );
  if (willLaunch) requireMachineCapacity(world, region, volume?.id);

  const now = new Date();
  const machine: MachineRecord = {
    id,
    name: typeof body.name === 'string' && body.name !== '' ? body.name : newMachineName(),
    app: appName,
    region,
    state: 'created',
    instanceId: newInstanceId(),
    privateIp: world.allocatePrivateIp(),
    config,
    createdAt: now,
    updatedAt: now,
    events: [],
    versions: [],
    cordoned: body.skip_service_registration === true,
    hostDown: false,
    appRunsWhileHostDown: false,
    hostKey: generateEd25519(),
    visibleAt: now.getTime() + (world.options.notFoundAfterCreateMs ?? 0),
    transitionSeq: 0,
  };
  machine.versions.push({ version: machine.instanceId, config: structuredClone(config) });
  world.machines.set(id, machine);
  if (volume !== undefined) volume.attachedMachineId = id;
  world.recordEvent(machine, 'launch', 'created', 'user');

  let nonce: string | undefined;
  if (typeof body.lease_ttl === 'number' && body.lease_ttl > 0) {
    nonce = acquireLease(machine, body.lease_ttl, 'created with lease_ttl').nonce;
  }

  world.setState(machine, 'created');
  if (willLaunch) launch(world, machine, world.latencies.createMs);
  return { machine, nonce };
}

/**
 * Replaces a machine's config (the full config is required). A started machine, or any
 * machine unless `skip_launch`, reboots into the new version.
 *
 * @throws SimApiError 400 for an invalid request or a region change, 412 when
 *   `current_version` is stale or (with `rejectUpdatesWhileReplacing`) the machine is
 *   replacing, capacity errors when the new version cannot launch.
 */
export function updateMachine(world: SimWorld, machine: MachineRecord, body: JsonObject): void {
  if (machine.state === 'destroyed' || machine.state === 'destroying') {
    throw invalidState(machine, 'update');
  }
  if (machine.hostDown) throw hostUnreachable(machine, 'update');
  if (machine.state === 'replacing' && world.options.rejectUpdatesWhileReplacing === true) {
    throw new SimApiError(412, {
      error: `failed_precondition: machine ${machine.id} is replacing, try again`,
    });
  }

  const config = parseMachineConfig(body.config);
  if (typeof body.region === 'string' && body.region !== '' && body.region !== machine.region) {
    throw badRequest(
      `invalid region "${body.region}": a machine's region cannot change (it is ${machine.region}); create a new machine instead`,
    );
  }
  if (typeof body.current_version === 'string' && body.current_version !== machine.instanceId) {
    throw new SimApiError(412, {
      error: `machine ${machine.id} is at version ${machine.instanceId}, not ${body.current_version}; fetch it again and retry`,
    });
  }
  const oldMount = machine.config.mounts?.[0]?.volume;
  const newMount = config.mounts?.[0]?.volume;
  if (oldMount !== newMount) {
    throw badRequest(
      `invalid config.mounts: a machine's volume cannot change through update (it mounts ${oldMount ?? 'none'}); destroy and create the machine instead`,
    );
  }

  const wasRunning = machine.state === 'started' || machine.state === 'starting';
  const willLaunch = body.skip_launch !== true;
  if (willLaunch && !wasRunning) requireMachineCapacity(world, machine.region, undefined);

  machine.config = config;
  machine.instanceId = newInstanceId();
  machine.versions.unshift({ version: machine.instanceId, config: structuredClone(config) });
  world.recordEvent(machine, 'update', 'replacing', 'user');

  const after = willLaunch ? 'started' : 'stopped';
  transition(world, machine, 'replacing', [[world.latencies.updateMs, after]]);
}

/**
 * Starts a stopped, created or suspended machine.
 *
 * @throws SimApiError 412 from another state, 503 when its host is down, the region's
 *   capacity error when it has no room.
 */
export function startMachine(world: SimWorld, machine: MachineRecord): string {
  if (!STARTABLE.has(machine.state)) throw invalidState(machine, 'start');
  if (machine.hostDown) throw hostUnreachable(machine, 'start');
  requireMachineCapacity(world, machine.region, undefined);

  const previous = machine.state;
  world.recordEvent(machine, 'start', 'started', 'user');
  transition(world, machine, 'starting', [[world.latencies.startMs, 'started']]);
  return previous;
}

/**
 * Stops a running machine; a machine that is already stopped stays as it is.
 *
 * @throws SimApiError 412 when it is destroyed, 503 when its host is down.
 */
export function stopMachine(world: SimWorld, machine: MachineRecord): void {
  if (machine.state === 'stopped' || machine.state === 'created' || machine.state === 'stopping') {
    return;
  }
  if (!STOPPABLE.has(machine.state)) throw invalidState(machine, 'stop');
  if (machine.hostDown) throw hostUnreachable(machine, 'stop');

  world.recordEvent(machine, 'exit', 'stopped', 'user');
  transition(world, machine, 'stopping', [[world.latencies.stopMs, 'stopped']]);
}

/**
 * Restarts a started machine in place (same version).
 *
 * @throws SimApiError 412 when it is not started, 503 when its host is down.
 */
export function restartMachine(world: SimWorld, machine: MachineRecord): void {
  if (machine.state !== 'started') throw invalidState(machine, 'restart');
  if (machine.hostDown) throw hostUnreachable(machine, 'restart');

  world.recordEvent(machine, 'restart', 'started', 'user');
  transition(world, machine, 'stopping', [
    [world.latencies.stopMs, 'starting'],
    [world.latencies.startMs, 'started'],
  ]);
}

/**
 * Suspends a started machine.
 *
 * @throws SimApiError 412 when it is not started, 503 when its host is down.
 */
export function suspendMachine(world: SimWorld, machine: MachineRecord): void {
  if (machine.state !== 'started') throw invalidState(machine, 'suspend');
  if (machine.hostDown) throw hostUnreachable(machine, 'suspend');

  world.recordEvent(machine, 'suspend', 'suspended', 'user');
  transition(world, machine, 'suspending', [[world.latencies.suspendMs, 'suspended']]);
}

/**
 * Destroys a machine and detaches its volume. A running machine needs `force`.
 *
 * @throws SimApiError 412 when it runs and `force` is not set, 503 when its host is down.
 */
export function destroyMachine(world: SimWorld, machine: MachineRecord, force: boolean): void {
  if (machine.state === 'destroyed' || machine.state === 'destroying') return;
  if (!force && STOPPABLE.has(machine.state)) {
    throw new SimApiError(412, {
      error: `unable to destroy machine ${machine.id} from its current state '${machine.state}': stop it first or pass force=true`,
    });
  }
  if (machine.hostDown && !force) throw hostUnreachable(machine, 'destroy');

  world.recordEvent(machine, 'destroy', 'destroyed', 'user');
  transition(world, machine, 'destroying', [
    [
      world.latencies.destroyMs,
      'destroyed',
      () => {
        machine.lease = undefined;
        for (const volume of world.volumes.values()) {
          if (volume.attachedMachineId === machine.id) volume.attachedMachineId = null;
        }
      },
    ],
  ]);
}
