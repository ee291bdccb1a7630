import Database from 'better-sqlite3';
import { type CheckpointedDatabase, checkpointInPlace } from './checkpoint.js';
import { removeQuietly } from './durable-fs.js';
import { DrError, errnoOf, fileSystemError, messageOf } from './errors.js';
import { readDatabaseHeaderFile } from './sqlite-header.js';
import type { CheckKind } from './verify.js';

/**
 * Takes a consistent snapshot of a local database, which may be in use by another
 * process, with SQLite's online backup API, into `outputPath` (one self-contained file,
 * mode 0600, fsynced) and verifies it. Commits still in the source's `-wal` are included,
 * because the backup reads through SQLite.
 *
 * @throws DrError `DR_FILE_NOT_FOUND`, `DR_EMPTY_FILE`, `DR_NOT_SQLITE`, `DR_TRUNCATED`,
 *   `DR_CORRUPT`, `DR_NO_SPACE`. Nothing is left at `outputPath` on failure.
 */
export async function snapshotLocalDatabase(
  sourcePath: string,
  outputPath: string,
  check: CheckKind = 'quick',
): Promise<CheckpointedDatabase> {
  const header = await readDatabaseHeaderFile(sourcePath);
  try {
    const source = new Database(sourcePath, { readonly: true, fileMustExist: true });
    try {
      await source.backup(outputPath);
    } finally {
      source.close();
    }
    // The backup's destination connection may leave a -wal; fold it in like any snapshot.
    const checkpointed = await checkpointInPlace(outputPath, { check });
    return {
      ...checkpointed,
      sourceJournalMode: header.writeVersion === 2 ? 'wal' : 'delete',
      walFramesCheckpointed: 0,
    };
  } catch (error) {
    await removeQuietly(outputPath);
    await removeQuietly(`${outputPath}-wal`);
    await removeQuietly(`${outputPath}-shm`);
    if (error instanceof DrError) {
      throw error;
    }
    const errno = errnoOf(error);
    if (errno !== undefined && (errno.startsWith('E') || errno === 'SQLITE_FULL')) {
      throw fileSystemError(error, 'snapshot', outputPath);
    }
    throw new DrError(
      'DR_CORRUPT',
      `snapshot of ${sourcePath} failed: ${messageOf(error)}`,
      'Check that the file is a healthy SQLite database (PRAGMA integrity_check) and that the disk has room.',
      { path: sourcePath, cause: error },
    );
  }
}
