import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';

import { TransportError } from './errors.js';

/** Suffix of the temporary name a transfer writes before it renames the file into place. */
export const PARTIAL_SUFFIX = '.flydr-partial';

/** Returns the temporary name used while `path` is transferred. */
export function partialPath(path: string): string {
  return `${path}${PARTIAL_SUFFIX}`;
}

/** Returns true for errors that mean the disk or quota is full. */
export function isDiskFullError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * Checks that the folder that will hold `localPath` exists, before anything is sent.
 * @throws TransportError TRANSPORT_LOCAL_DIR_MISSING
 */
export async function assertLocalDirectory(localPath: string, machineId: string): Promise<void> {
  const folder = dirname(localPath);
  const info = await stat(folder).catch(() => undefined);
  if (info?.isDirectory()) return;

  throw new TransportError('TRANSPORT_LOCAL_DIR_MISSING', `local folder ${folder} does not exist`, {
    machineId,
    path: localPath,
    hint: `create it (mkdir -p ${folder}) or choose another destination`,
  });
}

/**
 * Returns the size of a local file to upload.
 * @throws TransportError TRANSPORT_LOCAL_NOT_FOUND when it is missing or not a regular file.
 */
export async function localFileSize(localPath: string, machineId: string): Promise<number> {
  const info = await stat(localPath).catch(() => undefined);
  if (info?.isFile()) return info.size;

  throw new TransportError(
    'TRANSPORT_LOCAL_NOT_FOUND',
    info ? `local path ${localPath} is not a regular file` : `local file ${localPath} not found`,
    { machineId, path: localPath, hint: 'check the path of the file to upload' },
  );
}

/** Returns the size of a file, or undefined when it does not exist. */
export async function existingSize(path: string): Promise<number | undefined> {
  const info = await stat(path).catch(() => undefined);
  return info?.isFile() ? info.size : undefined;
}

/**
 * Checks that the local disk has room for `needed` more bytes.
 * @throws TransportError TRANSPORT_DISK_FULL
 */
export async function assertLocalSpace(
  localPath: string,
  needed: number,
  machineId: string,
): Promise<void> {
  const info = await statfs(dirname(localPath)).catch(() => undefined);
  if (!info) return;

  const available = info.bavail * info.bsize;
  if (available >= needed) return;

  throw localDiskFull(localPath, machineId, `${needed} bytes needed, ${available} available`);
}

/** Returns the TRANSPORT_DISK_FULL error for the local side. */
export function localDiskFull(
  localPath: string,
  machineId: string,
  detail: string,
): TransportError {
  return new TransportError('TRANSPORT_DISK_FULL', `local disk full for ${localPath}: ${detail}`, {
    machineId,
    path: localPath,
    hint: 'free space on the local disk or choose another destination, then run the transfer again',
  });
}

/** Feeds the first `length` bytes of a file into `hash`, streaming. */
export async function hashFilePrefix(path: string, length: number, hash: Hash): Promise<void> {
  if (length === 0) return;
  const stream = createReadStream(path, { start: 0, end: length - 1, highWaterMark: 1 << 20 });
  for await (const chunk of stream) hash.update(chunk as Buffer);
}

/** Syncs a folder, so a rename inside it survives a crash. */
export async function syncDirectory(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Renames the finished temporary file into place and syncs the folder. */
export async function commitLocalFile(temporary: string, finalPath: string): Promise<void> {
  await rename(temporary, finalPath);
  await syncDirectory(dirname(finalPath));
}
