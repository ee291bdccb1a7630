import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { withLease } from '@flydr/fly-client';
import { PARTIAL_SUFFIX } from '@flydr/fly-client/transport';
import { utcTimestamp } from './backup-store.js';
import type { BackupRecord, Catalog } from './catalog.js';
import { tempPathFor } from './durable-fs.js';
import { DrError, messageOf } from './errors.js';
import { type DrEventListener, runStep } from './events.js';
import type {
  FlyClient,
  MachineConfig,
  MachineTransport,
  MachineTransportFactory,
} from './fly-types.js';
import type { DrLogger } from './logger.js';
import { type HealthWaitOptions, waitForHealthy } from './machine-health.js';
import { applyConfig, maintenanceConfig } from './maintenance-mode.js';
import { backupFromMachine } from './remote-backup.js';
import { remoteFreeBytes, remoteTempPath, transferError } from './remote-database.js';
import type { RemoteStrategy } from './remote-snapshot.js';
import { restoreFileTo, SIDECAR_SUFFIXES } from './restore-file.js';
import type { SelectedMachine } from './source-machine.js';
import { applyConfigStopped, isMaintenanceConfig } from './stopped-config.js';
import { closeWithin } from './transfer-deadline.js';
import type { CheckKind } from './verify.js';

/** Context of a restore onto a machine: app, client, transports, catalog, logger. */
export interface RemoteRestoreContext {
  app: string;
  databasePath: string;
  client: FlyClient;
  transportFactory: MachineTransportFactory;
  catalog: Catalog;
  logger: DrLogger;
  emit: DrEventListener;
  now: () => Date;
}

/** Options of a restore onto a machine. */
export interface RemoteRestoreOptions {
  /**
   * `GET` this URL after the restore; anything but 2xx rolls the restore back. A function
   * gets the machine on every poll.
   */
  healthUrl?: HealthWaitOptions['healthUrl'];
  /**
   * Strategy of the copy of the current database taken first. The app is stopped by then,
   * so copy-validate is consistent, needs no room on the volume and only reads the old
   * files. @default 'copy-validate'
   */
  strategy?: RemoteStrategy | 'auto';
  /** @default 'quick' */
  check?: CheckKind;
  /** Budget for each wait for `started`. @default 120000 */
  startTimeoutMs?: number;
  /** Budget for checks and the health URL to pass. @default 120000 */
  healthTimeoutMs?: number;
  /** Pause between health polls. @default 500 */
  healthPollMs?: number;
  /**
   * Replace a current database that fails verification (not SQLite, truncated or
   * corrupt) without the verified local copy that is otherwise required. Its files are
   * still kept aside on the volume. @default false
   */
  replaceDamaged?: boolean;
  /** Fails the upload when no byte moves for this long. @default the transport's */
  idleTimeoutMs?: number;
  /** Fails the upload when it has not finished this long after it started. */
  deadlineMs?: number;
  /** Lease length on the machine, refreshed while the restore runs. @default 60 */
  leaseTtlSeconds?: number;
  /**
   * How the machine ends: `started` runs the app and waits for its health; `stopped` stops
   * the machine and puts its config back without starting the app, also after a rollback,
   * for a failover target that must not serve yet; `maintenance` leaves it started in
   * maintenance mode after the swap (the caller puts the config back), and a rollback ends
   * it stopped with its config back. @default 'started'
   */
  finish?: 'started' | 'stopped' | 'maintenance';
  /**
   * The machine's normal config, when the caller already put it into maintenance mode and it
   * is started: the restore then skips that config update.
   */
  normalConfig?: MachineConfig;
  /**
   * Called with the verified copy of the current database (undefined when there is none)
   * before anything on the volume changes. Throwing cancels the restore, which is then
   * rolled back; the divergence check uses it.
   */
  beforeUpload?: (current: BackupRecord | undefined) => Promise<void>;
  signal?: AbortSignal;
}

/** Report of a restore onto a machine. */
export interface RemoteRestoreReport {
  backup: BackupRecord;
  machineId: string;
  /** The verified copy of the database that was replaced; absent when there was none. */
  preRestoreBackup?: BackupRecord;
  /** Files moved aside on the volume, as `from -> to`. */
  movedAside: { from: string; to: string }[];
  durationMs: number;
}

