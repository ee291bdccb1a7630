import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type DrError, isDrError } from '../src/errors.js';
import { acquireAppLock, LOCK_FILE_NAME, type LockHolder } from '../src/lock.js';
import { tempDir } from './helpers.js';

async function rejection(promise: Promise<unknown>): Promise<DrError> {
  try {
    await promise;
  } catch (error) {
    if (isDrError(error)) {
      return error;
    }
    throw error;
  }
  throw new Error('expected a rejection');
}

/** Returns the pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

function writeLock(dir: string, holder: Partial<LockHolder>): void {
  writeFileSync(
    join(dir, LOCK_FILE_NAME),
    JSON.stringify({
      operation: 'backup',
      startedAt: '2026-01-01T00:00:00.000Z',
      token: 'x',
      ...holder,
    }),
  );
}

describe('acquireAppLock', () => {
  it('writes pid, host and operation', async () => {
    const dir = tempDir();
    const lock = await acquireAppLock(dir, 'backup');
    const stored = JSON.parse(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8')) as LockHolder;
    await lock.release();
    expect(stored.pid).toBe(process.pid);
    expect(stored.host).toBe(hostname());
    expect(stored.operation).toBe('backup');
  });

  it('creates the lock file with mode 0600', async () => {
    const dir = tempDir();
    const lock = await acquireAppLock(dir, 'backup');
    const mode = statSync(join(dir, LOCK_FILE_NAME)).mode & 0o777;
    await lock.release();
    expect(mode).toBe(0o600);
  });

  it('reports a held lock with its holder', async () => {
    const dir = tempDir();
    const lock = await acquireAppLock(dir, 'restore');
    const error = await rejection(acquireAppLock(dir, 'backup'));
    await lock.release();
    expect(error.code).toBe('DR_LOCKED');
    expect(error.message).toContain(`pid ${process.pid}`);
    expect(error.message).toContain('restore');
    expect((error.details.holder as LockHolder).operation).toBe('restore');
  });

  it('removes the file on release', async () => {
    const dir = tempDir();
    const lock = await acquireAppLock(dir, 'backup');
    await lock.release();
    expect(existsSync(join(dir, LOCK_FILE_NAME))).toBe(false);
  });

  it('can be taken again after release', async () => {
    const dir = tempDir();
    await (await acquireAppLock(dir, 'backup')).release();
    const again = await acquireAppLock(dir, 'prune');
    await again.release();
    expect(again.holder.operation).toBe('prune');
  });

  it('takes over a lock whose process is gone', async () => {
    const dir = tempDir();
    writeLock(dir, { pid: deadPid(), host: hostname() });
    const lock = await acquireAppLock(dir, 'backup');
    const stored = JSON.parse(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8')) as LockHolder;
    await lock.release();
    expect(stored.pid).toBe(process.pid);
  });

  it('takes over a lock file left empty', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_FILE_NAME), '');
    const lock = await acquireAppLock(dir, 'backup');
    await lock.release();
    expect(lock.holder.pid).toBe(process.pid);
  });

  it('respects a lock from another host', async () => {
    const dir = tempDir();
    writeLock(dir, { pid: deadPid(), host: 'other-host.example' });
    const error = await rejection(acquireAppLock(dir, 'backup'));
    expect(error.code).toBe('DR_LOCKED');
    expect(error.hint).toContain('remove');
  });

  it('respects a lock of a live process', async () => {
    const dir = tempDir();
    // pid 1 always runs.
    writeLock(dir, { pid: 1, host: hostname() });
    expect((await rejection(acquireAppLock(dir, 'backup'))).code).toBe('DR_LOCKED');
  });

  it('keeps a lock that another holder took', async () => {
    const dir = tempDir();
    const lock = await acquireAppLock(dir, 'backup');
    writeLock(dir, { pid: 1, host: hostname(), token: 'someone-else' });
    await lock.release();
    expect(existsSync(join(dir, LOCK_FILE_NAME))).toBe(true);
  });
});
