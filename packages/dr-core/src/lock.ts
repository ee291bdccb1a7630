import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fsyncDirectory, removeQuietly } from './durable-fs.js';
import { DrError, errnoOf, fileSystemError } from './errors.js';

/** Name of the lock file in the state directory. */
export const LOCK_FILE_NAME = 'lock';

/** Contents of a lock file: who holds the app and for what. */
export interface LockHolder {
  pid: number;
  host: string;
  operation: string;
  /** ISO 8601 time the lock was taken. */
  startedAt: string;
  /** Random value that distinguishes two holders, even when a pid is reused. */
  token: string;
}

/** A held app lock. */
export interface AppLock {
  readonly holder: LockHolder;
  /** Releases the lock if this process still holds it. Safe to call twice. */
  release(): Promise<void>;
}

/**
 * Takes the per-app lock in `stateDir`, so only one flydr operation runs at a time for
 * an app on this host. A lock left by a process that no longer runs on this host is
 * stale and taken over.
 *
 * @throws DrError `DR_LOCKED` naming the holder (pid, host, operation, start time) when a
 *   live process, or a process on another host, holds the lock.
 */
export async function acquireAppLock(stateDir: string, operation: string): Promise<AppLock> {
  const path = join(stateDir, LOCK_FILE_NAME);
  const holder: LockHolder = {
    pid: process.pid,
    host: hostname(),
    operation,
    startedAt: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
  };

  // Two rounds: the second runs after a stale lock was moved away.
  for (let attempt = 0; attempt < 2; attempt += 1) {
    if (await tryCreate(path, holder)) {
      return lockHandle(path, holder);
    }
    const current = await readHolder(path);
    if (current === undefined) {
      continue;
    }
    if (!isStale(current)) {
      throw lockedError(path, current);
    }
    await breakStaleLock(path, current);
  }
  const current = await readHolder(path);
  throw lockedError(path, current);
}

async function tryCreate(path: string, holder: LockHolder): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'wx', 0o600);
    await handle.writeFile(`${JSON.stringify(holder)}\n`);
    await handle.sync();
    return true;
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') {
      return false;
    }
    throw fileSystemError(error, 'create lock file', path);
  } finally {
    await handle?.close();
  }
}

/** Reads a lock file; undefined when it vanished meanwhile. An unreadable file is reported as held. */
export async function readHolder(path: string): Promise<LockHolder | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') {
      return undefined;
    }
    throw fileSystemError(error, 'read lock file', path);
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    return {
      pid: Number(parsed.pid),
      host: String(parsed.host),
      operation: String(parsed.operation),
      startedAt: String(parsed.startedAt),
      token: String(parsed.token),
    };
  } catch {
    // A half-written lock file (a crash between create and write) has no pid to check.
    return { pid: 0, host: hostname(), operation: 'unknown', startedAt: 'unknown', token: '' };
  }
}

/** Tells whether a lock is stale: it names this host and its process no longer runs. */
function isStale(holder: LockHolder): boolean {
  if (holder.host !== hostname()) {
    return false;
  }
  if (!Number.isInteger(holder.pid) || holder.pid <= 0) {
    return true;
  }
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return errnoOf(error) === 'ESRCH';
  }
}

/**
 * Moves a stale lock away by renaming it, which only one process can do to a given file,
 * and puts it back when the file turned out to be a new, live holder's.
 */
async function breakStaleLock(path: string, stale: LockHolder): Promise<void> {
  const aside = `${path}.stale-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') {
      return;
    }
    throw fileSystemError(error, 'move stale lock file', path);
  }
  const moved = await readHolder(aside);
  if (moved !== undefined && moved.token !== stale.token) {
    await link(aside, path).catch(() => {});
  }
  await removeQuietly(aside);
}

function lockHandle(path: string, holder: LockHolder): AppLock {
  let released = false;
  return {
    holder,
    async release() {
      if (released) {
        return;
      }
      released = true;
      const current = await readHolder(path);
      if (current?.token === holder.token) {
        await unlink(path).catch(() => {});
        await fsyncDirectory(join(path, '..')).catch(() => {});
      }
    },
  };
}

function lockedError(path: string, holder: LockHolder | undefined): DrError {
  const who =
    holder === undefined
      ? 'another process'
      : `pid ${holder.pid} on ${holder.host} (${holder.operation}, since ${holder.startedAt})`;
  return new DrError(
    'DR_LOCKED',
    `another flydr operation holds the lock ${path}: ${who}`,
    holder !== undefined && holder.host !== hostname()
      ? `Wait for it to finish. If that host no longer runs flydr, remove ${path} by hand.`
      : 'Wait for it to finish, then run the command again.',
    { path, holder },
  );
}
