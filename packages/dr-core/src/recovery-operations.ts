import type { MachineGuest } from '@flydr/fly-client';
import { checkCapacity, type RegionCapacity } from './capacity.js';
import type { Catalog } from './catalog.js';
import { compareDatabases, type DivergenceReport } from './divergence.js';
import { DrError } from './errors.js';
import type { DrEventListener, DrOperation } from './events.js';
import { type FailbackOptions, runFailback } from './failback.js';
import {
  abortFailover,
  type FailoverBase,
  type FailoverPlan,
  planFailover,
  resumeFailover,
  startFailover,
} from './failover.js';
import { refuseUnfinished } from './failover-preflight.js';
import type {
  FailoverParams,
  FailoverReport,
  FailoverRunOptions,
  FailoverState,
} from './failover-types.js';
import type { FlyClient, MachineTransportFactory } from './fly-types.js';
import { OperationJournal, type OperationRecord } from './journal.js';
import type { DrLogger } from './logger.js';
import { patientClient } from './patient-client.js';
import { PrimaryRecords } from './primary-record.js';
import { abortRestore, type RestoreOperationReport, resumeRestore } from './restore-operation.js';
import { selectSourceMachine } from './source-machine.js';
import { prepareStandby, type StandbyOptions, type StandbyReport } from './standby.js';
import { type RecoveryStatus, readStatus } from './status.js';
import {
  abortSync,
  resumeSync,
  runSync,
  type SyncContext,
  type SyncOptions,
  type SyncReport,
} from './sync.js';
import type { CheckKind } from './verify.js';

/** Options of {@link RecoveryOperations.failover}. */
export interface FailoverOptions extends FailoverRunOptions {
  /** Region to move the app to, such as `sin`. */
  to: string;
  /** Region that serves now. @default the recorded primary's region, else the started machine's */
  from?: string;
  /** Source machine. @default the one started machine in `from` that mounts the database's volume */
  machineId?: string;
  /**
   * When the source is unreachable, use the newest verified backup if it is at most this
   * old, in milliseconds; every write after it is lost. @default undefined (refuse)
   */
  allowStaleBackupMs?: number;
  /** Create a volume in the target region when none fits. @default true */
  createVolume?: boolean;
  /** Overwrite a target database that changed since flydr recorded it. @default false */
  force?: boolean;
  /** @default the instance's check */
  check?: CheckKind;
}

/** Options of {@link RecoveryOperations.capacity}. */
export interface CapacityOptions {
  /** Machine size to place. @default the primary machine's guest, else Fly's default */
  guest?: MachineGuest;
  /** Also place a new volume of this size, in GB. @default no volume */
  volumeSizeGb?: number;
}

