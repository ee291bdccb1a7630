import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { isBackupFileName } from '../src/backup-store.js';
import { createDisasterRecovery } from '../src/disaster-recovery.js';
import { LOCK_FILE_NAME, type LockHolder } from '../src/lock.js';
import { tempDir } from './helpers.js';

const REGISTER = fileURLToPath(new URL('./crash/register.mjs', import.meta.url));
const CHILD = fileURLToPath(new URL('./crash/backup-child.mjs', import.meta.url));

/** Builds a WAL-mode database of about `mib` MiB, so its snapshot takes a moment. */
function buildSource(dir: string, mib: number): string {
  const path = join(dir, 'source.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO events (payload) VALUES (randomblob(4000))');
  db.transaction(() => {
    for (let i = 0; i < (mib * 1024 * 1024) / 4096; i += 1) {
      insert.run();
    }
  })();
  db.close();
  return path;
}

interface ChildRun {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** Resolves when the child prints a step event matching `type` and `step`. */
  waitFor(type: string, step: string): Promise<void>;
}

function startBackupChild(stateDir: string, source: string): ChildRun {
  const child = spawn(process.execPath, ['--import', REGISTER, CHILD], {
    env: { ...process.env, FLYDR_CRASH_STATE_DIR: stateDir, FLYDR_CRASH_SOURCE: source },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const seen: string[] = [];
  const waiters: { key: string; resolve: () => void }[] = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const event = JSON.parse(line) as { type: string; step?: string };
      const key = `${event.type} ${event.step ?? ''}`;
      seen.push(key);
      for (const waiter of waiters.filter((w) => w.key === key)) {
        waiter.resolve();
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return {
    child,
    exited,
    waitFor(type, step) {
      const key = `${type} ${step}`;
      if (seen.includes(key)) {
        return Promise.resolve();
      }
      return new Promise((resolve, reject) => {
        waiters.push({ key, resolve });
        void exited.then(() =>
          reject(new Error(`child exited before ${key}; saw ${seen.join(', ')}`)),
        );
      });
    },
  };
}

// `rows` lists the backup counts the catalog may show after the kill: a kill as the
// catalog step starts can land before or after its few milliseconds of work.
const killPoints = [
  { name: 'as the snapshot starts', type: 'step-start', step: 'snapshot', delayMs: 0, rows: [0] },
  { name: 'during the snapshot', type: 'step-start', step: 'snapshot', delayMs: 30, rows: [0] },
  {
    name: 'as the catalog step starts',
    type: 'step-start',
    step: 'catalog',
    delayMs: 0,
    rows: [0, 1],
  },
  { name: 'after the row is written', type: 'step-end', step: 'catalog', delayMs: 0, rows: [1] },
];

describe('backup killed with SIGKILL', () => {
  for (const point of killPoints) {
    it(`keeps the catalog consistent ${point.name}`, async () => {
      const dir = tempDir();
      const stateDir = join(dir, 'state');
      const source = buildSource(dir, 8);
      const run = startBackupChild(stateDir, source);
      await run.waitFor(point.type, point.step);
      await new Promise((resolve) => setTimeout(resolve, point.delayMs));
      run.child.kill('SIGKILL');
      await run.exited;

      // Until the catalog step ends the killed process still owns the lock; its pid no
      // longer runs, so the next operation takes the lock over.
      const lockPath = join(stateDir, LOCK_FILE_NAME);
      const holder = existsSync(lockPath)
        ? (JSON.parse(readFileSync(lockPath, 'utf8')) as LockHolder)
        : undefined;
      const lockMustExist = point.type === 'step-start';

      const dr = createDisasterRecovery({
        app: 'crash-test',
        databasePath: '/app/data/app.db',
        stateDir,
      });
      await dr.sweep();
      const rows = await dr.list();
      const reports = await dr.verify('all');
      const files = readdirSync(stateDir);
      const next = await dr.backupFile(source);
      await dr.close();

      if (lockMustExist) {
        expect(holder?.pid).toBe(run.child.pid);
      }
      expect(point.rows).toContain(rows.length);
      expect(reports.every((report) => report.ok)).toBe(true);
      expect(files.filter((name) => name.includes('flydr-tmp'))).toEqual([]);
      expect(files.filter(isBackupFileName).sort()).toEqual(rows.map((b) => b.fileName).sort());
      expect(next.status).toBe('verified');
    });
  }
});
