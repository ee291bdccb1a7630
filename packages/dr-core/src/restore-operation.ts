import type { BackupRecord, Catalog } from './catalog.js';
import { DrError } from './errors.js';
import { type DrEventListener, runStep } from './events.js';
import type { FailoverRunOptions } from './failover-types.js';
import type { FlyClient, MachineConfig, MachineTransportFactory } from './fly-types.js';
import type { OperationJournal, OperationRecord } from './journal.js';
import {
  type JournaledRestoreContext,
  type JournaledRestoreOptions,
  type JournaledRestoreState,
  runJournaledRestore,
  undoJournaledRestore,
} from './journaled-restore.js';
import { refuseFinished, runnerOptionsFor } from './journaled-run.js';
import type { DrLogger } from './logger.js';
import { refuseForeignLease } from './machine-foreign-lease.js';
import {
  type OperationStep,
  rollbackOperation,
  runOperation,
  surfaceStepError,
} from './operation-runner.js';
import type { RemoteRestoreReport } from './remote-restore.js';
import type { RemoteStrategy } from './remote-snapshot.js';
import { selectTargetMachine } from './source-machine.js';
import { isMaintenanceConfig } from './stopped-config.js';
import type { CheckKind } from './verify.js';

/** The journaled steps of a restore onto a machine, in order. */
export const RESTORE_STEPS = ['preflight', 'restore'] as const;

/** Parameters of a restore, stored in its journal so `resume` needs nothing else. */
export interface RestoreParams {
  app: string;
  databasePath: string;
  backupId: number;
  /** Target machine; else the one machine (in `region`, when given) that mounts the volume. */
  machineId?: string;
  region?: string;
  /** State the target ends in. @default the state it had before */
  finish?: 'started' | 'stopped' | 'maintenance';
  strategy?: RemoteStrategy | 'auto';
  replaceDamaged?: boolean;
  check: CheckKind;
  /** Start of the first run, in Unix milliseconds. */
  startedAtMs: number;
}

/** State of a restore: its parameters plus what each finished step recorded. */
export interface RestoreState extends RestoreParams, JournaledRestoreState {
  targetRegion?: string;
  movedAside?: { from: string; to: string }[];
}

/** Stores and clients that a journaled restore uses. */
export interface RestoreContext {
  app: string;
  databasePath: string;
  client: FlyClient;
  transportFactory: MachineTransportFactory;
  catalog: Catalog;
  journal: OperationJournal;
  logger: DrLogger;
  emit: DrEventListener;
  now: () => Date;
}

/** Outcome of a journaled restore. */
export interface RestoreOperationReport extends RemoteRestoreReport {
  kind: 'restore';
  /** Journal id of the restore. */
  operationId: string;
  /** The machine restored onto, the same as `machineId`. */
  targetMachineId: string;
  /** Region of that machine. */
  to: string;
}

/** Options of a restore run that are not journaled; `resume` and `abort` take them again. */
export interface RestoreRunOptions
  extends FailoverRunOptions,
    Pick<JournaledRestoreOptions, 'beforeUpload' | 'idleTimeoutMs' | 'deadlineMs'> {}

/** Next step named when a restore has nothing left to resume or roll back. */
const START_NEW_RESTORE = 'Start a new restore instead.';

interface RestoreRun extends JournaledRestoreContext {
  run: RestoreRunOptions;
}

/**
 * Restores a catalogued backup onto a machine as one journaled operation: preflight (the
 * target, not left in maintenance mode or leased by someone else), then the restore in
 * maintenance mode, which keeps a verified copy of what it replaces. A killed restore is
 * continued with {@link resumeRestore} or rolled back with {@link abortRestore}.
 *
 * @throws DrError after a clean rollback, the failing step's own error: `DR_REFUSED`,
 *   `DR_LOCKED`, `DR_SOURCE_MACHINE`, and the errors of the restore itself.
 * @throws DrError `DR_OPERATION_FAILED` when a rollback step failed too (run abort).
 */
export async function runRestoreOperation(
  context: RestoreContext,
  params: Omit<RestoreParams, 'app' | 'databasePath' | 'startedAtMs'>,
  run: RestoreRunOptions = {},
): Promise<RestoreOperationReport> {
  const state: RestoreState = {
    ...params,
    app: context.app,
    databasePath: context.databasePath,
    startedAtMs: Date.now(),
  };
  const operationId = context.journal.create('restore', context.app, RESTORE_STEPS, state);
  return execute({ ...context, operationId, run });
}

/**
 * Continues a journaled restore from its first unfinished step.
 *
 * @throws DrError `DR_OPERATION_NOT_FOUND`, `DR_REFUSED` for a finished operation, and the
 *   errors of {@link runRestoreOperation}.
 */
