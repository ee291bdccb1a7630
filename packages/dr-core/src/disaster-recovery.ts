import { join } from 'node:path';
import {
  type BackupCheckReport,
  commitBackup,
  deleteBackupFile,
  newBackupFileName,
  recheckBackup,
  type SweepResult,
  sweepStateDir,
} from './backup-store.js';
import { type BackupRecord, Catalog, type NewBackupRecord } from './catalog.js';
import type { CheckpointedDatabase } from './checkpoint.js';
import { removeQuietly, tempPathFor } from './durable-fs.js';
import { DrError } from './errors.js';
import { type DrEventListener, type DrOperation, runStep, safeListener } from './events.js';
import { refuseUnfinished } from './failover-preflight.js';
import type { FlyClient, MachineTransport, MachineTransportFactory } from './fly-types.js';
import { refuseUnreachableHost } from './host-status.js';
import { OperationJournal } from './journal.js';
import { snapshotLocalDatabase } from './local-snapshot.js';
import { acquireAppLock } from './lock.js';
import { type DrLogger, silentLogger } from './logger.js';
import { patientClient } from './patient-client.js';
import { createRecoveryOperations, type RecoveryOperations } from './recovery-operations.js';
import { backupFromMachine, type RemoteBackupOptions } from './remote-backup.js';
import { transferError } from './remote-database.js';
import { type RemoteRestoreOptions, restoreOntoMachine } from './remote-restore.js';
import { type RestoredFile, restoreFileTo } from './restore-file.js';
import { type RestoreOperationReport, runRestoreOperation } from './restore-operation.js';
import { planRetention, type RetentionPlan, type RetentionPolicy } from './retention.js';
import { type MachineSelector, selectSourceMachine } from './source-machine.js';
import { defaultStateDir, ensureStateDir, validateAppName } from './state-dir.js';
import { closeWithin, limitTransports, type TransportLimits } from './transfer-deadline.js';
import { reconnectTransports } from './transport-reconnect.js';
import type { CheckKind } from './verify.js';

/** Options of {@link createDisasterRecovery}. */
export interface DisasterRecoveryOptions {
  /** Fly app name. */
  app: string;
  /** Path of the database on the machine's volume, for example `/app/data/app.db`. */
  databasePath: string;
  /** Machines API client; needed for operations on machines. */
  client?: FlyClient;
  /** Opens file transports to machines; needed for operations on machines. */
  transportFactory?: MachineTransportFactory;
  /** @default `~/.local/state/flydr/<app>` (or under `$XDG_STATE_HOME`) */
  stateDir?: string;
  /** @default a logger that drops every record */
  logger?: DrLogger;
  /** Receives step and transfer progress events. */
  onEvent?: DrEventListener;
  /** Time limits on every transport call; see {@link TransportLimits} for the defaults. */
  transportLimits?: TransportLimits;
  /** Check run on every new backup. @default 'quick' */
  check?: CheckKind;
  /** Clock, for tests. @default () => new Date() */
  now?: () => Date;
}

/** Options of {@link DisasterRecovery.backupFile}. */
export interface BackupFileOptions {
  /** @default the instance's check */
  check?: CheckKind;
  /** Region, machine and volume to record with the backup, when known. */
  region?: string;
  machineId?: string;
  volumeId?: string;
  imageRef?: string;
}

/** Options of {@link DisasterRecovery.backup}. */
export interface BackupOptions extends MachineSelector, Omit<RemoteBackupOptions, 'reason'> {}

/** Options of {@link DisasterRecovery.restore}. */
export interface RestoreOptions extends MachineSelector, RemoteRestoreOptions {}

/** Backups that {@link DisasterRecovery.verify} rechecks: the newest, one id, or all. */
export type VerifyTarget = 'latest' | 'all' | number;

/** Options of {@link DisasterRecovery.prune}. */
export interface PruneOptions extends RetentionPolicy {
  /** List what would be removed and remove nothing. @default false */
  dryRun?: boolean;
}

/** Outcome of {@link DisasterRecovery.prune}. */
export interface PruneResult extends RetentionPlan {
  dryRun: boolean;
  /** Ids removed (empty for a dry run). */
  removedIds: number[];
}

/** Options of {@link DisasterRecovery.restoreToFile}. */
export interface RestoreToFileOptions {
  /** Replace an existing file; the old one is kept aside as `.flydr-prev-<time>`. @default false */
  force?: boolean;
  /** @default the journal mode the database had on the machine */
  journalMode?: 'wal' | 'delete';
  /** @default the instance's check */
  check?: CheckKind;
}

