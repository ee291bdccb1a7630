import { rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CheckpointedDatabase, checkpointInPlace } from './checkpoint.js';
import { DrError, errnoOf, messageOf } from './errors.js';
import { type DrEventListener, type DrOperation, runStep } from './events.js';
import type { MachineTransport, TransferProgress } from './fly-types.js';
import type { DrLogger } from './logger.js';
import {
  readRemoteState,
  remoteDatabaseMissing,
  remoteFreeBytes,
  remoteHasSqlite3,
  remoteTempPath,
  transferError,
} from './remote-database.js';
import { diffLiveDatabaseState, type LiveDatabaseState } from './sqlite-header.js';
import { retryAfterDrop } from './transport-reconnect.js';
import type { CheckKind } from './verify.js';

/** Method of a remote snapshot. `auto` picks `sqlite3-backup` when the image has sqlite3. */
export type RemoteStrategy = 'sqlite3-backup' | 'copy-validate';

/** Direction and path of a transfer, with its progress. */
export interface SnapshotProgress extends TransferProgress {
  direction: 'download' | 'upload';
  path: string;
}

/** Inputs of a remote snapshot. */
export interface RemoteSnapshotOptions {
  transport: MachineTransport;
  /** Database path on the machine. */
  databasePath: string;
  /** Local file the snapshot ends in; its directory must be private to this run. */
  outputPath: string;
  /** @default 'quick' */
  check?: CheckKind;
  signal?: AbortSignal;
  logger: DrLogger;
  onProgress?: (progress: SnapshotProgress) => void;
  /** copy-validate: copies tried before giving up on a database that keeps changing. @default 5 */
  maxAttempts?: number;
  /** copy-validate: pause before the first retry, doubled each time. @default 200 */
  retryDelayMs?: number;
  /** Deadline of the remote `sqlite3 .backup` command. @default 600000 */
  commandTimeoutMs?: number;
  /** Idle timeout of each transfer. @default the transport's */
  idleTimeoutMs?: number;
  /** Receives `step-start`/`step-end` of the snapshot's own steps (remote copy, download, checkpoint). */
  onEvent?: DrEventListener;
  /** Operation named in those events. @default 'backup' */
  operation?: DrOperation;
}

/** A verified local snapshot of a remote database. */
export interface RemoteSnapshot extends CheckpointedDatabase {
  strategy: RemoteStrategy;
  /** Copies made; more than 1 when copy-validate saw the database change and retried. */
  attempts: number;
  /** Bytes downloaded, over all attempts. */
  transferredBytes: number;
}

/** Extra room left on the volume beyond the snapshot's own size. */
const FREE_SPACE_MARGIN_BYTES = 1024 * 1024;

/**
 * Picks the snapshot strategy: the requested one, or for `auto`, `sqlite3-backup` when
 * `command -v sqlite3` finds the shell on the machine and `copy-validate` otherwise.
 *
 * @throws DrError `DR_INVALID_INPUT` when `sqlite3-backup` is requested and the machine
 *   has no sqlite3.
 */
export async function chooseStrategy(
  transport: MachineTransport,
  requested: RemoteStrategy | 'auto',
): Promise<RemoteStrategy> {
  if (requested === 'copy-validate') {
    return requested;
  }
  const hasSqlite3 = await remoteHasSqlite3(transport).catch((error: unknown) => {
    throw transferError(error, 'command -v sqlite3', transport.machineId, 'sqlite3');
  });
  if (requested === 'sqlite3-backup' && !hasSqlite3) {
    throw new DrError(
      'DR_INVALID_INPUT',
      `strategy sqlite3-backup needs the sqlite3 shell, and machine ${transport.machineId} has none`,
      'Use the copy-validate strategy (or auto), or add sqlite3 to the app image.',
      { machineId: transport.machineId },
    );
  }
  return hasSqlite3 ? 'sqlite3-backup' : 'copy-validate';
}

/**
 * Takes a consistent snapshot of a live remote database with the given strategy, and
 * leaves it verified at `outputPath` as one self-contained file.
 *
 * @throws DrError `DR_REMOTE_DB_MISSING`, `DR_NO_SPACE` (local disk, or the volume for
 *   sqlite3-backup), `DR_CONCURRENT_CHANGE`, `DR_REMOTE_COMMAND`, `DR_TRANSFER_FAILED`,
 *   `DR_MACHINE_NOT_STARTED`, and the verify errors.
 */
export async function takeRemoteSnapshot(
  strategy: RemoteStrategy,
  options: RemoteSnapshotOptions,
): Promise<RemoteSnapshot> {
  try {
    return strategy === 'sqlite3-backup'
      ? await snapshotWithSqlite3Backup(options)
      : await snapshotWithCopyValidate(options);
  } catch (error) {
    throw transferError(
      error,
      `${strategy} snapshot`,
      options.transport.machineId,
      options.databasePath,
    );
  }
}

