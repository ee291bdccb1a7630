import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CATALOG_FILE_NAME } from '@flydr/dr-core';
import type { Sim } from '@flydr/fly-sim';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../packages/cli/src/exit-codes.js';
import { buildCli } from '../packages/cli/test/helpers/build.js';
import {
  backupsListShape,
  errorShape,
  failoverShape,
  statusShape,
} from '../packages/cli/test/helpers/json-shapes.js';
import { type CliRun, jsonOf, runCli, startCli } from '../packages/cli/test/helpers/run-cli.js';
import { type SimApp, startSimApp } from '../packages/cli/test/helpers/sim-app.js';

// Fault-matrix cells seen from the command line: the documented exit code and the one error
// line (with a next step) a user gets. Each cell also checks that no committed row is lost,
// that the sim saw no invariant violation, and that the catalog and journal are consistent.

let sim: Sim;
let target: SimApp;

function flydr(args: string[], app: SimApp = target, env: Record<string, string> = app.env) {
  return runCli([...args, ...app.args], { cwd: app.dir, env });
}

async function backupIds(app: SimApp = target): Promise<number[]> {
  const run = await flydr(['backups', 'list', '--json'], app);
  return backupsListShape.parse(jsonOf(run)).backups.map((backup) => backup.id);
}

/** Returns the `flydr: ` error lines of a run's stderr. */
function errorLines(run: CliRun): string[] {
  return run.stderr.split('\n').filter((line) => line.startsWith('flydr: '));
}

/** Returns the `next:` hint line of a run's stderr. */
function hintLine(run: CliRun): string {
  return run.stderr.split('\n').find((line) => line.startsWith('  next: ')) ?? '';
}

/**
 * Returns the status of every journaled operation of the app, oldest first, as stored: a
 * paused operation stays `running` here, and `flydr status` shows it as interrupted.
 */
function journalStatuses(app: SimApp): string[] {
  const path = join(app.stateDir, CATALOG_FILE_NAME);
  if (!existsSync(path)) return [];
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT status FROM operations ORDER BY rowid').all();
    return (rows as { status: string }[]).map((row) => row.status);
  } finally {
    db.close();
  }
}

/** Returns the committed rows of a machine's app that are missing from its volume's database. */
function lostRowsIn(machineId: string): number[] {
  const committed = sim.appWriter(machineId).committedIds();
  const volumeDir = sim.machine(machineId).volumeDir as string;
  const db = new Database(join(volumeDir, 'app.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT id FROM writes').all() as { id: number }[];
    const onVolume = new Set(rows.map((row) => row.id));
    return committed.filter((id) => !onVolume.has(id));
  } finally {
    db.close();
  }
}

/** Returns the machines of the app as `id:region:state`, sorted. */
async function machineList(app: SimApp): Promise<string[]> {
  const status = statusShape.parse(jsonOf(await flydr(['status', '--json'], app)));
  return status.regions
    .flatMap((region) => region.machines.map((m) => `${m.id}:${region.region}:${m.state}`))
    .sort();
}

/** Checks what every cell checks after a command failed on the app's nrt machine. */
function expectAppIntact(app: SimApp): void {
  expect(lostRowsIn(app.machineId)).toEqual([]);
  expect(sim.appWriter(app.machineId).running()).toBe(true);
  expect(sim.violations()).toEqual([]);
  expect(journalStatuses(app).filter((status) => status !== 'failed')).toEqual([]);
}

beforeAll(async () => {
  await buildCli();
  target = await startSimApp();
  sim = target.sim;
  const first = await flydr(['backup']);
  if (first.code !== 0) throw new Error(`the first backup failed:\n${first.stderr}`);
}, 240_000);

afterAll(async () => {
  await sim?.close();
});