interface RestoreState {
  /** Private local folder of this restore. */
  workDir: string;
  savedConfig?: MachineConfig;
  /** The verified copy of the database being replaced. */
  preRestoreBackup?: BackupRecord;
  /** Set once the old files were deleted from the volume to make room: the copy to put back. */
  removedOld?: BackupRecord;
  inMaintenance: boolean;
  transport?: MachineTransport;
  uploadedTemp?: string;
  movedAside: { from: string; to: string }[];
  swapped: boolean;
  configRestored: boolean;
}

/**
 * Restores a catalogued backup onto a machine in maintenance mode. It saves the machine's
 * config and updates it so the machine stays started without the app. It takes and
 * catalogues a verified copy of the current database, then uploads the backup to a
 * temporary name, and the transport compares sha256 at both ends. It moves the old
 * database and its `-wal`/`-shm` aside as `<db>.flydr-prev-<time>` on the volume and
 * renames the new file in. When the volume has no room for both, the old files are deleted
 * instead, because their verified copy is already local. Finally it restores the config and waits for `started`,
 * passing checks and the health URL. Any failure after the config changed puts the old
 * database and the config back. The machine's lease is held throughout.
 *
 * @throws DrError `DR_NO_SPACE` when the volume cannot hold the upload.
 * @throws DrError `DR_HEALTH_FAILED` after a rolled-back restore whose app did not become
 *   healthy.
 * @throws DrError `DR_RESTORE_FAILED` when the rollback itself failed. The hint names
 *   where the old files and the saved config are.
 * @throws FlyLeaseConflictError (`FLY_LEASE_CONFLICT`) when another operator holds the
 *   machine's lease, and the errors of the individual steps.
 */
