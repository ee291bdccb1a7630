import { isFlyError } from '@flydr/fly-client';
import type { BackupRecord, Catalog } from './catalog.js';
import { checkDivergence } from './divergence-check.js';
import { DrError, isDrError } from './errors.js';
import type { DrEventListener } from './events.js';
import { ROLE_KEY } from './failover-preflight.js';
import type { FailoverRunOptions } from './failover-types.js';
import type { FlyClient, Machine, MachineConfig, MachineTransportFactory } from './fly-types.js';
import { refuseUnreachableHost } from './host-status.js';
import type { OperationJournal } from './journal.js';
import type { DrLogger } from './logger.js';
import { withOperationLease } from './machine-lease.js';
import { applyConfig } from './maintenance-mode.js';
import type { OperationStep } from './operation-runner.js';
import type { PrimaryRecords } from './primary-record.js';
import { validateRegions } from './regions.js';
import { backupFromMachine } from './remote-backup.js';
import { restoreOntoMachine } from './remote-restore.js';
import {
  mountHolding,
  type SelectedMachine,
  selectSourceMachine,
  selectTargetMachine,
} from './source-machine.js';
import { applyConfigStopped, isMaintenanceConfig } from './stopped-config.js';
import type { CheckKind } from './verify.js';

/** The journaled steps of a sync, in order. */
export const SYNC_STEPS = ['preflight', 'snapshot', 'restore', 'record'] as const;

/** Parameters of a sync, stored in its journal so `resume` needs nothing else. */
export interface SyncParams {
  app: string;
  databasePath: string;
  /** Region whose started machine's database is copied. */
  from: string;
  /** Region whose machine receives it. */
  to: string;
  /** Overwrite the active primary, or a database that changed since flydr recorded it. */
  force: boolean;
  check: CheckKind;
  /** Start of the first run, in Unix milliseconds. */
  startedAtMs: number;
}

/** State of a sync: its parameters plus what each finished step recorded. */
export interface SyncState extends SyncParams {
  sourceMachineId?: string;
  targetMachineId?: string;
  targetVolumeId?: string | null;
  /** State the target ends in: the one it had before the sync. */
  targetFinish?: 'started' | 'stopped';
  /** The target's config before the sync, which the restore puts back. */
  targetConfig?: MachineConfig;
  backupId?: number;
  /** Verified copy of what the target held before; absent when it held nothing. */
  preRestoreBackupId?: number;
  /** Set when the restore starts moving files on the target's volume, cleared by its rollback. */
  swapStarted?: boolean;
  divergenceReportPath?: string;
}

/** Shared inputs of a sync's steps. */
export interface SyncContext {
  app: string;
  databasePath: string;
  client: FlyClient;
  transportFactory: MachineTransportFactory;
  catalog: Catalog;
  journal: OperationJournal;
  records: PrimaryRecords;
  logger: DrLogger;
  emit: DrEventListener;
  now: () => Date;
}

/** A sync context with its operation id and run options. */
export interface SyncRun extends SyncContext {
  operationId: string;
  run: FailoverRunOptions;
}

/** Builds the journaled steps of a sync, each with its undo. */
export function syncSteps(context: SyncRun): OperationStep<SyncState>[] {
  return [
    { name: 'preflight', run: (state) => preflight(context, state) },
    { name: 'snapshot', run: (state) => snapshotSource(context, state) },
    {
      name: 'restore',
      run: (state) => restoreTarget(context, state),
      undo: (state) => undoRestore(context, state),
    },
    { name: 'record', run: (state) => recordSync(context, state) },
  ];
}

/**
 * Checks everything before anything changes: both regions, the target machine (not the
 * active primary unless forced, not left in maintenance mode, not leased by someone else)
 * and the source machine (started, on a reachable host).
 *
 * @throws DrError `DR_UNKNOWN_REGION`, `DR_INVALID_INPUT`, `DR_REFUSED`, `DR_LOCKED`,
 *   `DR_SOURCE_MACHINE`, `DR_MACHINE_NOT_STARTED`.
 */
async function preflight(context: SyncRun, state: SyncState): Promise<Partial<SyncState>> {
  const { client, app, databasePath } = context;
  await validateRegions(client, [state.from, state.to], context.run.signal);
  if (state.from === state.to) {
    throw new DrError(
      'DR_INVALID_INPUT',
      `sync from ${state.from} to itself`,
      'Pass two different regions.',
      { region: state.from },
    );
  }

  const target = await selectTargetMachine(client, app, databasePath, { region: state.to });
  if (isMaintenanceConfig(target.machine.config)) {
    throw new DrError(
      'DR_REFUSED',
      `machine ${target.machine.id} in ${state.to} was left in maintenance mode (its init runs sleep), so its normal config is unknown`,
      'Put the app config back on it (fly machine update with the image and config it should run), then sync again.',
      { machineId: target.machine.id },
    );
  }
  refuseActivePrimary(context, target.machine, state);
  await refuseForeignLease(context, target.machine.id);

  const source = await selectSourceMachine(client, app, databasePath, { region: state.from });
  refuseUnreachableHost(source.machine, state.from);
  return {
    sourceMachineId: source.machine.id,
    targetMachineId: target.machine.id,
    targetVolumeId: target.volumeId,
    targetFinish: target.machine.state === 'started' ? 'started' : 'stopped',
    targetConfig: structuredClone(target.machine.config ?? ({} as MachineConfig)),
  };
}

