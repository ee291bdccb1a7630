import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { BackupRecord, Catalog, NewBackupRecord } from './catalog.js';
import { removeDurably, renameDurably, sizeIfExists, sweepTempFiles } from './durable-fs.js';
import { DrError, messageOf } from './errors.js';
import type { DrLogger } from './logger.js';
import { type CheckKind, verifyDatabaseFile } from './verify.js';

/** Infix between the database name and the timestamp in backup file names. */
const BACKUP_INFIX = '.backup.';

/** Formats a time as an ISO 8601 basic UTC timestamp, for example `20261204T200658Z`. */
export function utcTimestamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/**
 * Picks the file name of a new backup: `<database name>.backup.<UTC timestamp>`, as in
 * `app.db.backup.20261204T200658Z`, with `-2`, `-3`, ... appended when a backup of the
 * same second exists.
 */
export async function newBackupFileName(
  stateDir: string,
  databasePath: string,
  date: Date,
  taken: ReadonlySet<string> = new Set(),
): Promise<string> {
  const base = `${basename(databasePath)}${BACKUP_INFIX}${utcTimestamp(date)}`;
  for (let n = 1; n < 1000; n += 1) {
    const name = n === 1 ? base : `${base}-${n}`;
    if (!taken.has(name) && (await sizeIfExists(join(stateDir, name))) === undefined) {
      return name;
    }
  }
  throw new DrError(
    'DR_FILE_EXISTS',
    `more than 999 backups named ${base} exist in ${stateDir}`,
    'Prune old backups (flydr prune) and run the command again.',
    { path: stateDir },
  );
}

/** Tells whether a file name has the shape of a backup file. */
export function isBackupFileName(name: string): boolean {
  return !name.startsWith('.') && /\.backup\.\d{8}T\d{6}Z(-\d+)?$/.test(name);
}

/**
 * Moves a verified temporary file to its final name in the state directory and then
 * adds its catalog row. The file is durable (fsynced, directory fsynced) before the row
 * exists, so a crash leaves either nothing or a file that {@link sweepStateDir} removes.
 *
 * @throws DrError `DR_CATALOG` when the row cannot be written; the final file is then
 *   removed again.
 */
export async function commitBackup(
  catalog: Catalog,
  tempPath: string,
  record: NewBackupRecord,
): Promise<BackupRecord> {
  const finalPath = join(catalog.stateDir, record.fileName);
  await renameDurably(tempPath, finalPath);
  try {
    return catalog.insertBackup(record);
  } catch (error) {
    await removeDurably(finalPath).catch(() => {});
    throw new DrError(
      'DR_CATALOG',
      `cannot record backup ${record.fileName} in the catalog: ${messageOf(error)}`,
      'Check the state directory (disk space, permissions) and take the backup again.',
      { path: catalog.path, cause: error },
    );
  }
}

/** Files a startup sweep removed. */
export interface SweepResult {
  /** Temporary files and directories of interrupted runs. */
  tempFiles: string[];
  /** Backup files under a final name with no catalog row: a run stopped between the rename and the row. */
  orphanFiles: string[];
}

/**
 * Removes what interrupted runs left in the state directory: temporary files, and backup
 * files whose catalog row was never written. Call it while holding the app lock.
 */
export async function sweepStateDir(catalog: Catalog, logger: DrLogger): Promise<SweepResult> {
  const tempFiles = await sweepTempFiles(catalog.stateDir);
  for (const name of tempFiles) {
    logger.warn('removed temporary file of an interrupted run', {
      path: join(catalog.stateDir, name),
    });
  }

  const known = catalog.fileNames();
  const orphanFiles: string[] = [];
  for (const name of await readdir(catalog.stateDir)) {
    if (isBackupFileName(name) && !known.has(name)) {
      await removeDurably(join(catalog.stateDir, name));
      orphanFiles.push(name);
      logger.warn('removed backup file without a catalog row (interrupted run)', {
        path: join(catalog.stateDir, name),
      });
    }
  }
  return { tempFiles, orphanFiles };
}

/** Outcome of re-verifying one catalogued backup. */
export interface BackupCheckReport {
  backup: BackupRecord;
  ok: boolean;
  /** `ok`, or what failed: a missing file, a hash mismatch, or the SQLite check's output. */
  result: string;
  /** Error code of the failure. */
  code?: string;
}

/**
 * Re-hashes and re-checks a catalogued backup file, and stores the outcome in the
 * catalog. A missing file, a changed sha256 or a failed check marks the backup `failed`.
 */
export async function recheckBackup(
  catalog: Catalog,
  backup: BackupRecord,
  check: CheckKind,
  now: () => Date = () => new Date(),
): Promise<BackupCheckReport> {
  let ok = false;
  let result: string;
  let code: string | undefined;
  try {
    const verified = await verifyDatabaseFile(backup.path, { check });
    if (verified.sha256 !== backup.sha256) {
      code = 'DR_HASH_MISMATCH';
      result = `sha256 ${verified.sha256} differs from the catalogued ${backup.sha256}`;
    } else {
      ok = true;
      result = 'ok';
    }
  } catch (error) {
    code = error instanceof DrError ? error.code : undefined;
    result = messageOf(error);
  }
  const checkedAt = now().toISOString();
  catalog.updateCheck({ backupId: backup.id, checkedAt, check, result, ok });
  const updated = catalog.getBackup(backup.id) ?? backup;
  return { backup: updated, ok, result, ...(code === undefined ? {} : { code }) };
}

/**
 * Deletes a backup: the row first, then the file, so a crash in between leaves a file
 * that the next sweep removes, never a row without a file.
 */
export async function deleteBackupFile(catalog: Catalog, backup: BackupRecord): Promise<void> {
  catalog.deleteBackup(backup.id);
  await removeDurably(backup.path);
}
