import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sim } from '@flydr/fly-sim';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from './helpers/build.js';
import {
  backupResultShape,
  backupsListShape,
  diffShape,
  errorShape,
  pruneShape,
  restoreFileShape,
  restoreMachineShape,
  verifyShape,
} from './helpers/json-shapes.js';
import { jsonOf, runCli } from './helpers/run-cli.js';
import { type SimApp, startSimApp } from './helpers/sim-app.js';

let sim: Sim;
let target: SimApp;

function flydr(args: string[], app = target) {
  return runCli([...args, ...app.args], { cwd: app.dir, env: app.env });
}

beforeAll(async () => {
  await buildCli();
  target = await startSimApp();
  sim = target.sim;
}, 240_000);

afterAll(async () => {
  await sim?.close();
});

describe('flydr backup', () => {
  it('catalogues a verified backup of the live database', async () => {
    const run = await flydr(['backup', '--json']);
    expect(run.stderr).toMatch(/backup .*download|backup .*snapshot/);
    expect(run.code, run.stderr).toBe(0);
    const { backup } = backupResultShape.parse(jsonOf(run));
    expect(backup.machineId).toBe(target.machineId);
    expect(backup.region).toBe('nrt');
    expect(backup.status).toBe('verified');
    expect(existsSync(backup.path)).toBe(true);
  });

  it('prints a text summary without --json', async () => {
    const run = await flydr(['backup', '--check', 'integrity']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^backup 2: .* from .* in nrt, integrity_check ok/);
  });

  it('names an unknown machine id', async () => {
    const run = await flydr(['backup', '--machine', 'd8e7f6a5b4c3d2']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('d8e7f6a5b4c3d2');
  });
});

describe('flydr backups', () => {
  it('lists the backups newest first', async () => {
    const run = await flydr(['backups', 'list', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const { backups } = backupsListShape.parse(jsonOf(run));
    expect(backups.map((b) => b.id)).toEqual([2, 1]);
  });

  it('lists them as a table', async () => {
    const run = await flydr(['backups', 'list']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.split('\n')[0]).toMatch(/^ID\s+FINISHED \(UTC\)\s+REGION\s+SIZE\s+STATUS/);
  });

  it('prints the table without colour off a terminal', async () => {
    const run = await runCli(['backups', 'list', ...target.args], {
      cwd: target.dir,
      env: { ...target.env, NO_COLOR: '' },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^ID\s+FINISHED/);
  });

  it('shows one backup', async () => {
    const run = await flydr(['backups', 'show', '1']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/sha256\s+[0-9a-f]{64}/);
  });

  it('shows one backup as JSON', async () => {
    const run = await flydr(['backups', 'show', '2', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(backupResultShape.parse(jsonOf(run)).backup.id).toBe(2);
  });

  it('names an unknown backup id', async () => {
    const run = await flydr(['backups', 'show', '99', '--json']);
    expect(run.code).toBe(2);
    const { error } = errorShape.parse(jsonOf(run));
    expect(error.code).toBe('DR_BACKUP_NOT_FOUND');
    expect(run.stderr).toMatch(/backup 99 is not in the catalog/);
  });

  it('verifies every backup', async () => {
    const run = await flydr(['backups', 'verify', '--all', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const document = verifyShape.parse(jsonOf(run));
    expect(document.results.map((r) => r.ok)).toEqual([true, true]);
  });

  it('reports a damaged backup with exit 1', async () => {
    const list = backupsListShape.parse(jsonOf(await flydr(['backups', 'list', '--json'])));
    const damaged = list.backups.find((b) => b.id === 1);
    writeFileSync(damaged?.path ?? '', 'not a database any more');
    const run = await flydr(['backups', 'verify', '1', '--json']);
    expect(run.code).toBe(1);
    expect(verifyShape.parse(jsonOf(run)).ok).toBe(false);
  });

  it('rejects --all with an id', async () => {
    const run = await flydr(['backups', 'verify', '1', '--all']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/all/);
  });

  it('prunes nothing off a terminal without --yes', async () => {
    const run = await flydr(['backups', 'prune', '--keep-days', '0', '--keep-last', '0']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/pass --yes/);
    const list = backupsListShape.parse(jsonOf(await flydr(['backups', 'list', '--json'])));
    expect(list.backups).toHaveLength(2);
  });

  it('lists what a prune would delete', async () => {
    const run = await flydr([
      'backups',
      'prune',
      '--keep-days',
      '0',
      '--keep-last',
      '0',
      '--dry-run',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const plan = pruneShape.parse(jsonOf(run));
    expect(plan.remove.map((c) => c.backup.id)).toEqual([1]);
    expect(plan.removedIds).toEqual([]);
  });

  it('prunes with --yes and keeps the newest verified', async () => {
    const run = await flydr([
      'backups',
      'prune',
      '--keep-days',
      '0',
      '--keep-last',
      '0',
      '--yes',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(pruneShape.parse(jsonOf(run)).removedIds).toEqual([1]);
  });

  it('keeps the newest verified backup on delete', async () => {
    const run = await flydr(['backups', 'delete', '2', '--yes', '--json']);
    expect(run.code).toBe(3);
    const { error } = errorShape.parse(jsonOf(run));
    expect(error.code).toBe('DR_REFUSED');
    expect(error.message).toMatch(/newest verified backup/);
    expect(error.hint).toMatch(/pass --force/);
    const list = backupsListShape.parse(jsonOf(await flydr(['backups', 'list', '--json'])));
    expect(list.backups.map((b) => b.id)).toEqual([2]);
  });

  it('refuses the newest verified backup before asking', async () => {
    const run = await flydr(['backups', 'delete', '2']);
    expect(run.code).toBe(3);
    expect(run.stderr).not.toMatch(/pass --yes/);
    expect(run.stderr).toMatch(/^ {2}next: .*--force/m);
  });

  it('refuses a delete off a terminal without --yes', async () => {
    const run = await flydr(['backups', 'delete', '2', '--force']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/pass --yes/);
    const list = backupsListShape.parse(jsonOf(await flydr(['backups', 'list', '--json'])));
    expect(list.backups.map((b) => b.id)).toEqual([2]);
  });

  it('rejects a negative --keep-days', async () => {
    const run = await flydr(['backups', 'prune', '--keep-days', '-1']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/invalid --keep-days "-1"/);
  });

  it.each([
    ['--keep-days', 'abc'],
    ['--keep-days', '1.5'],
    ['--keep-last', 'many'],
  ])('rejects %s %s naming the value', async (option, value) => {
    const run = await flydr(['backups', 'prune', option, value, '--dry-run']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`flydr: invalid ${option} "${value}": expected a whole number`);
    expect(run.stderr).not.toContain('null');
  });

  it('names a --keep-days without a value', async () => {
    const run = await flydr(['backups', 'prune', '--keep-days']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('flydr: missing value after --keep-days');
  });
});

describe('flydr restore', () => {
  it('writes a backup to a local file', async () => {
    const path = join(target.dir, 'restored.db');
    const run = await flydr(['restore', 'latest', '--to-file', path, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const document = restoreFileShape.parse(jsonOf(run));
    expect(document.path).toBe(path);
    const db = new Database(path, { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  });

  it('keeps an existing file without --yes', async () => {
    const path = join(target.dir, 'keep.db');
    writeFileSync(path, 'mine');
    const run = await flydr(['restore', '2', '--to-file', path]);
    expect(run.code).toBe(2);
    expect(readdirSync(target.dir).filter((name) => name.startsWith('keep.db'))).toEqual([
      'keep.db',
    ]);
  });

  it('asks before replacing a leftover -wal file', async () => {
    const path = join(target.dir, 'sidecar.db');
    writeFileSync(`${path}-wal`, 'stale wal');
    const names = () =>
      readdirSync(target.dir)
        .filter((name) => name.startsWith('sidecar.db'))
        .sort();

    const refused = await flydr(['restore', '2', '--to-file', path]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`replace ${path}-wal?`);
    expect(refused.stderr).toMatch(/pass --yes/);
    expect(names()).toEqual(['sidecar.db-wal']);

    const run = await flydr(['restore', '2', '--to-file', path, '--yes', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(restoreFileShape.parse(jsonOf(run)).path).toBe(path);
    expect(names()).toContain('sidecar.db');
    expect(names()).not.toContain('sidecar.db-wal');
    expect(names().filter((name) => /^sidecar\.db\.flydr-prev-\S+-wal$/.test(name))).toHaveLength(
      1,
    );
  });

  it('names an unknown backup id', async () => {
    const run = await flydr(['restore', '42', '--to-file', join(target.dir, 'x.db')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/backup 42 is not in the catalog/);
    expect(existsSync(join(target.dir, 'x.db'))).toBe(false);
  });

  it('asks for a target', async () => {
    const run = await flydr(['restore', '2']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/missing restore target/);
  });

  it('refuses a machine restore off a terminal without --yes', async () => {
    const run = await flydr(['restore', '2', '--region', 'nrt']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/pass --yes/);
    expect(sim.machine(target.machineId).state).toBe('started');
  });

  it('restores onto the nrt machine with --yes', async () => {
    const run = await flydr(['restore', '2', '--region', 'nrt', '--yes', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const document = restoreMachineShape.parse(jsonOf(run));
    expect(document.operationId).toMatch(/^restore-/);
    expect(document.machineId).toBe(target.machineId);
    expect(document.preRestoreBackup?.reason).toBe('pre-restore');
    expect(sim.violations()).toEqual([]);
  });
});

describe('flydr diff', () => {
  it('compares two backups row by row', async () => {
    const list = backupsListShape.parse(jsonOf(await flydr(['backups', 'list', '--json'])));
    const [newest, older] = list.backups;
    const run = await flydr(['diff', String(older?.id), String(newest?.id), '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = diffShape.parse(jsonOf(run));
    expect(report.identical).toBe(false);
    expect(report.tables[0]?.table).toBe('writes');
    expect(report.tables[0]?.onlyInSecond).toBeGreaterThan(0);
  });

  it('names a missing file', async () => {
    const run = await flydr(['diff', 'nope.db', 'other.db']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/nope\.db does not exist/);
  });
});
