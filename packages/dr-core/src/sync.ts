import type { BackupRecord } from './catalog.js';
import { DrError } from './errors.js';
import type { FailoverRunOptions } from './failover-types.js';
import type { OperationRecord } from './journal.js';
import { refuseFinished, runnerOptionsFor } from './journaled-run.js';
import { rollbackOperation, runOperation, surfaceStepError } from './operation-runner.js';
import {
  SYNC_STEPS,
  type SyncContext,
  type SyncRun,
  type SyncState,
  syncSteps,
} from './sync-steps.js';
import type { CheckKind } from './verify.js';

export { SYNC_STEPS, type SyncContext, type SyncState } from './sync-steps.js';

/** Options of a sync. The run options are given again to `resume` and `abort`. */
export interface SyncOptions extends FailoverRunOptions {
  /** Region whose started machine's database is copied. */
  from: string;
  /** Region whose machine receives it. */
  to: string;
  /** Overwrite the active primary, or a database that changed since flydr recorded it. @default false */
  force?: boolean;
  check?: CheckKind;
}

/** Outcome of a sync. */
export interface SyncReport {
  kind: 'sync';
  /** Journal id of the sync. */
  operationId: string;
  from: string;
  to: string;
  sourceMachineId: string;
  targetMachineId: string;
  /** Verified snapshot of the source that was copied. */
  backup: BackupRecord;
  /** Verified copy of what the target held before; absent when it held nothing. */
  preRestoreBackup?: BackupRecord;
  /** Written when the target had diverged and force overwrote it. */
  divergenceReportPath?: string;
  /** Time since the sync first started, resumed runs included. */
  durationMs: number;
}

/**
 * Copies the database from one region's started machine to another region's machine (the
 * monthly standby refresh) as one journaled operation. Its steps are preflight, a verified
 * snapshot of the source, a restore onto the target in maintenance mode (which keeps a
 * verified copy of what it replaces), and the record of what the target now contains. The
 * target ends as it was (started or stopped). The active primary is never overwritten unless forced, and
 * neither is a target whose database changed since flydr recorded it. A killed sync is
 * continued with {@link resumeSync} or rolled back with {@link abortSync}.
 *
 * @throws DrError after a clean rollback, which rethrows the failing step's own error:
 *   `DR_REFUSED` (the target is the active primary or in maintenance mode), `DR_LOCKED`
 *   (its lease is held), `DR_SOURCE_MACHINE` (no source, or its host is unreachable),
 *   `DR_DIVERGED`, `DR_UNKNOWN_REGION`, and the backup and restore errors.
 * @throws DrError `DR_OPERATION_FAILED` when a rollback step failed too (run abort).
 */
export async function runSync(context: SyncContext, options: SyncOptions): Promise<SyncReport> {
  const params: SyncState = {
    app: context.app,
    databasePath: context.databasePath,
    from: options.from,
    to: options.to,
    force: options.force === true,
    check: options.check ?? 'quick',
    startedAtMs: Date.now(),
  };
  const operationId = context.journal.create('sync', context.app, SYNC_STEPS, params);
  return execute({ ...context, operationId, run: options });
}

/**
 * Continues a journaled sync from its first unfinished step.
 *
 * @throws DrError `DR_OPERATION_NOT_FOUND`, `DR_REFUSED` for a finished operation or one
 *   that is not a sync, and the errors of {@link runSync}.
 */
export async function resumeSync(
  context: SyncContext,
  operationId: string,
  run: FailoverRunOptions = {},
): Promise<SyncReport> {
  refuseFinishedSync(context.journal.get<SyncState>(operationId), 'resume');
  return execute({ ...context, operationId, run });
}

/**
 * Rolls an unfinished sync back: a target left in maintenance mode gets its config back,
 * and when its files had started to move, the verified copy of its old database goes back.
 *
 * @throws DrError `DR_OPERATION_NOT_FOUND`, `DR_REFUSED` for a finished operation,
 *   `DR_OPERATION_FAILED` when an undo fails (run abort again).
 */
export async function abortSync(
  context: SyncContext,
  operationId: string,
  run: FailoverRunOptions = {},
): Promise<OperationRecord<SyncState>> {
  refuseFinishedSync(context.journal.get<SyncState>(operationId), 'abort');
  const syncRun: SyncRun = { ...context, operationId, run };
  return rollbackOperation(
    context.journal,
    operationId,
    syncSteps(syncRun),
    runnerOptionsFor(syncRun.emit, syncRun.run),
  );
}

async function execute(context: SyncRun): Promise<SyncReport> {
  const { journal, operationId } = context;
  let record: OperationRecord<SyncState>;
  try {
    record = await runOperation(
      journal,
      operationId,
      syncSteps(context),
      runnerOptionsFor(context.emit, context.run),
    );
  } catch (error) {
    throw surfaceStepError(error);
  }

  const { state } = record;
  const backup = context.catalog.getBackup(state.backupId as number) as BackupRecord;
  const preRestoreBackup =
    state.preRestoreBackupId === undefined
      ? undefined
      : context.catalog.getBackup(state.preRestoreBackupId);
  return {
    kind: 'sync',
    operationId,
    from: state.from,
    to: state.to,
    sourceMachineId: state.sourceMachineId as string,
    targetMachineId: state.targetMachineId as string,
    backup,
    ...(preRestoreBackup === undefined ? {} : { preRestoreBackup }),
    ...(state.divergenceReportPath === undefined
      ? {}
      : { divergenceReportPath: state.divergenceReportPath }),
    durationMs: Date.now() - state.startedAtMs,
  };
}

/** Raises unless the operation is a sync with steps left to resume or roll back. */
function refuseFinishedSync(record: OperationRecord<SyncState>, action: 'resume' | 'abort'): void {
  if (record.kind !== 'sync') {
    throw new DrError(
      'DR_REFUSED',
      `operation ${record.id} is a ${record.kind}, not a sync`,
      `Run \`flydr ${action} ${record.id}\`, which handles every kind of operation.`,
      { operationId: record.id },
    );
  }
  refuseFinished(record, action, 'sync', 'Start a new sync instead.');
}