/** Options of {@link DisasterRecovery.delete}. */
export interface DeleteOptions {
  /** Allow deleting the newest verified backup. @default false */
  force?: boolean;
}

/**
 * Backup, verification, retention and restore for one app's SQLite database, and (from
 * {@link RecoveryOperations}) failover, failback, sync, standby, capacity and status.
 */
export interface DisasterRecovery extends RecoveryOperations {
  readonly app: string;
  readonly databasePath: string;
  readonly stateDir: string;
  /**
   * Takes a consistent snapshot of the database on the source machine (the started machine
   * that mounts its volume, or the one selected), verifies it and catalogues it.
   * @throws DrError `DR_SOURCE_MACHINE`, `DR_MACHINE_NOT_STARTED`, `DR_REMOTE_DB_MISSING`,
   *   `DR_NO_SPACE`, `DR_CONCURRENT_CHANGE`, `DR_TRANSFER_FAILED`, `DR_REMOTE_COMMAND`, the
   *   verify errors, `DR_LOCKED`; `DR_INVALID_INPUT` without a client or transport factory.
   */
  backup(options?: BackupOptions): Promise<BackupRecord>;
  /**
   * Restores a backup (default: the newest verified) onto the machine that mounts the
   * database's volume, in maintenance mode, keeping a verified copy of what it replaces.
   * A machine that was started runs its app again afterwards; one that was stopped stays
   * stopped. The `finish` option overrides both. The restore is journaled, so a killed one
   * is continued with `resume` or rolled back with `abort`. `normalConfig` and
   * `leaseTtlSeconds` are ignored: the journal keeps the config and the lease is the
   * operation's.
   * @throws DrError see {@link restoreOntoMachine}, `DR_BACKUP_NOT_FOUND`, `DR_LOCKED`,
   *   `DR_REFUSED` (another operation is unfinished, or the machine was left in
   *   maintenance mode).
   */
  restore(target?: 'latest' | number, options?: RestoreOptions): Promise<RestoreOperationReport>;
  /**
   * Snapshots a database file on this host (which may be in use) into the catalog.
   * @throws DrError any verify error, `DR_LOCKED`, `DR_NO_SPACE`.
   */
  backupFile(localPath: string, options?: BackupFileOptions): Promise<BackupRecord>;
  /** Re-hashes and re-checks backups and stores the outcome. @throws DrError `DR_BACKUP_NOT_FOUND`, `DR_LOCKED`. */
  verify(target?: VerifyTarget, options?: { check?: CheckKind }): Promise<BackupCheckReport[]>;
  /** Lists catalogued backups, newest first. */
  list(): Promise<BackupRecord[]>;
  /** Returns one backup. @throws DrError `DR_BACKUP_NOT_FOUND`. */
  show(id: number): Promise<BackupRecord>;
  /** Deletes a backup row and file. @throws DrError `DR_BACKUP_NOT_FOUND`, `DR_REFUSED` for the newest verified backup without force. */
  delete(id: number, options?: DeleteOptions): Promise<BackupRecord>;
  /** Applies the retention policy, or lists what it would remove. */
  prune(options?: PruneOptions): Promise<PruneResult>;
  /** Restores a backup (default: the newest verified) to a local file. @throws DrError see {@link restoreFileTo}. */
  restoreToFile(
    target: 'latest' | number,
    targetPath: string,
    options?: RestoreToFileOptions,
  ): Promise<RestoredFile>;
  /** Removes leftovers of interrupted runs (runs before every locked operation too). */
  sweep(): Promise<SweepResult>;
  /** Closes the catalog. */
  close(): Promise<void>;
}

/**
 * Creates the disaster-recovery entry point for one app. Nothing touches the disk until
 * the first call; the state directory is then created with mode 0700.
 *
 * @throws DrError `DR_INVALID_INPUT` for an invalid app name or an empty database path.
 */
export function createDisasterRecovery(options: DisasterRecoveryOptions): DisasterRecovery {
  return new DisasterRecoveryImpl(options);
}

class DisasterRecoveryImpl implements DisasterRecovery {
  readonly app: string;
  readonly databasePath: string;
  readonly stateDir: string;
  private readonly logger: DrLogger;
  private readonly emit: DrEventListener;
  private readonly check: CheckKind;
  private readonly now: () => Date;
  private readonly client: FlyClient | undefined;
  private readonly transportFactory: MachineTransportFactory | undefined;
  private catalogPromise: Promise<Catalog> | undefined;
  private readonly operations: RecoveryOperations;