export async function restoreOntoMachine(
  context: RemoteRestoreContext,
  backup: BackupRecord,
  target: SelectedMachine,
  options: RemoteRestoreOptions = {},
): Promise<RemoteRestoreReport> {
  const started = Date.now();
  const machineId = target.machine.id;
  const workDir = tempPathFor(join(context.catalog.stateDir, `restore-${backup.id}`));
  await mkdir(workDir, { mode: 0o700 });
  try {
    const uploadFile = join(workDir, posix.basename(context.databasePath));
    const prepared = await runStep(context.emit, 'restore', 'prepare', () =>
      restoreFileTo(backup.path, uploadFile, {
        journalMode: backup.sourceJournalMode,
        expectedSha256: backup.sha256,
        ...(options.check === undefined ? {} : { check: options.check }),
      }),
    );

    return await withLease(
      context.client,
      context.app,
      machineId,
      {
        ttlSeconds: options.leaseTtlSeconds ?? 60,
        description: `flydr restore of backup ${backup.id}`,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
      async () => {
        const state: RestoreState = {
          workDir,
          inMaintenance: false,
          movedAside: [],
          swapped: false,
          configRestored: false,
        };
        try {
          const preRestoreBackup = await runRestoreSteps(
            context,
            target,
            options,
            state,
            uploadFile,
            prepared.verified.sha256,
            prepared.verified.size,
          );
          return {
            backup,
            machineId,
            ...(preRestoreBackup === undefined ? {} : { preRestoreBackup }),
            movedAside: state.movedAside,
            durationMs: Date.now() - started,
          };
        } catch (error) {
          await rollBack(context, machineId, options, state, error);
          throw error;
        } finally {
          await closeWithin(state.transport);
        }
      },
    );
  } finally {
    await rm(workDir, { recursive: true, force: true }).catch(() => {});
  }
}

async function runRestoreSteps(
  context: RemoteRestoreContext,
  target: SelectedMachine,
  options: RemoteRestoreOptions,
  state: RestoreState,
  uploadFile: string,
  uploadSha256: string,
  uploadSize: number,
): Promise<BackupRecord | undefined> {
  const { client, app, databasePath, emit } = context;
  const machineId = target.machine.id;
  const wait = {
    ...(options.startTimeoutMs === undefined ? {} : { timeoutMs: options.startTimeoutMs }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };

  const machine = await runStep(emit, 'restore', 'maintenance', async () => {
    const current = await client.machines.get(app, machineId);
    if (options.normalConfig !== undefined && isMaintenanceConfig(current.config)) {
      state.savedConfig = structuredClone(options.normalConfig);
      state.inMaintenance = true;
      if (current.state === 'started') {
        return current;
      }
      return applyConfig(client, app, machineId, maintenanceConfig(options.normalConfig), wait);
    }
    if (isMaintenanceConfig(current.config)) {
      // Saving this config as the normal one would leave the app off after the restore.
      throw new DrError(
        'DR_REFUSED',
        `machine ${machineId} was left in maintenance mode (its init runs sleep), so its normal config is unknown`,
        'Put the app config back on it (fly machine update with the image and config it should run), then restore again.',
        { machineId },
      );
    }
    state.savedConfig = structuredClone(current.config);
    state.inMaintenance = true;
    return applyConfig(client, app, machineId, maintenanceConfig(current.config), wait);
  });
  state.transport = await runStep(emit, 'restore', 'connect', () =>
    context.transportFactory(machine),
  );
  const transport = state.transport;

  const preRestoreBackup = await runStep(emit, 'restore', 'pre-restore-backup', async () => {
    if ((await transport.stat(databasePath)) === undefined) {
      context.logger.info('no database on the machine yet; nothing to keep', {
        machine_id: machineId,
        path: databasePath,
      });
      return undefined;
    }
    try {
      return await backupFromMachine(
        { ...context, operation: 'restore' },
        { ...target, machine },
        transport,
        {
          reason: 'pre-restore',
          strategy: options.strategy ?? 'copy-validate',
          ...(options.check === undefined ? {} : { check: options.check }),
        },
      );
    } catch (error) {
      if (!(options.replaceDamaged === true && isDamagedDatabase(error))) {
        throw error;
      }
      // The damaged files still go aside on the volume below; only the local copy is skipped.
      context.logger.warn('current database is damaged; replacing it without a local copy', {
        machine_id: machineId,
        path: databasePath,
        error: messageOf(error),
      });
      return undefined;
    }
  });

  state.preRestoreBackup = preRestoreBackup;
  await options.beforeUpload?.(preRestoreBackup);

  await runStep(emit, 'restore', 'upload', () =>
    uploadBackup(
      context,
      transport,
      options,
      state,
      uploadFile,
      uploadSha256,
      uploadSize,
      machineId,
    ),
  );

  // NOTE: the new file belongs to the SSH user (root) with the transport's file mode. An
  // app that runs as another user and cannot write it needs a chown, which flydr does not
  // send yet.
  await runStep(emit, 'restore', 'swap', async () => {
    const aside = `${databasePath}.flydr-prev-${utcTimestamp(context.now())}`;
    for (const suffix of ['', ...SIDECAR_SUFFIXES]) {
      const from = `${databasePath}${suffix}`;
      if ((await transport.stat(from)) !== undefined) {
        const to = `${aside}${suffix}`;
        await transport.rename(from, to);
        state.movedAside.push({ from, to });
      }
    }
    await transport.rename(state.uploadedTemp as string, databasePath);
    state.uploadedTemp = undefined;
    state.swapped = true;
  });

  if (options.finish === 'maintenance') {
    return preRestoreBackup;
  }

  await runStep(emit, 'restore', 'restore-config', async () => {
    await closeWithin(state.transport);
    state.transport = undefined;
    // From here on the app may run, so a rollback must enter maintenance mode again first.
    state.inMaintenance = false;
    await putConfigBack(context, machineId, options, state.savedConfig as MachineConfig, wait);
    state.configRestored = true;
  });
  if (options.finish === 'stopped') {
    return preRestoreBackup;
  }

  await runStep(emit, 'restore', 'health', () =>
    waitForHealthy(client, app, machineId, {
      ...(options.healthUrl === undefined ? {} : { healthUrl: options.healthUrl }),
      ...(options.healthTimeoutMs === undefined ? {} : { timeoutMs: options.healthTimeoutMs }),
      ...(options.healthPollMs === undefined ? {} : { pollMs: options.healthPollMs }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    }),
  );
  return preRestoreBackup;
}

/** Puts the saved config back: started, or stopped for `finish: 'stopped'` and `'maintenance'`. */
async function putConfigBack(
  context: RemoteRestoreContext,
  machineId: string,
  options: RemoteRestoreOptions,
  config: MachineConfig,
  wait: { timeoutMs?: number; signal?: AbortSignal },
): Promise<void> {
  if (options.finish === 'stopped' || options.finish === 'maintenance') {
    await applyConfigStopped(context.client, context.app, machineId, config, wait);
  } else {
    await applyConfig(context.client, context.app, machineId, config, wait);
  }
}

/** Uploads the prepared file to a temporary name on the volume and checks its sha256. */
async function uploadBackup(
  context: RemoteRestoreContext,
  transport: MachineTransport,
  options: RemoteRestoreOptions,
  state: RestoreState,
  uploadFile: string,
  uploadSha256: string,
  uploadSize: number,
  machineId: string,
): Promise<void> {
  const { databasePath, emit } = context;
  await makeRoomForUpload(context, transport, state, uploadSize);
  const remoteTemp = remoteTempPath(databasePath, 'restore');
  state.uploadedTemp = remoteTemp;
  const result = await transport
    .upload(uploadFile, remoteTemp, {
      ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
      ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      onProgress: (progress) =>
        emit({
          type: 'transfer-progress',
          operation: 'restore',
          direction: 'upload',
          path: databasePath,
          ...progress,
        }),
    })
    .catch((error: unknown) => {
      throw transferError(error, 'upload of the backup', machineId, remoteTemp);
    });
  if (result.sha256 !== uploadSha256) {
    throw new DrError(
      'DR_TRANSFER_FAILED',
      `uploaded file ${remoteTemp} has sha256 ${result.sha256}, not ${uploadSha256}`,
      'Run the restore again; the old database is still in place.',
      { machineId, path: remoteTemp },
    );
  }
}

/** Extra room left on the volume beyond the uploaded file. */
const UPLOAD_MARGIN_BYTES = 1024 * 1024;

/**
 * Checks that the volume has room for the upload. The old files are only renamed aside,
 * so they need no room while the volume has enough. When it does not, and a verified local
 * copy of the old database exists, the old files are deleted from the volume to make room,
 * and a rollback uploads that copy back.
 *
 * @throws DrError `DR_NO_SPACE` when even that would not make enough room.
 */
async function makeRoomForUpload(
  context: RemoteRestoreContext,
  transport: MachineTransport,
  state: RestoreState,
  size: number,
): Promise<void> {
  const { databasePath } = context;
  const directory = posix.dirname(databasePath);
  const free = await remoteFreeBytes(transport, directory);
  const needed = size + UPLOAD_MARGIN_BYTES;
  if (free >= needed) {
    return;
  }

  const oldFiles: string[] = [];
  let oldBytes = 0;
  for (const suffix of ['', ...SIDECAR_SUFFIXES]) {
    const info = await transport.stat(`${databasePath}${suffix}`);
    if (info !== undefined) {
      oldFiles.push(`${databasePath}${suffix}`);
      oldBytes += info.size;
    }
  }
  const copy = state.preRestoreBackup;
  if (copy === undefined || free + oldBytes < needed) {
    throw new DrError(
      'DR_NO_SPACE',
      `volume at ${directory} on machine ${transport.machineId} has ${free} bytes free; the restore needs ${needed}`,
      'Extend the volume (fly volumes extend) or remove old .flydr-prev files on it, then restore again.',
      { machineId: transport.machineId, path: directory, free },
    );
  }

  context.logger.warn('no room for the upload beside the old database; deleting the old files', {
    machine_id: transport.machineId,
    path: databasePath,
    kept_as_backup_id: copy.id,
  });
  state.removedOld = copy;
  for (const path of oldFiles) {
    await transport.remove(path);
  }
}

/**
 * Puts the old database and the saved config back after a failed restore. Runs in
 * maintenance mode, so the app never has its database swapped under it.
 */
async function rollBack(
  context: RemoteRestoreContext,
  machineId: string,
  options: RemoteRestoreOptions,
  state: RestoreState,
  cause: unknown,
): Promise<void> {
  const { client, app, logger } = context;
  if (state.savedConfig === undefined) {
    return;
  }
  logger.warn('restore failed; putting the old database and config back', {
    app,
    machine_id: machineId,
    error: messageOf(cause),
  });
  const wait = {
    ...(options.startTimeoutMs === undefined ? {} : { timeoutMs: options.startTimeoutMs }),
  };
  try {
    if (state.swapped || state.uploadedTemp !== undefined || state.removedOld !== undefined) {
      if (!state.inMaintenance) {
        await applyConfig(client, app, machineId, maintenanceConfig(state.savedConfig), wait);
        state.inMaintenance = true;
      }
      await closeWithin(state.transport);
      const machine = await client.machines.get(app, machineId);
      state.transport = await context.transportFactory(machine);
      await putOldDatabaseBack(context, state.transport, state);
    }
    if (state.inMaintenance || !state.configRestored) {
      await closeWithin(state.transport);
      state.transport = undefined;
      await putConfigBack(context, machineId, options, state.savedConfig, wait);
      state.inMaintenance = false;
    }
    logger.info('restore rolled back', { app, machine_id: machineId });
  } catch (rollbackError) {
    const configPath = await saveConfigForHands(context, machineId, state.savedConfig);
    const oldFiles =
      state.removedOld === undefined
        ? state.movedAside.map((m) => m.to).join(', ') || 'still in place'
        : `gone from the volume; restore backup ${state.removedOld.id} from the local catalog`;
    throw new DrError(
      'DR_RESTORE_FAILED',
      `restore onto machine ${machineId} failed (${messageOf(cause)}) and so did the rollback (${messageOf(rollbackError)})`,
      `Fix it by hand: the old database files are ${oldFiles}, and the machine's original config is saved in ${configPath ?? 'no file (writing it failed too)'}.`,
      { machineId, cause: rollbackError, movedAside: state.movedAside, configPath },
    );
  }
}

/**
 * Writes the machine's original config to the state directory (mode 0600), so it can be
 * put back by hand. The config is kept out of the error itself, because it may carry file
 * contents that must not end up in logs. Returns the path, or undefined when writing fails.
 */
/** Tells whether a snapshot failed because the database itself is damaged. */
function isDamagedDatabase(error: unknown): boolean {
  return (
    error instanceof DrError &&
    ['DR_CORRUPT', 'DR_NOT_SQLITE', 'DR_TRUNCATED', 'DR_EMPTY_FILE'].includes(error.code)
  );
}

async function saveConfigForHands(
  context: RemoteRestoreContext,
  machineId: string,
  config: MachineConfig,
): Promise<string | undefined> {
  const path = join(
    context.catalog.stateDir,
    `machine-config-${machineId}-${utcTimestamp(context.now())}.json`,
  );
  try {
    await writeFile(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    return path;
  } catch {
    return undefined;
  }
}

async function putOldDatabaseBack(
  context: RemoteRestoreContext,
  transport: MachineTransport,
  state: RestoreState,
): Promise<void> {
  const { databasePath } = context;
  if (state.uploadedTemp !== undefined) {
    // The transport writes `<name>.flydr-partial` first and renames it when complete.
    await transport.remove(state.uploadedTemp);
    await transport.remove(`${state.uploadedTemp}${PARTIAL_SUFFIX}`);
    state.uploadedTemp = undefined;
  }
  if (state.swapped) {
    // Keep the restored files for inspection, unless the volume lacks the room for the old
    // copy: the restored file is a catalogued backup, so deleting it loses nothing.
    const failed = `${databasePath}.flydr-failed-${utcTimestamp(context.now())}`;
    for (const suffix of ['', ...SIDECAR_SUFFIXES]) {
      const path = `${databasePath}${suffix}`;
      if ((await transport.stat(path)) === undefined) {
        continue;
      }
      if (state.removedOld === undefined) {
        await transport.rename(path, `${failed}${suffix}`);
      } else {
        await transport.remove(path);
      }
    }
    state.swapped = false;
  }
  for (const entry of [...state.movedAside].reverse()) {
    await transport.rename(entry.to, entry.from);
  }
  state.movedAside = [];
  if (state.removedOld !== undefined) {
    await uploadOldCopy(context, transport, state, state.removedOld);
    state.removedOld = undefined;
  }
}

/** Puts the verified local copy of the old database back in place on the volume. */
async function uploadOldCopy(
  context: RemoteRestoreContext,
  transport: MachineTransport,
  state: RestoreState,
  copy: BackupRecord,
): Promise<void> {
  const { databasePath } = context;
  const local = join(state.workDir, `previous-${posix.basename(databasePath)}`);
  await rm(local, { force: true });
  const prepared = await restoreFileTo(copy.path, local, {
    journalMode: copy.sourceJournalMode,
    expectedSha256: copy.sha256,
  });
  const remoteTemp = remoteTempPath(databasePath, 'rollback');
  const result = await transport.upload(local, remoteTemp);
  if (result.sha256 !== prepared.verified.sha256) {
    await transport.remove(remoteTemp);
    throw new DrError(
      'DR_TRANSFER_FAILED',
      `upload of the old database copy to ${remoteTemp} has sha256 ${result.sha256}, not ${prepared.verified.sha256}`,
      `Restore backup ${copy.id} from the local catalog onto the machine.`,
      { machineId: transport.machineId, path: remoteTemp },
    );
  }
  await transport.rename(remoteTemp, databasePath);
}