export async function resumeRestore(
  context: RestoreContext,
  operationId: string,
  run: RestoreRunOptions = {},
): Promise<RestoreOperationReport> {
  refuseFinished(context.journal.get(operationId), 'resume', 'restore', START_NEW_RESTORE);
  return execute({ ...context, operationId, run });
}

/**
 * Rolls an unfinished restore back: a target left in maintenance mode gets its config
 * back, and when its files had started to move, the verified copy of its old database
 * goes back.
 *
 * @throws DrError `DR_OPERATION_NOT_FOUND`, `DR_REFUSED` for a finished operation,
 *   `DR_OPERATION_FAILED` when an undo fails (run abort again).
 */
export async function abortRestore(
  context: RestoreContext,
  operationId: string,
  run: RestoreRunOptions = {},
): Promise<OperationRecord<RestoreState>> {
  refuseFinished(context.journal.get(operationId), 'abort', 'restore', START_NEW_RESTORE);
  const restoreRun: RestoreRun = { ...context, operationId, run };
  return rollbackOperation(
    context.journal,
    operationId,
    restoreSteps(restoreRun),
    runnerOptionsFor(restoreRun.emit, restoreRun.run),
  );
}

function restoreSteps(context: RestoreRun): OperationStep<RestoreState>[] {
  return [
    { name: 'preflight', run: (state) => preflight(context, state) },
    {
      name: 'restore',
      run: (state) => restoreStep(context, state),
      undo: (state) => undoJournaledRestore(context, state),
    },
  ];
}

async function preflight(context: RestoreRun, state: RestoreState): Promise<Partial<RestoreState>> {
  const target = await runStep(context.emit, 'restore', 'select-machine', () =>
    selectTargetMachine(context.client, context.app, context.databasePath, {
      ...(state.machineId === undefined ? {} : { machineId: state.machineId }),
      ...(state.region === undefined ? {} : { region: state.region }),
    }),
  );
  const machine = target.machine;
  if (isMaintenanceConfig(machine.config)) {
    throw new DrError(
      'DR_REFUSED',
      `machine ${machine.id} was left in maintenance mode (its init runs sleep), so its normal config is unknown`,
      'Finish or roll back the operation that left it so (`flydr status` lists it), or put the app config back on it (fly machine update), then restore again.',
      { machineId: machine.id },
    );
  }
  await refuseForeignLease(context.client, context.app, machine.id);
  // A machine that was not running stays stopped: starting its app could make a second
  // writer beside the primary (split brain).
  return {
    targetMachineId: machine.id,
    targetRegion: machine.region ?? '',
    targetFinish: state.finish ?? (machine.state === 'started' ? 'started' : 'stopped'),
    targetConfig: structuredClone(machine.config ?? ({} as MachineConfig)),
  };
}

async function restoreStep(
  context: RestoreRun,
  state: RestoreState,
): Promise<Partial<RestoreState>> {
  const backup = context.catalog.getBackup(state.backupId);
  if (backup === undefined) {
    throw new DrError(
      'DR_BACKUP_NOT_FOUND',
      `backup ${state.backupId} of operation ${context.operationId} is not in the catalog ${context.catalog.path}`,
      `Roll the restore back with \`flydr abort ${context.operationId}\`, then restore another backup.`,
      { backupId: state.backupId },
    );
  }
  const { run } = context;
  const report = await runJournaledRestore(context, state, backup, {
    ...(state.strategy === undefined ? {} : { strategy: state.strategy }),
    ...(state.replaceDamaged === undefined ? {} : { replaceDamaged: state.replaceDamaged }),
    ...(run.beforeUpload === undefined ? {} : { beforeUpload: run.beforeUpload }),
    ...(run.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: run.idleTimeoutMs }),
    ...(run.deadlineMs === undefined ? {} : { deadlineMs: run.deadlineMs }),
  });
  return {
    ...(report.preRestoreBackup === undefined
      ? {}
      : { preRestoreBackupId: report.preRestoreBackup.id }),
    movedAside: report.movedAside,
  };
}

async function execute(context: RestoreRun): Promise<RestoreOperationReport> {
  let record: OperationRecord<RestoreState>;
  try {
    record = await runOperation(
      context.journal,
      context.operationId,
      restoreSteps(context),
      runnerOptionsFor(context.emit, context.run),
    );
  } catch (error) {
    throw surfaceStepError(error);
  }

  const { state } = record;
  const backup = context.catalog.getBackup(state.backupId) as BackupRecord;
  const preRestoreBackup =
    state.preRestoreBackupId === undefined
      ? undefined
      : context.catalog.getBackup(state.preRestoreBackupId);
  return {
    kind: 'restore',
    operationId: context.operationId,
    backup,
    machineId: state.targetMachineId as string,
    targetMachineId: state.targetMachineId as string,
    to: state.targetRegion ?? '',
    ...(preRestoreBackup === undefined ? {} : { preRestoreBackup }),
    movedAside: state.movedAside ?? [],
    durationMs: Date.now() - state.startedAtMs,
  };
}