  constructor(options: DisasterRecoveryOptions) {
    this.app = validateAppName(options.app);
    if (typeof options.databasePath !== 'string' || !options.databasePath.startsWith('/')) {
      throw new DrError(
        'DR_INVALID_INPUT',
        `invalid databasePath ${JSON.stringify(options.databasePath)}: expected an absolute path on the machine`,
        'Pass the database path inside the machine, for example /app/data/app.db.',
        { databasePath: options.databasePath },
      );
    }
    this.databasePath = options.databasePath;
    this.stateDir = options.stateDir ?? defaultStateDir(this.app);
    this.logger = options.logger ?? silentLogger;
    this.emit = safeListener(options.onEvent);
    this.check = options.check ?? 'quick';
    this.now = options.now ?? (() => new Date());
    this.client = options.client;
    this.transportFactory =
      options.transportFactory === undefined
        ? undefined
        : reconnectTransports(
            limitTransports(options.transportFactory, options.transportLimits),
            this.logger,
          );
    this.operations = createRecoveryOperations({
      app: this.app,
      databasePath: this.databasePath,
      logger: this.logger,
      emit: this.emit,
      now: this.now,
      check: this.check,
      remote: (operation) => this.remote(operation),
      catalog: () => this.catalog(),
      locked: (operation, fn) => this.locked(operation, fn),
    });
  }

  failover: RecoveryOperations['failover'] = (options) => this.operations.failover(options);
  planFailover: RecoveryOperations['planFailover'] = (options) =>
    this.operations.planFailover(options);
  failback: RecoveryOperations['failback'] = (options) => this.operations.failback(options);
  resume: RecoveryOperations['resume'] = (id, options) => this.operations.resume(id, options);
  abort: RecoveryOperations['abort'] = (id, options) => this.operations.abort(id, options);
  operation: RecoveryOperations['operation'] = (id) => this.operations.operation(id);
  sync: RecoveryOperations['sync'] = (options) => this.operations.sync(options);
  prepareStandby: RecoveryOperations['prepareStandby'] = (options) =>
    this.operations.prepareStandby(options);
  capacity: RecoveryOperations['capacity'] = (regions, options) =>
    this.operations.capacity(regions, options);
  status: RecoveryOperations['status'] = () => this.operations.status();
  compare: RecoveryOperations['compare'] = (first, second) =>
    this.operations.compare(first, second);

  async backup(options: BackupOptions = {}): Promise<BackupRecord> {
    const { client, transportFactory } = this.patientRemote('backup');
    return this.locked('backup', async (catalog) => {
      const source = await runStep(this.emit, 'backup', 'select-machine', async () => {
        const selected = await selectSourceMachine(client, this.app, this.databasePath, options);
        refuseUnreachableHost(selected.machine, selected.machine.region ?? 'its region');
        return selected;
      });
      const transport = await runStep(this.emit, 'backup', 'connect', () =>
        connect(transportFactory, source.machine, this.databasePath),
      );
      try {
        return await backupFromMachine(
          {
            app: this.app,
            databasePath: this.databasePath,
            catalog,
            logger: this.logger,
            emit: this.emit,
            operation: 'backup',
            now: this.now,
          },
          source,
          transport,
          { ...options, check: options.check ?? this.check },
        );
      } finally {
        await closeWithin(transport);
      }
    });
  }

  async restore(
    target: 'latest' | number = 'latest',
    options: RestoreOptions = {},
  ): Promise<RestoreOperationReport> {
    const { client, transportFactory } = this.patientRemote('restore');
    return this.locked('restore', async (catalog) => {
      const backup =
        target === 'latest'
          ? latestVerifiedOrThrow(catalog, this.app)
          : findBackup(catalog, target);
      const journal = new OperationJournal(catalog.database);
      refuseUnfinished(journal, this.app);

      const report = await runRestoreOperation(
        {
          app: this.app,
          databasePath: this.databasePath,
          client,
          transportFactory,
          catalog,
          journal,
          logger: this.logger,
          emit: this.emit,
          now: this.now,
        },
        {
          backupId: backup.id,
          ...(options.machineId === undefined ? {} : { machineId: options.machineId }),
          ...(options.region === undefined ? {} : { region: options.region }),
          ...(options.finish === undefined ? {} : { finish: options.finish }),
          ...(options.strategy === undefined ? {} : { strategy: options.strategy }),
          ...(options.replaceDamaged === undefined
            ? {}
            : { replaceDamaged: options.replaceDamaged }),
          check: options.check ?? this.check,
        },
        options,
      );
      this.logger.info('restored backup onto machine', {
        app: this.app,
        backup_id: backup.id,
        machine_id: report.machineId,
        operation_id: report.operationId,
        duration_ms: report.durationMs,
      });
      return report;
    });
  }

