import type { Volume } from '@flydr/fly-client';
import { checkCapacity, noCapacityError } from './capacity.js';
import { DrError } from './errors.js';
import type { FailoverContext } from './failover-context.js';
import type { FailoverState } from './failover-types.js';
import type { Machine, MachineConfig } from './fly-types.js';
import type { OperationJournal, OperationRecord } from './journal.js';
import { refuseForeignLease } from './machine-foreign-lease.js';
import { validateRegions } from './regions.js';
import {
  describeMachines,
  imageRefOf,
  mountHolding,
  rejectUnreachableTarget,
  selectSourceMachine,
} from './source-machine.js';
import { isMaintenanceConfig } from './stopped-config.js';

/** Metadata key of a machine's role: primary, standby or former-primary. */
export const ROLE_KEY = 'flydr_role';

/** Metadata key of the failover generation that made a machine the primary. */
export const GENERATION_KEY = 'flydr_generation';

/**
 * Checks everything a failover needs before it changes anything: the app, both regions,
 * the source machine and its volume, leases, the target machine or volume, and capacity in
 * the target region. Returns what it found, for the journal.
 *
 * @throws DrError `DR_UNKNOWN_REGION`, `DR_INVALID_INPUT` (same region), `DR_REFUSED`
 *   (another unfinished operation, no fitting volume), `DR_LOCKED` (a lease held by someone
 *   else), `DR_SPLIT_BRAIN` (a started machine in the target region), `DR_NO_CAPACITY`,
 *   `DR_SOURCE_MACHINE` (a target machine on an unreachable host), and the source
 *   selection errors.
 */
export async function preflight(
  context: FailoverContext,
  state: FailoverState,
): Promise<Partial<FailoverState>> {
  const { client } = context;
  const { app, databasePath, from, to } = state;

  const appInfo = await client.apps.get(app);
  const orgSlug = appInfo.organization?.slug ?? 'personal';
  await validateRegions(client, [from, to], context.run.signal);
  if (from === to) {
    throw new DrError(
      'DR_INVALID_INPUT',
      `the source and target region are both ${from}`,
      'Pass a target region other than the one that serves now.',
      { region: from },
    );
  }
  refuseUnfinished(context.journal, app, context.operationId);

  const source = await selectSourceMachine(client, app, databasePath, {
    region: from,
    ...(state.sourceMachineId === undefined ? {} : { machineId: state.sourceMachineId }),
  });
  const sourceVolume =
    source.volumeId === null ? undefined : await client.volumes.get(app, source.volumeId);
  const sourceVolumeSizeGb = sourceVolume?.size_gb ?? 1;
  // A lease with this description is the operation's own, from a run that was resumed.
  const ownLease = `flydr ${context.operationId}`;
  await refuseForeignLease(client, app, source.machine.id, ownLease);
  if (isMaintenanceConfig(source.machine.config)) {
    throw new DrError(
      'DR_REFUSED',
      `source machine ${source.machine.id} is in maintenance mode (init runs sleep), so its normal config is unknown`,
      'Put the app config back on it (fly deploy, or fly machine update), then run the command again.',
      { machineId: source.machine.id },
    );
  }

  const target = await findTarget(context, state, sourceVolumeSizeGb);
  if (target.machine !== undefined) {
    rejectUnreachableTarget(target.machine, app);
    await refuseForeignLease(client, app, target.machine.id, ownLease);
  }

  const volumeName = source.mount.name ?? sourceVolume?.name ?? 'data';
  const guest = source.machine.config?.guest ?? undefined;
  const mustCreateVolume = target.volume === undefined;
  if (mustCreateVolume && !state.createVolume) {
    throw new DrError(
      'DR_REFUSED',
      `region ${to} has no unattached volume of at least ${sourceVolumeSizeGb} GB for the database, and creating one is turned off`,
      `Run \`flydr standby prepare --region ${to}\` first, or allow creating the volume.`,
      { region: to },
    );
  }
  const [capacity] = await checkCapacity(client, [to], {
    orgSlug,
    guest: guest ?? undefined,
    ...(mustCreateVolume ? { volumeSizeBytes: sourceVolumeSizeGb * 1024 ** 3, volumeName } : {}),
    signal: context.run.signal,
  });
  if (capacity?.canPlace !== true) {
    throw noCapacityError(to, {
      guest: guest ?? undefined,
      ...(mustCreateVolume ? { volumeSizeBytes: sourceVolumeSizeGb * 1024 ** 3 } : {}),
    });
  }

  return {
    orgSlug,
    sourceMachineId: source.machine.id,
    sourceVolumeId: source.volumeId,
    sourceVolumeSizeGb,
    sourceConfig: structuredClone(source.machine.config ?? ({} as MachineConfig)),
    volumeName,
    ...(guest === undefined || guest === null ? {} : { guest }),
    image: pinnedImage(source.machine),
    generation: nextGeneration(context, state.app, source.machine),
    ...(target.volume === undefined ? {} : { targetVolumeId: target.volume.id }),
    ...(target.machine === undefined
      ? { targetMachineName: `flydr-${to}-${context.operationId.slice(-6)}` }
      : {
          targetMachineId: target.machine.id,
          createdMachine: false,
          targetConfig: normalConfig(target.machine.config),
        }),
    createdVolume: false,
  };
}