describe('flydr under faults', () => {
  it('exits 3 on a held lease', async () => {
    const before = await backupIds();
    const lease = await leaseMachine(target, 'deploy by alice');
    try {
      const run = await flydr(['restore', 'latest', '--region', 'nrt', '--yes']);

      expect(run.code, run.stderr).toBe(ExitCode.Refused);
      expect(errorLines(run)).toHaveLength(1);
      expect(run.stderr).toContain('deploy by alice');
      expect(hintLine(run)).not.toBe('');
    } finally {
      await releaseMachine(target, lease);
    }
    expect(await backupIds()).toEqual(before);
    expectAppIntact(target);
  });

  it('exits 1 on a full volume', async () => {
    const before = await backupIds();
    sim.fillVolume(target.volumeId, 1024 ** 3);
    try {
      const run = await flydr(['backup', '--strategy', 'sqlite3-backup']);

      expect(run.code, run.stderr).toBe(ExitCode.OperationFailed);
      expect(errorLines(run)).toHaveLength(1);
      expect(run.stderr).toMatch(/bytes free/);
      expect(hintLine(run)).not.toBe('');
      expect(await backupIds()).toEqual(before);
    } finally {
      sim.fillVolume(target.volumeId, -(1024 ** 3));
    }
    expectAppIntact(target);
  });

  it('exits 1 on a 503 storm', async () => {
    const before = await backupIds();
    const storm = sim.injectFault({
      method: 'GET',
      path: '/v1/apps/:app/machines',
      status: 503,
      body: { error: 'service unavailable' },
      times: 50,
    });
    try {
      const run = await flydr(['backup']);

      expect(run.code, run.stderr).toBe(ExitCode.OperationFailed);
      expect(errorLines(run)).toHaveLength(1);
      expect(run.stderr).toMatch(/503/);
      expect(hintLine(run)).not.toBe('');
      expect(storm.hits).toBeGreaterThan(1);
    } finally {
      storm.remove();
    }
    expect(await backupIds()).toEqual(before);
    expectAppIntact(target);
  });

  it('exits 1 when a 429 storm outlasts the retries', async () => {
    const before = await backupIds();
    const storm = sim.injectFault({
      method: 'GET',
      path: '/v1/apps/:app/machines',
      status: 429,
      body: { error: 'rate limit exceeded' },
      times: 50,
    });
    try {
      const run = await flydr(['backup']);

      expect(run.code, run.stderr).toBe(ExitCode.OperationFailed);
      expect(errorLines(run)).toHaveLength(1);
      expect(errorLines(run)[0]).toMatch(/429|rate limit/i);
      expect(hintLine(run)).not.toBe('');
      expect(storm.hits).toBeGreaterThan(1);
    } finally {
      storm.remove();
    }
    expect(await backupIds()).toEqual(before);
    expectAppIntact(target);
  });

  it('exits 1 on a host that is down', async () => {
    const before = await backupIds();
    await sim.hostDown(target.machineId);
    try {
      const run = await flydr(['backup']);

      expect(run.code, run.stderr).toBe(ExitCode.OperationFailed);
      expect(errorLines(run)).toHaveLength(1);
      expect(run.stderr).toContain(target.machineId);
      expect(hintLine(run)).not.toBe('');
    } finally {
      await sim.hostUp(target.machineId);
    }
    expect(await backupIds()).toEqual(before);
    expectAppIntact(target);
  });

  it('exits 2 without a token', async () => {
    const before = await backupIds();

    const run = await flydr(['backup'], target, {});

    expect(run.code, run.stderr).toBe(ExitCode.InvalidInput);
    expect(errorLines(run)).toHaveLength(1);
    expect(errorLines(run)[0]).toMatch(/^flydr: missing Fly API token: FLY_API_TOKEN and /);
    expect(hintLine(run)).toMatch(/fly auth login/);
    expect(await backupIds()).toEqual(before);
    expectAppIntact(target);
  });
});