/**
 * sqlite3-backup: the sqlite3 shell on the machine copies the database with SQLite's
 * online backup into a temporary file on the volume, which is downloaded and removed.
 */
export async function snapshotWithSqlite3Backup(
  options: RemoteSnapshotOptions,
): Promise<RemoteSnapshot> {
  const { transport, databasePath, outputPath } = options;
  const before = await readRemoteState(transport, databasePath, options.signal);
  await checkVolumeRoom(transport, databasePath, before);

  // Each run of sqlite3 writes its own temporary file; all of them are removed below.
  const remoteTemps: string[] = [];
  let transferredBytes = 0;
  let knownSha256: string | undefined;
  try {
    const remoteTemp = await step(options, 'remote-copy', () =>
      runSqlite3Backup(options, remoteTemps),
    );
    const result = await step(options, 'download', () =>
      transport
        .download(remoteTemp, outputPath, transferOptions(options, 'download', databasePath))
        .catch((error: unknown) => {
          throw transferError(error, 'download of the snapshot', transport.machineId, remoteTemp);
        }),
    );
    transferredBytes = result.bytes;
    knownSha256 = result.sha256;
  } finally {
    // NOTE: when the connection is gone this removal fails too, and the snapshot file stays
    // on the volume under its .flydr-snapshot- name until someone deletes it.
    for (const remoteTemp of remoteTemps) {
      await transport.remove(remoteTemp).catch((error: unknown) => {
        options.logger.warn('could not remove the snapshot file on the volume', {
          machine_id: transport.machineId,
          path: remoteTemp,
          error: messageOf(error),
        });
      });
    }
  }

  const checkpointed = await step(options, 'checkpoint', () =>
    checkpointInPlace(outputPath, { ...checkOption(options), knownSha256 }),
  );
  return {
    ...checkpointed,
    sourceJournalMode: before.database.writeVersion === 2 ? 'wal' : 'delete',
    strategy: 'sqlite3-backup',
    attempts: 1,
    transferredBytes,
  };
}

async function checkVolumeRoom(
  transport: MachineTransport,
  databasePath: string,
  state: LiveDatabaseState,
): Promise<void> {
  // The backup is at most the database's pages plus those in the WAL.
  const needed = state.databaseSize + state.walSize + FREE_SPACE_MARGIN_BYTES;
  const directory = posix.dirname(databasePath);
  const free = await remoteFreeBytes(transport, directory);
  if (free < needed) {
    throw new DrError(
      'DR_NO_SPACE',
      `volume at ${directory} on machine ${transport.machineId} has ${free} bytes free; the snapshot needs about ${needed}`,
      'Use the copy-validate strategy, which needs no room on the volume, or extend the volume (fly volumes extend).',
      { machineId: transport.machineId, path: directory, free, needed },
    );
  }
}

/**
 * Runs `sqlite3 DB .backup TEMP` on the machine, again into a new temporary file after a
 * dropped connection, and returns the temporary file that contains the copy. `remoteTemps`
 * receives every temporary name used, for the caller to remove.
 */
