import { isFlyError } from '@flydr/fly-client';
import type { BackupRecord, Catalog } from './catalog.js';
import { DrError, isDrError } from './errors.js';
import type { DrEventListener } from './events.js';
import type { FailoverRunOptions } from './failover-types.js';
import type { FlyClient, Machine, MachineConfig, MachineTransportFactory } from './fly-types.js';
import type { OperationJournal } from './journal.js';
import type { DrLogger } from './logger.js';
import { withOperationLease } from './machine-lease.js';
import { applyConfig } from './maintenance-mode.js';
import {
  type RemoteRestoreOptions,
  type RemoteRestoreReport,
  restoreOntoMachine,
} from './remote-restore.js';
import { mountHolding, type SelectedMachine } from './source-machine.js';
import { applyConfigStopped, isMaintenanceConfig } from './stopped-config.js';
import type { CheckKind } from './verify.js';

/** Inputs of a restore step of a journaled operation (a sync or a restore). */
export interface JournaledRestoreContext {
  app: string;
  databasePath: string;
  client: FlyClient;
  transportFactory: MachineTransportFactory;
  catalog: Catalog;
  journal: OperationJournal;
  logger: DrLogger;
  emit: DrEventListener;
  now: () => Date;
  operationId: string;
  run: FailoverRunOptions;
}

/** Journaled facts of a restore onto a machine, from which it is resumed or undone. */
export interface JournaledRestoreState {
  databasePath: string;
  check: CheckKind;
  targetMachineId?: string;
  /** State the target ends in: by default the one it had before. */
  targetFinish?: 'started' | 'stopped' | 'maintenance';
  /** The target's config before the operation, which the restore puts back. */
  targetConfig?: MachineConfig;
  /** Verified copy of what the target held before; absent when it held nothing. */
  preRestoreBackupId?: number;
  /** Set when the restore starts moving files on the target's volume, cleared by its rollback. */
  swapStarted?: boolean;
}

/** Options of {@link runJournaledRestore} that are not journaled state. */
export type JournaledRestoreOptions = Pick<
  RemoteRestoreOptions,
  'beforeUpload' | 'strategy' | 'replaceDamaged' | 'idleTimeoutMs' | 'deadlineMs'
>;

/**
 * Restores `backup` onto the journaled target in maintenance mode, under the operation's
 * lease. It records in the journal the verified copy of the old database and whether the
 * swap of files started, so a run killed midway can be resumed or undone. A failed
 * restore rolls itself back before this throws.
 *
 * @throws DrError `DR_LOCKED` when another operator holds the machine's lease, and the
 *   errors of {@link restoreOntoMachine}.
 */
export async function runJournaledRestore(
  context: JournaledRestoreContext,
  state: JournaledRestoreState,
  backup: BackupRecord,
  options: JournaledRestoreOptions = {},
): Promise<RemoteRestoreReport> {
  const { app, journal, operationId } = context;
  const target = await selectedMachine(context, state.targetMachineId as string);
  const emit: DrEventListener = (event) => {
    if (event.type === 'step-start' && event.operation === 'restore' && event.step === 'swap') {
      journal.patchState(operationId, { swapStarted: true });
    }
    context.emit(event);
  };

  try {
    return await withOperationLease(
      context.client,
      journal,
      operationId,
      app,
      target.machine.id,
      () =>
        restoreOntoMachine({ ...context, emit }, backup, target, {
          ...restoreOptions(context, state),
          ...(options.strategy === undefined ? {} : { strategy: options.strategy }),
          ...(options.replaceDamaged === undefined
            ? {}
            : { replaceDamaged: options.replaceDamaged }),
          ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
          ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
          beforeUpload: async (current) => {
            if (current !== undefined) {
              journal.patchState(operationId, { preRestoreBackupId: current.id });
            }
            await options.beforeUpload?.(current);
          },
        }),
    );
  } catch (error) {
    if (!isDrError(error, 'DR_RESTORE_FAILED')) {
      // The restore rolled itself back: the old files are in place again.
      journal.patchState(operationId, { swapStarted: false });
    }
    throw lockedError(error, app, target.machine.id);
  }
}

/**
 * Undoes a restore step that did not finish cleanly (a killed run, or an abort after it
 * finished): when files had started to move on the target's volume, the verified copy of
 * its old database is restored onto it. Otherwise a target still in maintenance mode only
 * gets its config back.
 */
export async function undoJournaledRestore(
  context: JournaledRestoreContext,
  state: JournaledRestoreState,
): Promise<void> {
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
      restoreOntoMachine(context, previous, target, restoreOptions(context, state)),
    ).catch((error: unknown) => {
      throw lockedError(error, app, targetId);
    });
    context.journal.patchState(context.operationId, { swapStarted: false });
    return;
  }
  if (state.swapStarted === true) {
    // NOTE: the target held no database before, so there is no copy to put back, and the
    // restored database stays on it.
    context.logger.warn('the target held no database before; leaving the restored one', {
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

/** Turns the client's lease conflict into `DR_LOCKED`, as failover raises it. */
export function lockedError(error: unknown, app: string, machineId: string): unknown {
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

/** Reads a machine and the mount that contains the database. */
export async function selectedMachine(
  context: Pick<JournaledRestoreContext, 'client' | 'app' | 'databasePath'>,
  machineId: string,
): Promise<SelectedMachine> {
  const machine = await context.client.machines.get(context.app, machineId);
  return selectedFrom(machine, context.databasePath);
}

function selectedFrom(machine: Machine, databasePath: string): SelectedMachine {
  const mount = mountHolding(machine, databasePath);
  return { machine, mount: mount ?? { path: databasePath }, volumeId: mount?.volume ?? null };
}

function waitOptions(context: JournaledRestoreContext): {
  timeoutMs?: number;
  signal?: AbortSignal;
} {
  const signal = context.run.signal;
  return {
    ...(context.run.startTimeoutMs === undefined ? {} : { timeoutMs: context.run.startTimeoutMs }),
    ...(signal === undefined || signal.aborted ? {} : { signal }),
  };
}

function restoreOptions(
  context: JournaledRestoreContext,
  state: JournaledRestoreState,
): RemoteRestoreOptions {
  const { run } = context;
  return {
    finish: state.targetFinish ?? 'stopped',
    check: state.check,
    ...(state.targetConfig === undefined ? {} : { normalConfig: state.targetConfig }),
    ...(run.healthUrl === undefined ? {} : { healthUrl: run.healthUrl }),
    ...(run.healthTimeoutMs === undefined ? {} : { healthTimeoutMs: run.healthTimeoutMs }),
    ...(run.healthPollMs === undefined ? {} : { healthPollMs: run.healthPollMs }),
    ...(run.startTimeoutMs === undefined ? {} : { startTimeoutMs: run.startTimeoutMs }),
    ...(run.signal === undefined || run.signal.aborted ? {} : { signal: run.signal }),
  };
}
