import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileSystemError } from './errors.js';

/** Marker in the name of every temporary file that dr-core writes. */
export const TEMP_MARKER = '.flydr-tmp-';

/**
 * Returns a temporary name next to `finalPath`: hidden, carrying the process id, so the
 * startup sweep can tell it apart from finished files.
 */
export function tempPathFor(finalPath: string): string {
  const suffix = `${TEMP_MARKER}${process.pid}-${randomBytes(4).toString('hex')}`;
  return join(dirname(finalPath), `.${basename(finalPath)}${suffix}`);
}

/** Tells whether a directory entry is a temporary file written by {@link tempPathFor}. */
export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.includes(TEMP_MARKER);
}

/** Flushes a file's data and metadata to stable storage. */
export async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flushes a directory, so that a rename or unlink inside it survives a crash. */
export async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Renames `from` to `to` and flushes the directory, so the new name is durable.
 * Both paths must be in the same directory.
 */
export async function renameDurably(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
    await fsyncDirectory(dirname(to));
  } catch (error) {
    throw fileSystemError(error, 'rename', to);
  }
}

/** Removes a file and flushes its directory; a missing file is not an error. */
export async function removeDurably(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return;
    }
    throw fileSystemError(error, 'remove', path);
  }
  await fsyncDirectory(dirname(path));
}

/** Removes a file if it exists, ignoring every error: for cleanup in `finally` blocks. */
export async function removeQuietly(path: string): Promise<void> {
  await rm(path, { force: true }).catch(() => {});
}

/**
 * Copies `from` to a temporary name next to `to`, fsyncs it and returns the temporary
 * path. The caller verifies it, then renames it in.
 *
 * @throws DrError `DR_NO_SPACE` when the disk fills up, `DR_FILE_NOT_FOUND` when the
 *   source or the target directory is missing; the temporary file is removed either way.
 */
export async function copyToTemp(from: string, to: string, mode = 0o600): Promise<string> {
  const temp = tempPathFor(to);
  try {
    await copyFile(from, temp);
    const handle = await open(temp, 'r+');
    try {
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return temp;
  } catch (error) {
    await removeQuietly(temp);
    throw fileSystemError(
      error,
      'copy',
      error instanceof Error && 'path' in error ? String(error.path) : to,
    );
  }
}

/** Returns the size of a file, or undefined when it does not exist. */
export async function sizeIfExists(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw error;
  }
}

/** Computes the sha256 of a file as lowercase hex. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/**
 * Removes temporary files that an interrupted run left in `directory`, returning their
 * names. Call it only while holding the app lock, so no running operation owns them.
 */
export async function sweepTempFiles(directory: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(directory)) {
    if (isTempName(name)) {
      await rm(join(directory, name), { force: true, recursive: true });
      removed.push(name);
    }
  }
  if (removed.length > 0) {
    await fsyncDirectory(directory);
  }
  return removed;
}