async function runSqlite3Backup(
  options: RemoteSnapshotOptions,
  remoteTemps: string[],
): Promise<string> {
  const { transport, databasePath } = options;
  let remoteTemp = '';
  const output = await retryAfterDrop(
    'sqlite3 .backup',
    transport.machineId,
    options.logger,
    () => {
      // The temporary name is generated without quotes, so it is safe inside '...'.
      remoteTemp = remoteTempPath(databasePath, 'snapshot');
      remoteTemps.push(remoteTemp);
      return transport.exec(['sqlite3', databasePath, `.backup '${remoteTemp}'`], {
        allowFailure: true,
        timeoutMs: options.commandTimeoutMs ?? 600_000,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    },
  ).catch((error: unknown) => {
    throw transferError(error, 'sqlite3 .backup', transport.machineId, databasePath);
  });
  if (output.exitCode !== 0) {
    const stderr = output.stderr.toString('utf8').trim();
    if (/unable to open database/i.test(stderr)) {
      throw remoteDatabaseMissing(transport.machineId, databasePath);
    }
    throw new DrError(
      'DR_REMOTE_COMMAND',
      `sqlite3 .backup of ${databasePath} on machine ${transport.machineId} failed (exit ${output.exitCode}): ${stderr}`,
      'Check the database on the machine, or use the copy-validate strategy.',
      { machineId: transport.machineId, path: databasePath, exitCode: output.exitCode },
    );
  }
  return remoteTemp;
}

/**
 * copy-validate: reads the database and WAL headers and sizes, downloads the database
 * and its `-wal`, and reads the headers again. When anything moved it copies again, and
 * otherwise it checkpoints the pair locally. It needs nothing on the machine but file
 * access.
 */
export async function snapshotWithCopyValidate(
  options: RemoteSnapshotOptions,
): Promise<RemoteSnapshot> {
  const { transport, databasePath, outputPath } = options;
  const maxAttempts = options.maxAttempts ?? 5;
  let delayMs = options.retryDelayMs ?? 200;
  let transferredBytes = 0;
  let lastChange = '';

  for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
    const copy = await step(options, 'download', () => copyPairOnce(options));
    transferredBytes += copy.bytes;
    if (copy.changes.length === 0) {
      const checkpointed = await step(options, 'checkpoint', () =>
        checkpointInPlace(outputPath, { ...checkOption(options), knownSha256: copy.mainSha256 }),
      );
      return {
        ...checkpointed,
        sourceJournalMode: copy.before.database.writeVersion === 2 ? 'wal' : 'delete',
        strategy: 'copy-validate',
        attempts: attempt,
        transferredBytes,
      };
    }
    lastChange = copy.changes.join(', ');
    options.logger.info('database changed during the copy; copying again', {
      machine_id: transport.machineId,
      path: databasePath,
      attempt,
      changes: lastChange,
    });
    if (attempt < maxAttempts) {
      await sleep(
        delayMs,
        undefined,
        options.signal === undefined ? {} : { signal: options.signal },
      );
      delayMs *= 2;
    }
  }
  throw new DrError(
    'DR_CONCURRENT_CHANGE',
    `database ${databasePath} on machine ${transport.machineId} changed during each of ${maxAttempts} copies (last: ${lastChange})`,
    'Use the sqlite3-backup strategy (needs sqlite3 in the image), or back up at a quieter time.',
    { machineId: transport.machineId, path: databasePath },
  );
}

interface PairCopy {
  before: LiveDatabaseState;
  bytes: number;
  /** sha256 of the downloaded main file, as the transfer verified it. */
  mainSha256?: string;
  /** Fields that moved between the two reads, empty for a consistent copy. */
  changes: string[];
}

async function copyPairOnce(options: RemoteSnapshotOptions): Promise<PairCopy> {
  const { transport, databasePath, outputPath } = options;
  const walPath = `${databasePath}-wal`;
  await rm(outputPath, { force: true });
  await rm(`${outputPath}-wal`, { force: true });

  const before = await readRemoteState(transport, databasePath, options.signal);
  const journal = await transport.stat(`${databasePath}-journal`);
  if (journal !== undefined && journal.size > 0) {
    return { before, bytes: 0, changes: ['a rollback journal exists (a write is in progress)'] };
  }

  let bytes = 0;
  let mainSha256: string | undefined;
  try {
    const main = await transport.download(databasePath, outputPath, {
      ...transferOptions(options, 'download', databasePath),
      resume: false,
    });
    bytes += main.bytes;
    mainSha256 = main.sha256;
    if (before.walSize > 0) {
      const wal = await transport
        .download(walPath, `${outputPath}-wal`, {
          ...transferOptions(options, 'download', walPath),
          resume: false,
        })
        .catch((error: unknown) => {
          // The app closing the database removes its WAL: a change, not a missing database.
          if (errnoOf(error) === 'TRANSPORT_REMOTE_NOT_FOUND') {
            return undefined;
          }
          throw error;
        });
      if (wal === undefined) {
        return { before, bytes, changes: ['the WAL was removed during the copy'] };
      }
      bytes += wal.bytes;
    }
  } catch (error) {
    // The transport compares the sha256 of both ends: a file written during the copy
    // fails that comparison, which is one more sign of a concurrent change.
    if (errnoOf(error) === 'TRANSPORT_CHECKSUM_MISMATCH') {
      return { before, bytes, changes: [`checksum changed during the copy (${messageOf(error)})`] };
    }
    throw transferError(error, 'download', transport.machineId, databasePath);
  }

  const after = await readRemoteState(transport, databasePath, options.signal);
  return {
    before,
    bytes,
    changes: diffLiveDatabaseState(before, after),
    ...(mainSha256 === undefined ? {} : { mainSha256 }),
  };
}

function checkOption(options: RemoteSnapshotOptions): { check?: CheckKind } {
  return options.check === undefined ? {} : { check: options.check };
}

/** Runs a snapshot step, with events when the caller asked for them. */
function step<T>(options: RemoteSnapshotOptions, name: string, fn: () => Promise<T>): Promise<T> {
  if (options.onEvent === undefined) {
    return fn();
  }
  return runStep(options.onEvent, options.operation ?? 'backup', name, fn);
}

function transferOptions(
  options: RemoteSnapshotOptions,
  direction: 'download' | 'upload',
  path: string,
) {
  return {
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
    onProgress: (progress: TransferProgress) => {
      options.onProgress?.({ ...progress, direction, path });
    },
  };
}