describe('flydr failover under faults', () => {
  it('exits 2 on an unknown region and journals nothing', async () => {
    const app = await startSimApp(sim);
    const machines = await machineList(app);

    const run = await flydr(['failover', '--to', 'xyz', '--yes'], app);

    expect(run.code, run.stderr).toBe(ExitCode.InvalidInput);
    expect(errorLines(run)).toHaveLength(1);
    expect(errorLines(run)[0]).toMatch(/^flydr: unknown region code "xyz"; valid codes: .*sin/);
    expect(hintLine(run)).toMatch(/Use one of: .*nrt/);
    expect(journalStatuses(app)).toEqual([]);
    expect(await machineList(app)).toEqual(machines);
    expectAppIntact(app);
  });

  it('exits 3 when the target has no capacity', async () => {
    const app = await startSimApp(sim);
    const machines = await machineList(app);
    sim.setCapacity('sin', { machines: 0 });
    try {
      const run = await flydr(['failover', '--to', 'sin', '--yes', '--json'], app);

      expect(run.code, run.stderr).toBe(ExitCode.Refused);
      expect(errorLines(run)).toHaveLength(1);
      expect(errorLines(run)[0]).toContain('sin');
      expect(errorShape.parse(jsonOf(run)).error.code).toBe('DR_NO_CAPACITY');
      expect(hintLine(run)).not.toBe('');
    } finally {
      sim.setCapacity('sin', { machines: Number.POSITIVE_INFINITY });
    }
    expect(await machineList(app)).toEqual(machines);
    expectAppIntact(app);
  });

  it('exits 3 on a diverged old primary', async () => {
    const app = await startSimApp(sim);
    const over = await flydr(['failover', '--to', 'sin', '--yes', '--json'], app);
    expect(over.code, over.stderr).toBe(ExitCode.Success);
    const { targetMachineId } = failoverShape.parse(jsonOf(over));
    writeBehindFlydr(app);

    const run = await flydr(['failback', '--yes'], app);

    expect(run.code, run.stderr).toBe(ExitCode.Refused);
    expect(errorLines(run)).toHaveLength(1);
    expect(errorLines(run)[0]).toContain(app.machineId);
    expect(hintLine(run)).toMatch(/--force/);
    expect(sim.appWriter(targetMachineId).running()).toBe(true);
    expect(lostRowsIn(targetMachineId)).toEqual([]);
    expect(journalStatuses(app)).toEqual(['succeeded', 'failed']);
    expect(sim.violations()).toEqual([]);

    const forced = await flydr(['failback', '--yes', '--force'], app);
    expect(forced.code, forced.stderr).toBe(ExitCode.Success);
    expect(journalStatuses(app)).toEqual(['succeeded', 'failed', 'succeeded']);
  });

  it('exits 4 when interrupted and aborts cleanly', async () => {
    const app = await startSimApp(sim);
    const running = startCli(['failover', '--to', 'sin', '--yes', ...app.args], {
      cwd: app.dir,
      env: app.env,
    });
    await running.waitForStderr(/\] fence$/m);
    running.child.kill('SIGINT');

    const run = await running.done;

    expect(run.code, run.stderr).toBe(ExitCode.Interrupted);
    expect(errorLines(run)).toHaveLength(1);
    expect(errorLines(run)[0]).toMatch(/interrupted: failover-\S+ is paused after step fence/);
    expect(run.stderr).toMatch(/flydr resume failover-/);
    const status = statusShape.parse(jsonOf(await flydr(['status', '--json'], app)));
    expect(status.unfinishedOperations.map((operation) => operation.status)).toEqual([
      'interrupted',
    ]);

    const aborted = await flydr(['abort', '--yes'], app);
    expect(aborted.code, aborted.stderr).toBe(ExitCode.Success);
    expect(journalStatuses(app)).toEqual(['aborted']);
    expect(lostRowsIn(app.machineId)).toEqual([]);
    expect(sim.appWriter(app.machineId).running()).toBe(true);
    expect(sim.violations()).toEqual([]);
  });
});

/** Inserts a row into the stopped old primary's database, as a stray writer would. */
function writeBehindFlydr(app: SimApp): void {
  const db = new Database(join(sim.volumeDir(app.volumeId), 'app.db'));
  try {
    db.prepare('INSERT INTO writes (machine_id, region, written_at) VALUES (?, ?, ?)').run(
      'stray-writer',
      'nrt',
      new Date().toISOString(),
    );
  } finally {
    db.close();
  }
}

/** Takes a lease on the app's machine as another operator would. */
async function leaseMachine(app: SimApp, description: string): Promise<string> {
  const response = await fetch(`${sim.apiUrl}/v1/apps/${app.app}/machines/${app.machineId}/lease`, {
    method: 'POST',
    headers: { authorization: `Bearer ${sim.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ttl: 120, description }),
  });
  const body = (await response.json()) as { data?: { nonce?: string }; nonce?: string };
  const nonce = body.data?.nonce ?? body.nonce;
  if (nonce === undefined) throw new Error(`no lease nonce in ${JSON.stringify(body)}`);
  return nonce;
}

/** Releases a lease taken by {@link leaseMachine}. */
async function releaseMachine(app: SimApp, nonce: string): Promise<void> {
  await fetch(`${sim.apiUrl}/v1/apps/${app.app}/machines/${app.machineId}/lease`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${sim.token}`, 'fly-machine-lease-nonce': nonce },
  });
}
