import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { DrError, errnoOf, messageOf } from './errors.js';
import type { MachineTransport } from './fly-types.js';
import {
  DATABASE_HEADER_LENGTH,
  type LiveDatabaseState,
  parseDatabaseHeader,
  parseWalHeader,
  WAL_HEADER_LENGTH,
} from './sqlite-header.js';
import { retryAfterDrop } from './transport-reconnect.js';

/**
 * Reads the sizes and headers of a database and its `-wal` on a machine, the state that
 * copy-validate compares before and after copying.
 *
 * @throws DrError `DR_REMOTE_DB_MISSING` when the database does not exist, or the header
 *   errors of {@link parseDatabaseHeader} naming the remote path.
 */
export async function readRemoteState(
  transport: MachineTransport,
  databasePath: string,
  signal?: AbortSignal,
): Promise<LiveDatabaseState> {
  const options = signal === undefined ? {} : { signal };
  const walPath = `${databasePath}-wal`;
  // Independent reads go out together: every round trip to the machine widens the window
  // in which a write can slip between the two states.
  const [info, walInfo] = await Promise.all([
    transport.stat(databasePath, options),
    transport.stat(walPath, options),
  ]);

  if (info === undefined) {
    throw remoteDatabaseMissing(transport.machineId, databasePath);
  }
  const walHasHeader = walInfo !== undefined && walInfo.size >= WAL_HEADER_LENGTH;
  const [head, walHead] = await Promise.all([
    transport.readRange(databasePath, 0, DATABASE_HEADER_LENGTH, options),
    walHasHeader
      ? transport.readRange(walPath, 0, WAL_HEADER_LENGTH, options).catch((error: unknown) => {
          // A WAL removed after its stat (the app closed the database) reads as no WAL.
          if (errnoOf(error) === 'TRANSPORT_REMOTE_NOT_FOUND') {
            return undefined;
          }
          throw error;
        })
      : undefined,
  ]);

  const database = parseDatabaseHeader(head, `${transport.machineId}:${databasePath}`);
  const wal =
    walHead === undefined
      ? undefined
      : parseWalHeader(walHead, `${transport.machineId}:${walPath}`);
  if (walHasHeader && walHead === undefined) {
    return { databaseSize: info.size, database, walSize: 0, wal };
  }
  return { databaseSize: info.size, database, walSize: walInfo?.size ?? 0, wal };
}

/** Error for a database path that does not exist on the machine. */
export function remoteDatabaseMissing(machineId: string, databasePath: string): DrError {
  return new DrError(
    'DR_REMOTE_DB_MISSING',
    `database ${databasePath} not found on machine ${machineId}`,
    'Check the database path (the app may keep it elsewhere on the volume), and that this machine mounts the volume with the database.',
    { machineId, path: databasePath },
  );
}

/**
 * Returns the bytes available to unprivileged users on the file system holding
 * `directory` on the machine, from `df -Pk`.
 *
 * @throws DrError `DR_REMOTE_COMMAND` when df fails or prints something unexpected.
 */
export async function remoteFreeBytes(
  transport: MachineTransport,
  directory: string,
): Promise<number> {
  // df only reads, so it is sent again on a new connection after a drop.
  const output = await retryAfterDrop('df', transport.machineId, undefined, () =>
    transport.exec(['df', '-Pk', '--', directory], { allowFailure: true }),
  );
  const lines = output.stdout.toString('utf8').trim().split('\n');
  const fields = lines[lines.length - 1]?.trim().split(/\s+/) ?? [];
  const available = Number(fields[3]);
  if (output.exitCode !== 0 || lines.length < 2 || !Number.isFinite(available)) {
    throw new DrError(
      'DR_REMOTE_COMMAND',
      `df -Pk ${directory} on machine ${transport.machineId} failed (exit ${output.exitCode}): ${output.stderr.toString('utf8').trim() || output.stdout.toString('utf8').trim()}`,
      'Check that the volume is mounted on the machine.',
      { machineId: transport.machineId, path: directory },
    );
  }
  return available * 1024;
}

/** Tells whether the machine's image has the sqlite3 command-line shell. */
export async function remoteHasSqlite3(transport: MachineTransport): Promise<boolean> {
  const output = await retryAfterDrop('command -v sqlite3', transport.machineId, undefined, () =>
    transport.exec(['command', '-v', 'sqlite3'], { allowFailure: true }),
  );
  return output.exitCode === 0 && output.stdout.toString('utf8').trim().length > 0;
}

/** Returns a hidden temporary path beside `databasePath` on the volume. */
export function remoteTempPath(databasePath: string, purpose: string): string {
  const random = randomBytes(4).toString('hex');
  // Only safe characters reach the name, because sqlite3's `.backup '…'` takes it quoted.
  const stem = posix.basename(databasePath).replace(/[^A-Za-z0-9._-]/g, '_');
  return posix.join(
    posix.dirname(databasePath),
    `.${stem}.flydr-${purpose}-${Date.now()}-${random}`,
  );
}

/**
 * Converts a transport failure into a DrError that names the failed step: a full local
 * disk becomes `DR_NO_SPACE`, a missing file `DR_REMOTE_DB_MISSING`, a stopped machine
 * `DR_MACHINE_NOT_STARTED`, and anything else `DR_TRANSFER_FAILED`.
 */
export function transferError(
  error: unknown,
  step: string,
  machineId: string,
  path: string,
): DrError {
  if (error instanceof DrError) {
    return error;
  }
  const code = errnoOf(error);
  if (code === 'TRANSPORT_DISK_FULL' || code === 'ENOSPC') {
    return new DrError(
      'DR_NO_SPACE',
      `${step} failed: no space left for ${path}: ${messageOf(error)}`,
      'Free space on the disk that filled up (the state directory, or the volume for an upload), then run the command again.',
      { machineId, path, cause: error },
    );
  }
  if (code === 'TRANSPORT_REMOTE_NOT_FOUND') {
    return new DrError(
      'DR_REMOTE_DB_MISSING',
      `${step} failed: ${path} not found on machine ${machineId}`,
      'Check the database path and that the machine mounts the volume.',
      { machineId, path, cause: error },
    );
  }
  if (code === 'TRANSPORT_NOT_STARTED') {
    return new DrError(
      'DR_MACHINE_NOT_STARTED',
      `${step} failed: machine ${machineId} is not started`,
      `Start it (fly machine start ${machineId}) and run the command again.`,
      { machineId, path, cause: error },
    );
  }
  // A transfer stopped on request (Ctrl-C, an aborted signal) is not a network fault, so
  // its hint does not send the user to check the connection.
  const hint =
    code === 'TRANSPORT_ABORTED'
      ? 'The transfer was stopped on request. The operation reports what it kept; run the command again when ready.'
      : 'Check the connection to the machine and run the command again; this step catalogued nothing.';
  return new DrError(
    'DR_TRANSFER_FAILED',
    `${step} of ${path} on machine ${machineId} failed: ${messageOf(error)}`,
    hint,
    { machineId, path, cause: error, transportCode: code },
  );
}