/** Failover, failback, sync, standby, capacity and status for one app. */
export interface RecoveryOperations {
  /**
   * Moves the app and its database to another region as one journaled operation: preflight,
   * volume, fence, snapshot, standby, restore, stop-source, start-target, record. Events
   * `operation-step-start` and `operation-step-end` report each step.
   *
   * @throws DrError `DR_NO_CAPACITY`, `DR_UNKNOWN_REGION`, `DR_REFUSED`, `DR_LOCKED`,
   *   `DR_SPLIT_BRAIN`, `DR_DIVERGED` after a clean rollback; `DR_OPERATION_FAILED` when
   *   a rollback step failed too (run `abort` again).
   */
  failover(options: FailoverOptions): Promise<FailoverReport>;
  /** Runs preflight only and returns the plan; changes nothing. @throws the preflight errors. */
  planFailover(options: FailoverOptions): Promise<FailoverPlan>;
  /**
   * Moves the app back to its earlier primary region, optionally waiting for capacity, with
   * the divergence check on the old primary's database.
   * @throws DrError `DR_DIVERGED`, `DR_NO_CAPACITY` and the failover errors.
   */
  failback(options?: FailbackOptions): Promise<FailoverReport>;
  /**
   * Continues an interrupted failover, failback, sync or restore. The report's `kind` names which.
   * @throws DrError `DR_OPERATION_NOT_FOUND`, `DR_REFUSED`, the failover or sync errors.
   */
  resume(
    operationId: string,
    options?: FailoverRunOptions,
  ): Promise<FailoverReport | SyncReport | RestoreOperationReport>;
  /** Rolls an unfinished failover, failback, sync or restore back. @throws DrError `DR_OPERATION_NOT_FOUND`, `DR_REFUSED`, `DR_OPERATION_FAILED`. */
  abort(operationId: string, options?: FailoverRunOptions): Promise<OperationRecord<FailoverState>>;
  /** Reads a journaled operation. @throws DrError `DR_OPERATION_NOT_FOUND`. */
  operation(operationId: string): Promise<OperationRecord<FailoverState>>;
  /** Copies the database between regions. @throws see {@link runSync}. */
  sync(options: SyncOptions): Promise<SyncReport>;
  /** Prepares a standby volume (and machine). @throws see {@link prepareStandby}. */
  prepareStandby(options: StandbyOptions): Promise<StandbyReport>;
  /** Checks capacity per region. @throws DrError `DR_UNKNOWN_REGION` listing the valid codes. */
  capacity(regions: string[], options?: CapacityOptions): Promise<RegionCapacity[]>;
  /** Reads machines, volumes, the primary, the newest backup and warnings. */
  status(): Promise<RecoveryStatus>;
  /**
   * Compares two databases row by row; each side is a local path or a backup id.
   * @throws DrError `DR_BACKUP_NOT_FOUND`, `DR_FILE_NOT_FOUND`, `DR_NOT_SQLITE`.
   */
  compare(first: string | number, second: string | number): Promise<DivergenceReport>;
}

/** Inputs the operations take from the entry point that hosts them. */
export interface RecoveryHost {
  app: string;
  databasePath: string;
  logger: DrLogger;
  emit: DrEventListener;
  now: () => Date;
  check: CheckKind;
  remote(operation: string): { client: FlyClient; transportFactory: MachineTransportFactory };
  catalog(): Promise<Catalog>;
  locked<T>(operation: DrOperation, fn: (catalog: Catalog) => Promise<T>): Promise<T>;
}