  /** Returns {@link remote} with a client that waits out longer 429 storms on its reads. */
  private patientRemote(operation: string): {
    client: FlyClient;
    transportFactory: MachineTransportFactory;
  } {
    const remote = this.remote(operation);
    return { ...remote, client: patientClient(remote.client, this.logger) };
  }

  private remote(operation: string): {
    client: FlyClient;
    transportFactory: MachineTransportFactory;
  } {
    if (this.client === undefined || this.transportFactory === undefined) {
      throw new DrError(
        'DR_INVALID_INPUT',
        `${operation} on a machine needs both a Fly client and a transport factory`,
        'Pass client (createFlyClient) and transportFactory (createSshTransportFactory or createExecTransportFactory) to createDisasterRecovery.',
        {},
      );
    }
    return { client: this.client, transportFactory: this.transportFactory };
  }

  async backupFile(localPath: string, options: BackupFileOptions = {}): Promise<BackupRecord> {
    return this.locked('backup', async (catalog) => {
      const startedAt = this.now();
      const fileName = await newBackupFileName(
        this.stateDir,
        this.databasePath,
        startedAt,
        catalog.fileNames(),
      );
      const temp = tempPathFor(join(this.stateDir, fileName));
      try {
        const snapshot = await runStep(this.emit, 'backup', 'snapshot', () =>
          snapshotLocalDatabase(localPath, temp, options.check ?? this.check),
        );
        const record = this.newRecord(snapshot, fileName, localPath, startedAt, {
          strategy: 'local-file',
          reason: 'backup',
          ...options,
        });
        return await runStep(this.emit, 'backup', 'catalog', () =>
          commitBackup(catalog, temp, record),
        );
      } finally {
        await removeQuietly(temp);
      }
    });
  }

  async verify(target: VerifyTarget = 'latest', options: { check?: CheckKind } = {}) {
    return this.locked('verify', async (catalog) => {
      const backups = this.selectForVerify(catalog, target);
      const reports: BackupCheckReport[] = [];
      for (const backup of backups) {
        const report = await runStep(this.emit, 'verify', `verify ${backup.id}`, () =>
          recheckBackup(catalog, backup, options.check ?? this.check, this.now),
        );
        if (!report.ok) {
          this.logger.warn('backup failed verification', {
            backup_id: backup.id,
            result: report.result,
          });
        }
        reports.push(report);
      }
      return reports;
    });
  }

  async list(): Promise<BackupRecord[]> {
    return (await this.catalog()).listBackups();
  }

  async show(id: number): Promise<BackupRecord> {
    return findBackup(await this.catalog(), id);
  }

  async delete(id: number, options: DeleteOptions = {}): Promise<BackupRecord> {
    return this.locked('delete', async (catalog) => {
      const backup = findBackup(catalog, id);
      if (catalog.latestVerified()?.id === id && options.force !== true) {
        throw new DrError(
          'DR_REFUSED',
          `backup ${id} is the newest verified backup of ${this.app}, so it was not deleted`,
          'Take a newer backup first, or pass --force (`force: true`) to delete it anyway.',
          { backupId: id },
        );
      }
      await deleteBackupFile(catalog, backup);
      this.logger.info('deleted backup', { backup_id: id, path: backup.path });
      return backup;
    });
  }

  async prune(options: PruneOptions = {}): Promise<PruneResult> {
    return this.locked('prune', async (catalog) => {
      const plan = planRetention(catalog.listBackups(), options, this.now());
      const dryRun = options.dryRun === true;
      const removedIds: number[] = [];
      if (!dryRun) {
        for (const candidate of plan.remove) {
          await deleteBackupFile(catalog, candidate.backup);
          removedIds.push(candidate.backup.id);
          this.logger.info('pruned backup', {
            backup_id: candidate.backup.id,
            reason: candidate.reason,
          });
        }
      }
      return { ...plan, dryRun, removedIds };
    });
  }

