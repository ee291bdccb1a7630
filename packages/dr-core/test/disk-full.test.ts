import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  rmdirSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDisasterRecovery } from '../src/disaster-recovery.js';
import { type DrError, isDrError } from '../src/errors.js';
import { copyChinook, insertEvents, openWalDatabase, tempDir } from './helpers.js';
import { seedApp, startTestSim, waitForRows } from './sim-setup.js';

// A real full disk: a 2 MiB tmpfs mounted for this file (needs root, which the test
// machines have). Chinook (984 KiB) cannot fit once the filler takes most of it.
const mountPoint = join(tmpdir(), `flydr-full-${process.pid}`);

beforeAll(() => {
  mkdirSync(mountPoint, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'flydr-test', mountPoint]);
});

afterEach(() => {
  // Each test starts with the tmpfs as empty as the earlier tests left it, minus fillers.
  for (const name of readdirSync(mountPoint)) {
    if (name.startsWith('filler-')) {
      rmSync(join(mountPoint, name));
    }
  }
});

afterAll(() => {
  execFileSync('umount', [mountPoint]);
  rmdirSync(mountPoint);
});

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

let fillers = 0;

/** Fills the file system at `dir` until `leaveBytes` remain free. */
function fillUntil(dir: string, leaveBytes: number): void {
  const stats = statfsSync(dir);
  const free = stats.bavail * stats.bsize;
  fillers += 1;
  writeFileSync(join(dir, `filler-${fillers}`), Buffer.alloc(Math.max(0, free - leaveBytes)));
}

describe('backup on a full disk', () => {
  it('fails with DR_NO_SPACE and keeps the catalog', async () => {
    const stateDir = join(mountPoint, 'state');
    const dr = createDisasterRecovery({
      app: 'live-schedule-api',
      databasePath: '/app/data/app.db',
      stateDir,
    });
    const work = tempDir();
    const small = join(work, 'app.db');
    const db = openWalDatabase(small);
    insertEvents(db, 20);
    const first = await dr.backupFile(small);
    db.close();

    fillUntil(mountPoint, 300 * 1024);
    const error = await rejection(dr.backupFile(copyChinook(work)));
    const listed = await dr.list();
    const [report] = await dr.verify('latest');
    await dr.close();

    expect(error.code).toBe('DR_NO_SPACE');
    expect(error.hint).toContain('Free space');
    expect(listed.map((b) => b.id)).toEqual([first.id]);
    expect(report?.ok).toBe(true);
    expect(readdirSync(stateDir).filter((name) => name.includes('flydr-tmp'))).toEqual([]);
    expect(readdirSync(stateDir).filter((name) => name.includes('.backup.'))).toEqual([
      first.fileName,
    ]);
  });

  it('restore to a full disk fails and leaves the target', async () => {
    const work = tempDir();
    const stateDir = join(work, 'state');
    const dr = createDisasterRecovery({
      app: 'live-schedule-api',
      databasePath: '/app/data/app.db',
      stateDir,
    });
    await dr.backupFile(copyChinook(work));
    const targetDir = join(mountPoint, 'restore');
    mkdirSync(targetDir, { recursive: true });
    fillUntil(mountPoint, 200 * 1024);
    const target = join(targetDir, 'app.db');
    const error = await rejection(dr.restoreToFile('latest', target));
    await dr.close();
    expect(error.code).toBe('DR_NO_SPACE');
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(targetDir)).toEqual([]);
  });
});

describe('remote backup on a full disk', () => {
  it('fails with DR_NO_SPACE and keeps the catalog', async () => {
    const sim = await startTestSim();
    try {
      const stateDir = join(mountPoint, 'remote-state');
      const ctx = await seedApp(sim, { extra: { stateDir } });
      await waitForRows(sim, ctx.machineId, 20);
      const first = await ctx.dr.backup();

      // The app's database keeps growing; leave less room than one more copy needs.
      fillUntil(mountPoint, Math.max(4096, first.size / 2));
      const error = await rejection(ctx.dr.backup());
      const listed = await ctx.dr.list();
      await ctx.dr.close();

      expect(error.code).toBe('DR_NO_SPACE');
      expect(listed.map((b) => b.id)).toEqual([first.id]);
      expect(readdirSync(stateDir).filter((name) => name.includes('flydr-tmp'))).toEqual([]);
      expect(sim.violations()).toEqual([]);
    } finally {
      await sim.close();
    }
  });
});
