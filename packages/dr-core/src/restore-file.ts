import { rename, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { utcTimestamp } from './backup-store.js';
import {
  copyToTemp,
  fsyncDirectory,
  fsyncFile,
  removeQuietly,
  renameDurably,
  sizeIfExists,
} from './durable-fs.js';
import { DrError, errnoOf, fileSystemError, messageOf } from './errors.js';
import { type CheckKind, type VerifiedDatabase, verifyDatabaseFile } from './verify.js';

/** SQLite files that belong to a database besides the main file. */
export const SIDECAR_SUFFIXES = ['-wal', '-shm', '-journal'] as const;

/** Options of {@link restoreFileTo}. */
export interface RestoreFileOptions {
  /** Replace an existing target; the old file and its sidecars are kept aside. @default false */
  force?: boolean;
  /** Journal mode of the restored file. @default the mode the source had when it was backed up */
  journalMode?: 'wal' | 'delete';
  /** sha256 the source must have; a mismatch rejects the restore. */
  expectedSha256?: string;
  /** @default 'quick' */
  check?: CheckKind;
  now?: () => Date;
}

/** Outcome of a local restore. */
export interface RestoredFile {
  path: string;
  verified: VerifiedDatabase;
  /** New path of the replaced database, when there was one. */
  previousPath?: string;
  /** Sidecar files (`-wal`, `-shm`, `-journal`) moved aside with the old database. */
  movedAside: string[];
}

/**
 * Restores a database file (a backup) to `targetPath`. It verifies the source, copies it
 * to a temporary name beside the target, fsyncs it, sets the journal mode and verifies the
 * copy. Then it moves any existing target and its `-wal`/`-shm`/`-journal` aside as
 * `<target>.flydr-prev-<UTC timestamp>` and renames the copy in. Sidecars keep their
 * suffix, so the old pair still opens, and a stale `-wal` is never applied to the restored
 * file.
 *
 * @throws DrError `DR_FILE_EXISTS` when the target (or a sidecar) exists and `force` is
 *   not set.
 * @throws DrError `DR_FILE_NOT_FOUND` when the target directory is missing.
 * @throws DrError `DR_HASH_MISMATCH` when the source changed since it was catalogued.
 * @throws DrError any verify error of the source or the copy, or `DR_NO_SPACE`. The target
 *   is untouched on every failure.
 */
export async function restoreFileTo(
  sourcePath: string,
  targetPath: string,
  options: RestoreFileOptions = {},
): Promise<RestoredFile> {
  const check = options.check ?? 'quick';
  const source = await verifyDatabaseFile(sourcePath, { check });
  if (options.expectedSha256 !== undefined && source.sha256 !== options.expectedSha256) {
    throw new DrError(
      'DR_HASH_MISMATCH',
      `${sourcePath} has sha256 ${source.sha256}, not the catalogued ${options.expectedSha256}`,
      'The backup file changed after it was catalogued; restore another backup (flydr backups list).',
      { path: sourcePath },
    );
  }
  await checkTargetDirectory(targetPath);
  const existing = await existingFiles(targetPath);
  if (existing.length > 0 && options.force !== true) {
    throw new DrError(
      'DR_FILE_EXISTS',
      `refusing to overwrite ${existing.join(', ')}`,
      'Choose another target path, or pass --force (`force: true`) to replace it. The old files are kept aside as .flydr-prev-<time>.',
      { path: targetPath, existing },
    );
  }

  // A replaced database keeps its permission bits, so an app that could open the old file
  // can open the restored one. A new file gets 0600.
  const mode = existing.includes(targetPath) ? (await stat(targetPath)).mode & 0o777 : 0o600;
  const temp = await copyToTemp(sourcePath, targetPath, mode);
  try {
    const verified = await prepareCopy(temp, options.journalMode ?? modeOf(source), check);
    const aside = await moveAside(targetPath, existing, (options.now ?? (() => new Date()))());
    try {
      await renameDurably(temp, targetPath);
    } catch (error) {
      await moveBack(aside);
      throw error;
    }
    return {
      path: targetPath,
      verified: { ...verified, path: targetPath },
      ...(aside.previousPath === undefined ? {} : { previousPath: aside.previousPath }),
      movedAside: aside.moved.map((entry) => entry.to),
    };
  } finally {
    await removeQuietly(temp);
    await removeQuietly(`${temp}-wal`);
    await removeQuietly(`${temp}-shm`);
  }
}

function modeOf(source: VerifiedDatabase): 'wal' | 'delete' {
  return source.description.journalMode === 'wal' ? 'wal' : 'delete';
}

async function checkTargetDirectory(targetPath: string): Promise<void> {
  const directory = dirname(targetPath);
  try {
    if (!(await stat(directory)).isDirectory()) {
      throw new Error('not a directory');
    }
  } catch (error) {
    throw new DrError(
      'DR_FILE_NOT_FOUND',
      `cannot restore to ${targetPath}: directory ${directory} does not exist (${errnoOf(error) ?? messageOf(error)})`,
      `Create ${directory} first, or choose another target path.`,
      { path: directory },
    );
  }
}

async function existingFiles(targetPath: string): Promise<string[]> {
  const found: string[] = [];
  for (const path of [targetPath, ...SIDECAR_SUFFIXES.map((suffix) => `${targetPath}${suffix}`)]) {
    if ((await sizeIfExists(path)) !== undefined) {
      found.push(path);
    }
  }
  return found;
}

/** Sets the journal mode of the temporary copy, flushes it and verifies it. */
async function prepareCopy(
  temp: string,
  journalMode: 'wal' | 'delete',
  check: CheckKind,
): Promise<VerifiedDatabase> {
  let db: Database.Database | undefined;
  try {
    db = new Database(temp, { fileMustExist: true });
    const mode = String(
      db.pragma(`journal_mode = ${journalMode === 'wal' ? 'WAL' : 'DELETE'}`, { simple: true }),
    );
    if (mode !== journalMode) {
      throw new Error(`journal mode stayed ${mode}`);
    }
  } catch (error) {
    throw new DrError(
      'DR_CORRUPT',
      `cannot set journal mode ${journalMode} on the restored copy ${temp}: ${messageOf(error)}`,
      'Check the disk, then restore again.',
      { path: temp, cause: error },
    );
  } finally {
    // Closing the last connection of a WAL database checkpoints it and removes its -wal.
    db?.close();
  }
  await removeQuietly(`${temp}-shm`);
  await fsyncFile(temp);
  return verifyDatabaseFile(temp, { check });
}

interface MovedFile {
  from: string;
  to: string;
}

interface AsideResult {
  previousPath?: string;
  moved: MovedFile[];
}

/**
 * Renames the old database and its sidecars to `<target>.flydr-prev-<time>` (plus the
 * sidecar suffix), so the pair still opens together.
 */
async function moveAside(targetPath: string, existing: string[], now: Date): Promise<AsideResult> {
  const previousPath = await freeAsideName(targetPath, existing, now);
  const moved: MovedFile[] = [];
  try {
    for (const path of existing) {
      const suffix = path.slice(targetPath.length);
      const to = `${previousPath}${suffix}`;
      await rename(path, to);
      moved.push({ from: path, to });
    }
    await fsyncDirectory(dirname(targetPath));
  } catch (error) {
    await moveBack({ moved });
    throw fileSystemError(error, 'move the old database aside', targetPath);
  }
  return {
    ...(existing.includes(targetPath) ? { previousPath } : {}),
    moved,
  };
}

/** Picks `<target>.flydr-prev-<time>`, with `-2`, `-3`, ... when an earlier restore of the same second used it. */
async function freeAsideName(targetPath: string, existing: string[], now: Date): Promise<string> {
  const base = `${targetPath}.flydr-prev-${utcTimestamp(now)}`;
  for (let n = 1; ; n += 1) {
    const candidate = n === 1 ? base : `${base}-${n}`;
    let free = true;
    for (const path of existing) {
      if ((await sizeIfExists(`${candidate}${path.slice(targetPath.length)}`)) !== undefined) {
        free = false;
      }
    }
    if (free) {
      return candidate;
    }
  }
}

async function moveBack(aside: { moved: MovedFile[] }): Promise<void> {
  for (const entry of [...aside.moved].reverse()) {
    await rename(entry.to, entry.from).catch(() => {});
  }
  const first = aside.moved[0];
  if (first !== undefined) {
    await fsyncDirectory(dirname(first.from)).catch(() => {});
  }
}
