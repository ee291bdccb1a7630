import { chmod, copyFile, mkdir, open, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import {
  fsyncDirectory,
  fsyncFile,
  removeQuietly,
  renameDurably,
  sizeIfExists,
  tempPathFor,
} from './durable-fs.js';
import { DrError, fileSystemError, isNoSpaceError, messageOf } from './errors.js';
import { parseWalHeader, readDatabaseHeaderFile, WAL_HEADER_LENGTH } from './sqlite-header.js';
import { type CheckKind, type VerifiedDatabase, verifyDatabaseFile } from './verify.js';

/** Input of {@link checkpointWalPair}. */
export interface CheckpointPairOptions {
  /** Copy of the main database file. */
  databasePath: string;
  /** Copy of its `-wal` file; leave undefined when the database had none. */
  walPath?: string;
  /** Path of the single checkpointed file. It must not exist yet. */
  outputPath: string;
  /** @default 'quick' */
  check?: CheckKind;
}

/** Outcome of a checkpoint: the verified single file and the journal mode of its source. */
export interface CheckpointedDatabase extends VerifiedDatabase {
  /** Journal mode of the source according to its header: `wal` or `delete`. */
  sourceJournalMode: 'wal' | 'delete';
  /** WAL frames (pages) that the checkpoint copied into the main file. */
  walFramesCheckpointed: number;
}

/**
 * Folds a copied database and its `-wal` into one self-contained file at `outputPath` and
 * verifies it. The inputs are never modified: the pair is copied into a temporary
 * directory beside `outputPath` first, because SQLite writes to both files while it
 * checkpoints. The `-shm` is never needed, because SQLite rebuilds the WAL index from the
 * WAL itself.
 *
 * The output keeps the source's journal mode flag (a WAL-mode source gives a WAL-mode file
 * with every frame folded in and no `-wal`). Converting it would rewrite its header, so the
 * sha256 of a verified transfer could not stand for the file. A restore sets the mode it
 * needs anyway. Opening the file read-write makes SQLite create an empty `-wal` and `-shm`
 * beside it, which verification removes again.
 *
 * @throws DrError `DR_NOT_SQLITE`, `DR_TRUNCATED`, `DR_CORRUPT` for bad inputs,
 *   `DR_FILE_EXISTS` when `outputPath` exists, `DR_NO_SPACE` when the disk fills up.
 *   Nothing is left at `outputPath` on failure.
 */
export async function checkpointWalPair(
  options: CheckpointPairOptions,
): Promise<CheckpointedDatabase> {
  const { databasePath, walPath, outputPath } = options;
  if ((await sizeIfExists(outputPath)) !== undefined) {
    throw new DrError(
      'DR_FILE_EXISTS',
      `cannot checkpoint into ${outputPath}: the file exists`,
      'Choose a new output path; flydr never overwrites a file with a checkpoint.',
      { path: outputPath },
    );
  }

  const workDir = tempPathFor(outputPath);
  try {
    await mkdir(workDir, { mode: 0o700 });
    const workDatabase = join(workDir, basename(databasePath));
    await copyInto(databasePath, workDatabase);
    if (walPath !== undefined) {
      await copyInto(walPath, `${workDatabase}-wal`);
    }
    const result = await checkpointInPlace(workDatabase, options.check);
    await renameDurably(workDatabase, outputPath);
    return { ...result, path: outputPath };
  } catch (error) {
    throw fileSystemError(error, 'checkpoint', outputPath, 'DR_CORRUPT');
  } finally {
    await rm(workDir, { recursive: true, force: true }).catch(() => {});
  }
}

async function copyInto(from: string, to: string): Promise<void> {
  try {
    await copyFile(from, to);
  } catch (error) {
    throw fileSystemError(error, 'copy', from);
  }
}

/** Options of {@link checkpointInPlace}. */
export interface CheckpointInPlaceOptions {
  /** @default 'quick' */
  check?: CheckKind;
  /**
   * sha256 of the file as it was written (for example by a verified transfer). Used only
   * when there is no WAL to fold in, so the file is not modified and need not be hashed again.
   */
  knownSha256?: string;
}

/**
 * Folds the `-wal` beside `databasePath` into it, in place, and leaves one self-contained
 * file (no `-wal`, no `-shm`), flushed to disk and verified. The journal mode flag in the
 * header stays as the source had it. Use it only on copies in a directory that nothing
 * else touches.
 *
 * @throws DrError as {@link checkpointWalPair}.
 */
export async function checkpointInPlace(
  databasePath: string,
  options: CheckpointInPlaceOptions | CheckKind = {},
): Promise<CheckpointedDatabase> {
  const { check = 'quick', knownSha256 } =
    typeof options === 'string' ? { check: options } : options;
  const header = await readDatabaseHeaderFile(databasePath);
  const walFrames = await validateWal(`${databasePath}-wal`, header.pageSize);

  if (walFrames > 0) {
    foldWalInto(databasePath);
  }
  await removeQuietly(`${databasePath}-wal`);
  await removeQuietly(`${databasePath}-shm`);
  await chmod(databasePath, 0o600);
  await fsyncFile(databasePath);
  await fsyncDirectory(dirname(databasePath));
  const verified = await verifyDatabaseFile(databasePath, {
    check,
    ...(walFrames === 0 && knownSha256 !== undefined ? { knownSha256 } : {}),
  });
  return {
    ...verified,
    sourceJournalMode: header.writeVersion === 2 ? 'wal' : 'delete',
    walFramesCheckpointed: walFrames,
  };
}

function foldWalInto(databasePath: string): void {
  let db: Database.Database | undefined;
  try {
    db = new Database(databasePath, { fileMustExist: true });
    foldWal(db, databasePath);
  } catch (error) {
    if (error instanceof DrError) {
      throw error;
    }
    if (isNoSpaceError(error)) {
      throw fileSystemError(error, 'checkpoint', databasePath);
    }
    throw new DrError(
      'DR_CORRUPT',
      `checkpoint of ${databasePath} and its -wal failed: ${messageOf(error)}`,
      'The copied files are damaged or do not belong together; take the backup again.',
      { path: databasePath, cause: error },
    );
  } finally {
    // Closing the last connection to a WAL database removes its (now empty) -wal.
    db?.close();
  }
}

/** Checks the WAL header and returns the number of whole frames in the WAL (0 when absent). */
async function validateWal(walPath: string, pageSize: number): Promise<number> {
  const size = await sizeIfExists(walPath);
  if (size === undefined || size === 0) {
    return 0;
  }
  const handle = await open(walPath, 'r');
  let buffer: Buffer;
  try {
    buffer = Buffer.alloc(WAL_HEADER_LENGTH);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    buffer = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const wal = parseWalHeader(buffer, walPath);
  if (wal.pageSize !== pageSize) {
    throw new DrError(
      'DR_CORRUPT',
      `${walPath} has page size ${wal.pageSize} but its database has ${pageSize}`,
      'The -wal file belongs to another database; copy the database and its -wal together.',
      { path: walPath },
    );
  }
  return Math.floor((size - WAL_HEADER_LENGTH) / (24 + pageSize));
}

/** Copies every committed WAL frame into the main file. */
function foldWal(db: Database.Database, databasePath: string): void {
  const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as {
    busy: number;
    log: number;
    checkpointed: number;
  }[];
  if (result !== undefined && (result.busy !== 0 || result.log !== result.checkpointed)) {
    throw new DrError(
      'DR_CORRUPT',
      `checkpoint of ${databasePath} stopped early: ${result.checkpointed} of ${result.log} WAL frames copied`,
      'Another process has the copy open; make sure nothing else uses the temporary directory.',
      { path: databasePath },
    );
  }
}
