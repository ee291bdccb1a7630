// One hundred backups in a row in one child process on the built @flydr/dr-core, over real
// SSH to fly-sim while the simulated app keeps writing. Memory and open descriptors are
// measured after backup 10 and backup 100 and must stay flat. The numbers are printed for
// the docs; durations are never asserted.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createDisasterRecovery, isBackupFileName } from '@flydr/dr-core';
import { type Sim, startSim } from '@flydr/fly-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDir } from '../packages/cli/test/helpers/temp-dirs.js';
import {
  type BackupRun,
  buildDrCore,
  type Checkpoint,
  megabytes,
  runBackups,
} from './fixtures/load/run-backups.js';

const BACKUPS = 100;
const DATABASE_PATH = '/app/data/app.db';

/** Heap may grow by at most this much from backup 10 to backup 100 (after a full GC). */
const HEAP_MARGIN_BYTES = 8e6;

/**
 * RSS may grow by at most this much from backup 10 to backup 100. RSS also counts heap pages
 * that V8 keeps after a GC, so this margin is wider than the heap's. Runs here grew by 12 to
 * 29 MB, about 19 MB of it V8's heap capacity, and by 9 MB more from backup 100 to 300. A
 * leak of 1 MB per backup would add 90 MB.
 */
const RSS_MARGIN_BYTES = 48e6;

/** Peak RSS limit of the whole series. */
const PEAK_LIMIT_BYTES = 150e6;

/** Retention applied after the series: keep the 7 newest, whatever their age. */
const KEEP_LAST = 7;

let sim: Sim;
let app: string;
let stateDir: string;
let run: BackupRun;

function checkpoint(after: number): Checkpoint {
  const found = run.checkpoints.find((entry) => entry.after === after);
  if (found === undefined) throw new Error(`the child measured nothing after backup ${after}`);
  return found;
}

/** Backup files in the state folder, as dr-core names them. */
function backupFiles(): string[] {
  return readdirSync(stateDir).filter((name) => isBackupFileName(name));
}

function describeCheckpoint(entry: Checkpoint): string {
  const { ssh, api, otherSockets, nonSockets } = entry.descriptors;
  return `after ${entry.after}: rss ${megabytes(entry.rss)} MB, heap used ${megabytes(entry.heapUsed)} MB of ${megabytes(entry.heapTotal)} MB, external ${megabytes(entry.external)} MB; sockets ssh ${ssh}, api ${api}, other ${otherSockets}; other descriptors ${nonSockets}; active resources ${entry.resources.join(' ') || 'none'}`;
}

beforeAll(async () => {
  await buildDrCore();
  sim = await startSim({ writeIntervalMs: 20 });
  app = `load-series-${process.pid}`;
  sim.createApp(app, { primaryRegion: 'nrt' });
  await sim.seedMachine(app);
  const dir = testDir('flydr-load-series-');
  stateDir = join(dir, 'state');

  run = await runBackups(
    sim,
    {
      app,
      databasePath: DATABASE_PATH,
      stateDir,
      knownHosts: join(dir, 'known_hosts'),
      count: BACKUPS,
      checkpoints: [10, BACKUPS],
    },
    300_000,
  );

  const durations = [...run.durationsMs].sort((a, b) => a - b);
  const median = durations[Math.floor(durations.length / 2)] ?? Number.NaN;
  console.log(
    `load: ${BACKUPS} backups in ${(run.totalMs / 1000).toFixed(1)} s (median ${median.toFixed(0)} ms, max ${(durations.at(-1) ?? 0).toFixed(0)} ms), peak RSS ${megabytes(run.maxRssKb * 1024)} MB, database ${megabytes(run.backups.at(-1)?.size ?? 0)} MB at the end`,
  );
  for (const entry of [...run.checkpoints, run.closed]) {
    console.log(`load: ${describeCheckpoint(entry)}`);
  }
  const requests = sim
    .requestSummary()
    .map((summary) => `${summary.action} ${summary.count}`)
    .join(', ');
  console.log(`load: API requests of the series: ${requests}`);
}, 360_000);