  async restoreToFile(
    target: 'latest' | number,
    targetPath: string,
    options: RestoreToFileOptions = {},
  ): Promise<RestoredFile> {
    return this.locked('restore-file', async (catalog) => {
      const backup =
        target === 'latest'
          ? latestVerifiedOrThrow(catalog, this.app)
          : findBackup(catalog, target);
      const restored = await runStep(this.emit, 'restore-file', 'restore', () =>
        restoreFileTo(backup.path, targetPath, {
          force: options.force === true,
          journalMode: options.journalMode ?? backup.sourceJournalMode,
          expectedSha256: backup.sha256,
          check: options.check ?? this.check,
          now: this.now,
        }),
      );
      this.logger.info('restored backup to a local file', {
        backup_id: backup.id,
        path: restored.path,
        previous_path: restored.previousPath,
      });
      return restored;
    });
  }

  async sweep(): Promise<SweepResult> {
    return this.locked('sweep', async () => ({ tempFiles: [], orphanFiles: [] }));
  }

  async close(): Promise<void> {
    const pending = this.catalogPromise;
    this.catalogPromise = undefined;
    if (pending !== undefined) {
      (await pending).close();
    }
  }

  private catalog(): Promise<Catalog> {
    if (this.catalogPromise === undefined) {
      this.catalogPromise = ensureStateDir(this.stateDir).then((dir) => Catalog.open(dir));
      this.catalogPromise.catch(() => {
        this.catalogPromise = undefined;
      });
    }
    return this.catalogPromise;
  }

  /** Runs `fn` under the app lock, after sweeping leftovers of interrupted runs. */
  private async locked<T>(
    operation: DrOperation | 'sweep',
    fn: (catalog: Catalog) => Promise<T>,
  ): Promise<T> {
    const catalog = await this.catalog();
    const lock = await acquireAppLock(catalog.stateDir, operation);
    try {
      const swept = await sweepStateDir(catalog, this.logger);
      if (operation === 'sweep') {
        return swept as T;
      }
      return await fn(catalog);
    } finally {
      await lock.release();
    }
  }

  private selectForVerify(catalog: Catalog, target: VerifyTarget): BackupRecord[] {
    if (target === 'all') {
      return catalog.listBackups();
    }
    if (target === 'latest') {
      const newest = catalog.listBackups()[0];
      if (newest === undefined) {
        throw noBackupsError(this.app, catalog);
      }
      return [newest];
    }
    return [findBackup(catalog, target)];
  }

  private newRecord(
    snapshot: CheckpointedDatabase,
    fileName: string,
    databasePath: string,
    startedAt: Date,
    meta: BackupFileOptions & Pick<NewBackupRecord, 'strategy' | 'reason'>,
  ): NewBackupRecord {
    const finishedAt = this.now().toISOString();
    return {
      app: this.app,
      fileName,
      databasePath,
      region: meta.region ?? null,
      machineId: meta.machineId ?? null,
      volumeId: meta.volumeId ?? null,
      imageRef: meta.imageRef ?? null,
      strategy: meta.strategy,
      reason: meta.reason,
      startedAt: startedAt.toISOString(),
      finishedAt,
      size: snapshot.size,
      sha256: snapshot.sha256,
      check: snapshot.check,
      checkResult: snapshot.checkResult,
      status: 'verified',
      verifiedAt: finishedAt,
      description: snapshot.description,
      sourceJournalMode: snapshot.sourceJournalMode,
    };
  }
}

async function connect(
  factory: MachineTransportFactory,
  machine: Parameters<MachineTransportFactory>[0],
  databasePath: string,
): Promise<MachineTransport> {
  try {
    return await factory(machine);
  } catch (error) {
    throw transferError(error, 'connect', machine.id, databasePath);
  }
}

function findBackup(catalog: Catalog, id: number): BackupRecord {
  const backup = Number.isInteger(id) ? catalog.getBackup(id) : undefined;
  if (backup === undefined) {
    throw new DrError(
      'DR_BACKUP_NOT_FOUND',
      `backup ${String(id)} is not in the catalog ${catalog.path}`,
      'List the backups with `flydr backups list` and pass one of their ids.',
      { backupId: id },
    );
  }
  return backup;
}

function latestVerifiedOrThrow(catalog: Catalog, app: string): BackupRecord {
  const backup = catalog.latestVerified();
  if (backup === undefined) {
    throw noBackupsError(app, catalog);
  }
  return backup;
}

function noBackupsError(app: string, catalog: Catalog): DrError {
  return new DrError(
    'DR_BACKUP_NOT_FOUND',
    `no verified backup of ${app} in the catalog ${catalog.path}`,
    'Take one with `flydr backup` first.',
    { path: catalog.path },
  );
}