/** Takes a verified snapshot of the source machine's database into the catalog. */
async function snapshotSource(context: SyncRun, state: SyncState): Promise<Partial<SyncState>> {
  const source = await selectedMachine(context, state.sourceMachineId as string);
  refuseUnreachableHost(source.machine, state.from);
  const transport = await context.transportFactory(source.machine);
  try {
    const backup = await backupFromMachine({ ...context, operation: 'sync' }, source, transport, {
      reason: 'sync',
      check: state.check,
    });
    return { backupId: backup.id };
  } finally {
    await transport.close().catch(() => {});
  }
}

/**
 * Restores the snapshot onto the target in maintenance mode, which keeps a verified copy
 * of what it replaces and rolls itself back when it fails. Before the upload, the target's
 * current database goes through the divergence check.
 *
 * @throws DrError `DR_DIVERGED` (unless forced), `DR_LOCKED`, and the restore's errors.
 */
async function restoreTarget(context: SyncRun, state: SyncState): Promise<Partial<SyncState>> {
  const { app, journal, operationId } = context;
  const backup = journaledBackup(context, state.backupId);
  const target = await selectedMachine(context, state.targetMachineId as string);
  let divergenceReportPath: string | undefined;
  const emit: DrEventListener = (event) => {
    if (event.type === 'step-start' && event.operation === 'restore' && event.step === 'swap') {
      journal.patchState(operationId, { swapStarted: true });
    }
    context.emit(event);
  };

  try {
    const report = await withOperationLease(
      context.client,
      journal,
      operationId,
      app,
      target.machine.id,
      () =>
        restoreOntoMachine({ ...context, emit }, backup, target, {
          finish: state.targetFinish ?? 'stopped',
          check: state.check,
          ...(state.targetConfig === undefined ? {} : { normalConfig: state.targetConfig }),
          ...restoreRunOptions(context),
          beforeUpload: async (current) => {
            if (current !== undefined) {
              journal.patchState(operationId, { preRestoreBackupId: current.id });
            }
            const result = await checkDivergence({
              app,
              catalog: context.catalog,
              records: context.records,
              logger: context.logger,
              targetMachineId: target.machine.id,
              current,
              incoming: backup,
              force: state.force,
              now: context.now(),
            });
            divergenceReportPath = result.reportPath;
          },
        }),
    );
    return {
      ...(report.preRestoreBackup === undefined
        ? {}
        : { preRestoreBackupId: report.preRestoreBackup.id }),
      ...(divergenceReportPath === undefined ? {} : { divergenceReportPath }),
    };
  } catch (error) {
    if (!isDrError(error, 'DR_RESTORE_FAILED')) {
      // The restore rolled itself back: the old files are in place again.
      journal.patchState(operationId, { swapStarted: false });
    }
    throw lockedError(error, app, target.machine.id);
  }
}

/**
 * Undoes a restore that a killed process left unfinished: a target still in maintenance
 * mode gets its config back, and when files had started to move on its volume, the
 * verified copy of its old database is restored onto it.
 */
async function undoRestore(context: SyncRun, state: SyncState): Promise<void> {
  const targetId = state.targetMachineId;
  if (targetId === undefined) {
    return;
  }
  const { client, app } = context;
  const machine = await client.machines.get(app, targetId);
  const previous =
    state.preRestoreBackupId === undefined
      ? undefined
      : context.catalog.getBackup(state.preRestoreBackupId);

  if (state.swapStarted === true && previous !== undefined) {
    context.logger.warn('putting the verified copy of the old database back on the target', {
      app,
      machine_id: targetId,
      backup_id: previous.id,
    });
    const target = selectedFrom(machine, state.databasePath);
    await withOperationLease(client, context.journal, context.operationId, app, targetId, () =>
      restoreOntoMachine(context, previous, target, {
        finish: state.targetFinish ?? 'stopped',
        check: state.check,
        ...(state.targetConfig === undefined ? {} : { normalConfig: state.targetConfig }),
        ...restoreRunOptions(context),
      }),
    ).catch((error: unknown) => {
      throw lockedError(error, app, targetId);
    });
    context.journal.patchState(context.operationId, { swapStarted: false });
    return;
  }
  if (state.swapStarted === true) {
    // NOTE: the target held no database before, so there is no copy to put back; the
    // synced database stays on it.
    context.logger.warn('the target held no database before the sync; leaving the new one', {
      app,
      machine_id: targetId,
    });
  }
  const config = state.targetConfig;
  if (isMaintenanceConfig(machine.config) && config !== undefined) {
    const wait = waitOptions(context);
    await withOperationLease(
      client,
      context.journal,
      context.operationId,
      app,
      targetId,
      async () => {
        if (state.targetFinish === 'started') {
          await applyConfig(client, app, targetId, config, wait);
        } else {
          await applyConfigStopped(client, app, targetId, config, wait);
        }
      },
    );
  }
}