afterAll(async () => {
  await sim?.close();
});

describe('100 backups in a row', () => {
  it('verifies every backup', () => {
    const statuses = run.backups.map((backup) => `${backup.status} ${backup.checkResult}`);
    expect(statuses).toEqual(Array.from({ length: BACKUPS }, () => 'verified ok'));
  });

  it('catalogs every backup', async () => {
    const dr = createDisasterRecovery({ app, databasePath: DATABASE_PATH, stateDir });
    try {
      const ids = (await dr.list()).map((backup) => backup.id).sort((a, b) => a - b);
      expect(ids).toEqual(run.backups.map((backup) => backup.id).sort((a, b) => a - b));
    } finally {
      await dr.close();
    }
  });

  it('writes one file per backup', () => {
    expect(backupFiles().sort()).toEqual(run.backups.map((backup) => backup.fileName).sort());
  });

  it('writes each file at its size', () => {
    const wrong = run.backups.filter(
      (backup) => statSync(join(stateDir, backup.fileName)).size !== backup.size,
    );
    expect(wrong).toEqual([]);
  });

  it('keeps the heap flat', () => {
    expect(checkpoint(BACKUPS).heapUsed - checkpoint(10).heapUsed).toBeLessThan(HEAP_MARGIN_BYTES);
  });

  it('keeps RSS flat', () => {
    expect(checkpoint(BACKUPS).rss - checkpoint(10).rss).toBeLessThan(RSS_MARGIN_BYTES);
  });

  it('keeps peak RSS under 150 MB', () => {
    expect(run.maxRssKb * 1024).toBeLessThan(PEAK_LIMIT_BYTES);
  });

  it('leaves no SSH connection open', () => {
    const open = [checkpoint(10), checkpoint(BACKUPS), run.closed].map(
      (entry) => entry.descriptors.ssh,
    );
    expect(open).toEqual([0, 0, 0]);
  });

  it('leaves no file open', () => {
    expect(checkpoint(BACKUPS).descriptors.nonSockets).toBe(checkpoint(10).descriptors.nonSockets);
  });

  it('closes the catalog on close', () => {
    expect(run.closed.descriptors.nonSockets).toBe(checkpoint(0).descriptors.nonSockets);
  });

  it('reuses one SSH certificate', () => {
    // One query for the app's organization and one certificate, however many backups run.
    const graphql = sim.requestSummary().find((summary) => summary.action === 'graphql');
    expect(graphql?.count).toBeLessThanOrEqual(2);
  });

  it('leaves the database untouched', () => {
    expect(sim.violations()).toEqual([]);
  });
});

describe('retention after 100 backups', () => {
  let removedIds: number[];
  let keptIds: number[];

  beforeAll(async () => {
    const dr = createDisasterRecovery({ app, databasePath: DATABASE_PATH, stateDir });
    try {
      ({ removedIds } = await dr.prune({ keepLast: KEEP_LAST, keepDays: 0 }));
      keptIds = (await dr.list()).map((backup) => backup.id);
    } finally {
      await dr.close();
    }
  });

  it('removes all but the newest', () => {
    expect(removedIds.length).toBe(BACKUPS - KEEP_LAST);
  });

  it('keeps the newest in the catalog', () => {
    const newest = run.backups
      .map((backup) => backup.id)
      .sort((a, b) => b - a)
      .slice(0, KEEP_LAST);
    expect(keptIds.sort((a, b) => b - a)).toEqual(newest);
  });

  it('keeps only their files', () => {
    const kept = new Set(keptIds);
    const expected = run.backups.filter((backup) => kept.has(backup.id)).map((b) => b.fileName);
    expect(backupFiles().sort()).toEqual(expected.sort());
  });

  it('deletes the removed files', () => {
    const removed = new Set(removedIds);
    const left = run.backups
      .filter((backup) => removed.has(backup.id))
      .filter((backup) => existsSync(join(stateDir, backup.fileName)));
    expect(left).toEqual([]);
  });
});
