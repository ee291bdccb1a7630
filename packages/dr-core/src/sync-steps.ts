import type { BackupRecord, Catalog } from './catalog.js';
import { checkDivergence } from './divergence-check.js';
import { DrError } from './errors.js';
import type { DrEventListener } from './events.js';
import { ROLE_KEY } from './failover-preflight.js';
import type { FailoverRunOptions } from './failover-types.js';
import type { FlyClient, Machine, MachineConfig, MachineTransportFactory } from './fly-types.js';
import { refuseUnreachableHost } from './host-status.js';
import type { OperationJournal } from './journal.js';
import {
  type JournaledRestoreState,
  runJournaledRestore,
  selectedMachine,
  undoJournaledRestore,
} from './journaled-restore.js';
import type { DrLogger } from './logger.js';
import { refuseForeignLease } from './machine-foreign-lease.js';
import type { OperationStep } from './operation-runner.js';
import type { PrimaryRecords } from './primary-record.js';
import { validateRegions } from './regions.js';
import { backupFromMachine } from './remote-backup.js';
import { selectSourceMachine, selectTargetMachine } from './source-machine.js';
import { isMaintenanceConfig } from './stopped-config.js';
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
export interface SyncState extends SyncParams, JournaledRestoreState {
  sourceMachineId?: string;
  targetVolumeId?: string | null;
  backupId?: number;
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
      undo: (state) => undoJournaledRestore(context, state),
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
  await refuseForeignLease(client, app, target.machine.id);

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
  const backup = journaledBackup(context, state.backupId);
  let divergenceReportPath: string | undefined;
  const report = await runJournaledRestore(context, state, backup, {
    beforeUpload: async (current) => {
      const result = await checkDivergence({
        app: context.app,
        catalog: context.catalog,
        records: context.records,
        logger: context.logger,
        targetMachineId: state.targetMachineId as string,
        current,
        incoming: backup,
        force: state.force,
        now: context.now(),
      });
      divergenceReportPath = result.reportPath;
    },
  });
  return {
    ...(report.preRestoreBackup === undefined
      ? {}
      : { preRestoreBackupId: report.preRestoreBackup.id }),
    ...(divergenceReportPath === undefined ? {} : { divergenceReportPath }),
  };
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