/** Builds the operations over a host (the DisasterRecovery entry point). */
export function createRecoveryOperations(host: RecoveryHost): RecoveryOperations {
  const base = (operation: string, catalog: Catalog): FailoverBase => ({
    ...host.remote(operation),
    catalog,
    journal: new OperationJournal(catalog.database),
    records: new PrimaryRecords(catalog.database),
    logger: host.logger,
    emit: host.emit,
    now: host.now,
  });

  // Unlike failover, whose steps run again after a 429 storm, a sync retries each read.
  const syncContext = (context: FailoverBase): SyncContext => ({
    ...context,
    client: patientClient(context.client, host.logger),
    app: host.app,
    databasePath: host.databasePath,
  });

  const params = async (
    context: FailoverBase,
    options: FailoverOptions,
  ): Promise<FailoverParams> => ({
    kind: 'failover',
    app: host.app,
    databasePath: host.databasePath,
    from: options.from ?? (await currentRegion(context, host)),
    to: options.to,
    ...(options.machineId === undefined ? {} : { sourceMachineId: options.machineId }),
    ...(options.allowStaleBackupMs === undefined
      ? {}
      : { allowStaleBackupMs: options.allowStaleBackupMs }),
    createVolume: options.createVolume !== false,
    force: options.force === true,
    check: options.check ?? host.check,
  });

  return {
    failover: (options) =>
      host.locked('failover', async (catalog) => {
        const context = base('failover', catalog);
        refuseUnfinished(context.journal, host.app);
        return startFailover(context, await params(context, options), options);
      }),
    planFailover: (options) =>
      host.locked('failover', async (catalog) => {
        const context = base('failover', catalog);
        refuseUnfinished(context.journal, host.app);
        return planFailover(context, await params(context, options), options);
      }),
    failback: (options = {}) =>
      host.locked('failback', (catalog) => {
        const context = base('failback', catalog);
        refuseUnfinished(context.journal, host.app);
        return runFailback(context, host.app, host.databasePath, {
          ...options,
          check: options.check ?? host.check,
        });
      }),
    resume: (operationId, options = {}) =>
      host.locked<FailoverReport | SyncReport | RestoreOperationReport>('failover', (catalog) => {
        const context = base('resume', catalog);
        const kind = context.journal.get(operationId).kind;
        if (kind === 'sync') {
          return resumeSync(syncContext(context), operationId, options);
        }
        if (kind === 'restore') {
          return resumeRestore(syncContext(context), operationId, options);
        }
        return resumeFailover(context, operationId, options);
      }),
    abort: (operationId, options = {}) =>
      host.locked('failover', async (catalog) => {
        const context = base('abort', catalog);
        const kind = context.journal.get(operationId).kind;
        if (kind === 'restore') {
          // Both records carry the same fields that callers read (id, kind, status, steps).
          return (await abortRestore(
            syncContext(context),
            operationId,
            options,
          )) as unknown as OperationRecord<FailoverState>;
        }
        if (kind === 'sync') {
          // Both records carry the same fields that callers read (id, kind, status, steps).
          return (await abortSync(
            syncContext(context),
            operationId,
            options,
          )) as unknown as OperationRecord<FailoverState>;
        }
        return abortFailover(context, operationId, options);
      }),
    operation: async (operationId) =>
      new OperationJournal((await host.catalog()).database).get<FailoverState>(operationId),
    sync: (options) =>
      host.locked('sync', (catalog) => {
        const context = base('sync', catalog);
        refuseUnfinished(context.journal, host.app);
        return runSync(syncContext(context), { ...options, check: options.check ?? host.check });
      }),
    prepareStandby: (options) =>
      host.locked('standby', () =>
        prepareStandby(
          host.remote('standby prepare').client,
          host.app,
          host.databasePath,
          options,
          host.logger,
        ),
      ),
    capacity: async (regions, options = {}) => {
      const { client } = host.remote('capacity');
      const orgSlug = (await client.apps.get(host.app)).organization?.slug ?? 'personal';
      const guest = options.guest ?? (await primaryGuest(client, host));
      return checkCapacity(client, regions, {
        orgSlug,
        guest,
        ...(options.volumeSizeGb === undefined
          ? {}
          : { volumeSizeBytes: options.volumeSizeGb * 1024 ** 3 }),
      });
    },
    status: async () => {
      const catalog = await host.catalog();
      return readStatus({
        client: host.remote('status').client,
        app: host.app,
        databasePath: host.databasePath,
        catalog,
        journal: new OperationJournal(catalog.database),
        records: new PrimaryRecords(catalog.database),
        now: host.now,
      });
    },
    compare: async (first, second) => {
      const catalog = await host.catalog();
      return compareDatabases(databaseFile(catalog, first), databaseFile(catalog, second));
    },
  };
}

/** Returns the region that serves now: the recorded primary's, else the started machine's. */
async function currentRegion(context: FailoverBase, host: RecoveryHost): Promise<string> {
  const recorded = context.records.current(host.app);
  if (recorded !== undefined) {
    return recorded.region;
  }
  const source = await selectSourceMachine(context.client, host.app, host.databasePath);
  return source.machine.region ?? '';
}

async function primaryGuest(
  client: FlyClient,
  host: RecoveryHost,
): Promise<MachineGuest | undefined> {
  try {
    const source = await selectSourceMachine(client, host.app, host.databasePath);
    return source.machine.config?.guest ?? undefined;
  } catch {
    // No single started machine: ask for Fly's default size.
    return undefined;
  }
}

function databaseFile(catalog: Catalog, side: string | number): string {
  if (typeof side === 'string') {
    return side;
  }
  const backup = catalog.getBackup(side);
  if (backup === undefined) {
    throw new DrError(
      'DR_BACKUP_NOT_FOUND',
      `backup ${side} is not in the catalog ${catalog.path}`,
      'List the backups with `flydr backups list` and pass one of their ids, or a file path.',
      { backupId: side },
    );
  }
  return backup.path;
}
