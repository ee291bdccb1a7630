// Peak memory of a backup of a 1 GiB database against the same backup of a 16 MiB one. Each
// backup runs in its own child process on the built @flydr/dr-core, over real SSH to
// fly-sim on loopback, so its peak RSS is its own. The numbers are printed for the docs;
// durations are never asserted.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Sim, startSim } from '@flydr/fly-sim';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDir } from '../packages/cli/test/helpers/temp-dirs.js';
import { type BuiltDatabase, buildDatabase } from './fixtures/load/database.js';
import { type BackupRun, buildDrCore, megabytes, runBackups } from './fixtures/load/run-backups.js';

const MIB = 1024 * 1024;
const DATABASE_PATH = '/app/data/app.db';

/** Peak RSS may grow by at most this much from the 16 MiB backup to the 1 GiB one. */
const FLAT_MARGIN_BYTES = 64e6;

/** Peak RSS limit of one backup, whatever the database size. */
const PEAK_LIMIT_BYTES = 150e6;

/** Kills a child that has not finished its backup by then. */
const CHILD_TIMEOUT_MS = 240_000;

interface Target {
  app: string;
  database: BuiltDatabase;
}

let sim: Sim;
const targets: Record<'small' | 'big', Target | undefined> = { small: undefined, big: undefined };

/**
 * Creates an app whose one machine contains a database of `mib` MiB. The machine runs with an
 * init override, so no app writes to the database and both strategies copy the same bytes.
 */
async function seedTarget(name: string, mib: number): Promise<Target> {
  const app = `load-${name}-${process.pid}`;
  sim.createApp(app, { primaryRegion: 'nrt' });
  // Room for the database, the temporary copy of sqlite3-backup and some slack.
  const volumeSizeGb = Math.ceil((3 * mib) / 1024);
  const seeded = await sim.seedMachine(app, { volumeSizeGb, init: { exec: ['sleep', 'inf'] } });
  const volumeDir = sim.machine(seeded.machineId).volumeDir as string;
  const database = buildDatabase(join(volumeDir, 'app.db'), mib);
  return { app, database };
}

/** Runs one backup of `target` in a child process and returns what it measured. */
async function backupOnce(target: Target, strategy: 'copy-validate' | 'sqlite3-backup') {
  const dir = testDir('flydr-load-backup-');
  const stateDir = join(dir, 'state');
  const run = await runBackups(
    sim,
    {
      app: target.app,
      databasePath: DATABASE_PATH,
      stateDir,
      knownHosts: join(dir, 'known_hosts'),
      count: 1,
      strategy,
    },
    CHILD_TIMEOUT_MS,
  );
  return { run, dir };
}

/** Opens a backup file and returns its integrity_check result and row count. */
function inspectBackup(path: string): { integrity: string; rows: number } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return {
      integrity: String(db.pragma('integrity_check', { simple: true })),
      rows: Number(db.prepare('SELECT count(*) FROM blobs').pluck().get()),
    };
  } finally {
    db.close();
  }
}

function describeRun(label: string, target: Target, run: BackupRun): string {
  const seconds = (run.durationsMs[0] ?? Number.NaN) / 1000;
  const mib = target.database.bytes / MIB;
  return `${label} ${mib.toFixed(0)} MiB: peak RSS ${megabytes(run.maxRssKb * 1024)} MB, backup ${seconds.toFixed(1)} s (${(mib / seconds).toFixed(0)} MiB/s), child ${(run.wallMs / 1000).toFixed(1)} s`;
}

beforeAll(async () => {
  await buildDrCore();
  sim = await startSim({ writeIntervalMs: 50 });
  const started = Date.now();
  targets.small = await seedTarget('small', 16);
  targets.big = await seedTarget('big', 1024);
  console.log(
    `load: built ${megabytes(targets.big.database.bytes)} MB and ${megabytes(targets.small.database.bytes)} MB databases with integrity_check ok in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}, 240_000);

afterAll(async () => {
  // Closing the sim removes its data folder, with the 1 GiB database and any temporary copy.
  await sim?.close();
});

describe.each(['copy-validate', 'sqlite3-backup'] as const)('1 GiB backup, %s', (strategy) => {
  let small: BackupRun;
  let big: BackupRun;
  let bigInspection: { integrity: string; rows: number };

  beforeAll(async () => {
    const smallTarget = targets.small as Target;
    const bigTarget = targets.big as Target;
    const smallResult = await backupOnce(smallTarget, strategy);
    small = smallResult.run;
    rmSync(smallResult.dir, { recursive: true, force: true });

    const bigResult = await backupOnce(bigTarget, strategy);
    big = bigResult.run;
    const backupFile = join(bigResult.dir, 'state', big.backups[0]?.fileName ?? 'missing');
    bigInspection = inspectBackup(backupFile);
    rmSync(bigResult.dir, { recursive: true, force: true });

    console.log(`load: ${describeRun(strategy, smallTarget, small)}`);
    console.log(`load: ${describeRun(strategy, bigTarget, big)}`);
    console.log(
      `load: ${strategy} peak RSS 1 GiB minus 16 MiB: ${megabytes((big.maxRssKb - small.maxRssKb) * 1024)} MB`,
    );
  }, 2 * CHILD_TIMEOUT_MS);

  it('verifies the backup', () => {
    expect(big.backups.map((b) => [b.status, b.checkResult, b.strategy])).toEqual([
      ['verified', 'ok', strategy],
    ]);
  });

  it('passes integrity_check locally', () => {
    expect(bigInspection.integrity).toBe('ok');
  });

  it('holds every row', () => {
    expect(bigInspection.rows).toBe(targets.big?.database.rows);
  });

  it('keeps peak RSS within the margin', () => {
    expect(big.maxRssKb * 1024).toBeLessThanOrEqual(small.maxRssKb * 1024 + FLAT_MARGIN_BYTES);
  });

  it('keeps peak RSS under 150 MB', () => {
    expect(big.maxRssKb * 1024).toBeLessThan(PEAK_LIMIT_BYTES);
  });

  it('keeps small peak RSS under 150 MB', () => {
    expect(small.maxRssKb * 1024).toBeLessThan(PEAK_LIMIT_BYTES);
  });

  it('leaves the database untouched', () => {
    expect(sim.violations()).toEqual([]);
  });
});