/** Records the synced database as the target's mark, for later divergence checks. */
async function recordSync(context: SyncRun, state: SyncState): Promise<Partial<SyncState>> {
  const backup = journaledBackup(context, state.backupId);
  context.records.setMark({
    app: context.app,
    machineId: state.targetMachineId as string,
    volumeId: state.targetVolumeId ?? null,
    sha256: backup.sha256,
    backupId: backup.id,
    reason: 'synced',
    operationId: context.operationId,
    recordedAt: context.now().toISOString(),
  });
  return {};
}

function refuseActivePrimary(context: SyncRun, target: Machine, state: SyncState): void {
  // Without a record, a machine labelled primary, or one running the app, is the live writer.
  const recorded = context.records.current(context.app);
  const isPrimary =
    recorded !== undefined
      ? recorded.machineId === target.id
      : target.config?.metadata?.[ROLE_KEY] === 'primary' ||
        (target.state === 'started' && !isMaintenanceConfig(target.config));
  if (isPrimary && !state.force) {
    throw new DrError(
      'DR_REFUSED',
      `machine ${target.id} in ${state.to} is the active primary of app ${context.app}; a sync from ${state.from} would overwrite its newer writes`,
      `Sync the other way (from ${state.to} to ${state.from}), or pass --force (\`force: true\`) to overwrite the primary. Its database is kept as a verified backup.`,
      { machineId: target.id },
    );
  }
}

/** @throws DrError `DR_LOCKED` when someone else holds the machine's lease. */
async function refuseForeignLease(context: SyncRun, machineId: string): Promise<void> {
  const lease = await context.client.machines.getLease(context.app, machineId);
  if (lease === undefined) {
    return;
  }
  throw new DrError(
    'DR_LOCKED',
    `machine ${machineId} of app ${context.app} is leased by ${lease.owner ?? 'another operator'} (${lease.description ?? 'no description'}) until ${lease.expiresAt}`,
    'Another operation is changing this machine; wait until its lease is released, then run the command again.',
    { machineId, holder: lease.description, owner: lease.owner },
  );
}

/** Turns the client's lease conflict into `DR_LOCKED`, as failover raises it. */
function lockedError(error: unknown, app: string, machineId: string): unknown {
  if (!isFlyError(error, 'FLY_LEASE_CONFLICT')) {
    return error;
  }
  return new DrError(
    'DR_LOCKED',
    `machine ${machineId} of app ${app} is leased by another operator: ${error.message}`,
    'Another operation is changing this machine; wait until its lease is released, then run the command again.',
    { machineId, cause: error },
  );
}

async function selectedMachine(context: SyncRun, machineId: string): Promise<SelectedMachine> {
  const machine = await context.client.machines.get(context.app, machineId);
  return selectedFrom(machine, context.databasePath);
}

function selectedFrom(machine: Machine, databasePath: string): SelectedMachine {
  const mount = mountHolding(machine, databasePath);
  return { machine, mount: mount ?? { path: databasePath }, volumeId: mount?.volume ?? null };
}

function journaledBackup(context: SyncRun, backupId: number | undefined): BackupRecord {
  const backup = backupId === undefined ? undefined : context.catalog.getBackup(backupId);
  if (backup === undefined) {
    throw new DrError(
      'DR_BACKUP_NOT_FOUND',
      `backup ${String(backupId)} of operation ${context.operationId} is not in the catalog ${context.catalog.path}`,
      `Roll the sync back with \`flydr abort ${context.operationId}\` and sync again.`,
      { backupId },
    );
  }
  return backup;
}

function waitOptions(context: SyncRun): { timeoutMs?: number; signal?: AbortSignal } {
  const signal = context.run.signal;
  return {
    ...(context.run.startTimeoutMs === undefined ? {} : { timeoutMs: context.run.startTimeoutMs }),
    ...(signal === undefined || signal.aborted ? {} : { signal }),
  };
}

function restoreRunOptions(context: SyncRun) {
  const { run } = context;
  return {
    ...(run.healthUrl === undefined ? {} : { healthUrl: run.healthUrl }),
    ...(run.healthTimeoutMs === undefined ? {} : { healthTimeoutMs: run.healthTimeoutMs }),
    ...(run.healthPollMs === undefined ? {} : { healthPollMs: run.healthPollMs }),
    ...(run.startTimeoutMs === undefined ? {} : { startTimeoutMs: run.startTimeoutMs }),
    ...(run.signal === undefined || run.signal.aborted ? {} : { signal: run.signal }),
  };
}