/**
 * Rejects a new operation while another operation of the app has steps that are neither
 * pending nor rolled back.
 *
 * @throws DrError `DR_REFUSED` naming the unfinished operation and the commands that end it.
 */
export function refuseUnfinished(journal: OperationJournal, app: string, exceptId?: string): void {
  const other = journal
    .unfinished(app)
    .find((operation) => operation.id !== exceptId && !isSettled(operation));
  if (other !== undefined) {
    throw new DrError(
      'DR_REFUSED',
      `operation ${other.id} (${other.kind}) of app ${app} is unfinished`,
      `Finish it with \`flydr resume ${other.id}\` or roll it back with \`flydr abort ${other.id}\` first.`,
      { operationId: other.id },
    );
  }
}

/** Tells whether an operation left nothing to resume or roll back (every step pending or undone). */
export function isSettled<State>(operation: OperationRecord<State>): boolean {
  return operation.steps.every((step) => step.status === 'pending' || step.status === 'undone');
}

interface TargetChoice {
  machine?: Machine;
  volume?: Pick<Volume, 'id' | 'size_gb'>;
}

/**
 * Finds where the database goes in the target region: a stopped machine that mounts it
 * (a prepared standby or the old primary), else an unattached volume large enough.
 */
async function findTarget(
  context: FailoverContext,
  state: FailoverState,
  sourceVolumeSizeGb: number,
): Promise<TargetChoice> {
  const { client } = context;
  const { app, databasePath, to } = state;
  const machines = (await client.machines.list(app, { region: to })).filter(
    (machine) => machine.state !== 'destroyed' && mountHolding(machine, databasePath) !== undefined,
  );

  const stuck = machines.find((machine) => isMaintenanceConfig(machine.config));
  if (stuck !== undefined) {
    throw new DrError(
      'DR_REFUSED',
      `machine ${stuck.id} in ${to} was left in maintenance mode (its init runs sleep), so its normal config is unknown`,
      'Put the app config back on it (fly machine update with the image and config it should run), then run the command again.',
      { machineId: stuck.id },
    );
  }
  const running = machines.filter(
    (machine) => machine.state !== 'stopped' && machine.state !== 'created',
  );
  if (running.length > 0) {
    throw new DrError(
      'DR_SPLIT_BRAIN',
      `region ${to} already has a running machine that mounts ${databasePath}: ${describeMachines(running)}`,
      'Two machines must never write the database at once. Stop it (fly machine stop) if it is a leftover, or check `flydr status`.',
      { machineIds: running.map((machine) => machine.id) },
    );
  }
  const machine =
    machines.find((candidate) => candidate.config?.metadata?.[ROLE_KEY] !== undefined) ??
    machines[0];
  if (machine !== undefined) {
    const volumeId = mountHolding(machine, databasePath)?.volume;
    const volume = volumeId ? await client.volumes.get(app, volumeId) : undefined;
    if (volume === undefined) {
      throw new DrError(
        'DR_REFUSED',
        `machine ${machine.id} in ${to} mounts no volume that flydr can find`,
        'Destroy the machine or give it its volume back, then run the command again.',
        { machineId: machine.id },
      );
    }
    refuseSmallVolume(volume, sourceVolumeSizeGb);
    return { machine, volume };
  }

  const volumes = (await client.volumes.list(app)).filter(
    (volume) =>
      volume.region === to &&
      volume.state !== 'destroyed' &&
      volume.state !== 'pending_destroy' &&
      !volume.attached_machine_id,
  );
  const fitting = volumes.find((volume) => volume.size_gb >= sourceVolumeSizeGb);
  return fitting === undefined ? {} : { volume: fitting };
}

function refuseSmallVolume(volume: Pick<Volume, 'id' | 'size_gb'>, needGb: number): void {
  if (volume.size_gb < needGb) {
    throw new DrError(
      'DR_REFUSED',
      `volume ${volume.id} in the target region has ${volume.size_gb} GB, less than the source's ${needGb} GB`,
      `Extend it with \`fly volumes extend ${volume.id} --size ${needGb}\`, then run the command again.`,
      { volumeId: volume.id },
    );
  }
}

/** Returns the source's image pinned to its digest, so a later deploy cannot change what the target runs. */
function pinnedImage(machine: Machine): string {
  const image = machine.config?.image ?? imageRefOf(machine) ?? '';
  const digest = machine.image_ref?.digest;
  if (image.includes('@') || !digest) {
    return image;
  }
  return `${image}@${digest}`;
}

/** The generation the target will have: one more than the newest recorded or labelled one. */
function nextGeneration(context: FailoverContext, app: string, source: Machine): number {
  const recorded = context.records.current(app)?.generation ?? 0;
  const labelled = Number(source.config?.metadata?.[GENERATION_KEY] ?? 0);
  return Math.max(recorded, Number.isFinite(labelled) ? labelled : 0) + 1;
}

/** Returns a copy of a machine's config (the caller has checked it is not a maintenance config). */
function normalConfig(config: MachineConfig | null | undefined): MachineConfig {
  return structuredClone(config ?? ({} as MachineConfig));
}
