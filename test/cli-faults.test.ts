import type { Sim } from '@flydr/fly-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../packages/cli/test/helpers/build.js';
import { backupsListShape } from '../packages/cli/test/helpers/json-shapes.js';
import { type CliRun, jsonOf, runCli } from '../packages/cli/test/helpers/run-cli.js';
import { type SimApp, startSimApp } from '../packages/cli/test/helpers/sim-app.js';

// Fault-matrix cells seen from the command line: the exit code and the one error line a
// user gets, and that the catalog is unchanged after a failed backup.

let sim: Sim;
let target: SimApp;

function flydr(args: string[]): Promise<CliRun> {
  return runCli([...args, ...target.args], { cwd: target.dir, env: target.env });
}

async function backupIds(): Promise<number[]> {
  const run = await flydr(['backups', 'list', '--json']);
  return backupsListShape.parse(jsonOf(run)).backups.map((backup) => backup.id);
}

/** Returns the `flydr: ` error lines of a run's stderr. */
function errorLines(run: CliRun): string[] {
  return run.stderr.split('\n').filter((line) => line.startsWith('flydr: '));
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
    const lease = await leaseMachine('deploy by alice');
    try {
      const run = await flydr(['restore', 'latest', '--region', 'nrt', '--yes']);

      expect(run.code, run.stderr).toBe(3);
      expect(errorLines(run)).toHaveLength(1);
      expect(run.stderr).toContain('deploy by alice');
      expect(run.stderr).toMatch(/next: /);
    } finally {
      await releaseMachine(lease);
    }
  });

  it('exits 1 on a full volume', async () => {
    const before = await backupIds();
    sim.fillVolume(target.volumeId, 1024 ** 3);
    try {
      const run = await flydr(['backup', '--strategy', 'sqlite3-backup']);

      expect(run.code, run.stderr).toBe(1);
      expect(errorLines(run)).toHaveLength(1);
      expect(run.stderr).toMatch(/bytes free/);
      expect(run.stderr).toMatch(/next: /);
      expect(await backupIds()).toEqual(before);
    } finally {
      sim.fillVolume(target.volumeId, -(1024 ** 3));
    }
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

      expect(run.code, run.stderr).toBe(1);
      expect(errorLines(run)).toHaveLength(1);
      expect(run.stderr).toMatch(/503/);
      expect(run.stderr).toMatch(/next: /);
      expect(storm.hits).toBeGreaterThan(1);
    } finally {
      storm.remove();
    }
    expect(await backupIds()).toEqual(before);
  });

  it('exits 1 on a host that is down', async () => {
    const before = await backupIds();
    await sim.hostDown(target.machineId);
    try {
      const run = await flydr(['backup']);

      expect(run.code, run.stderr).toBe(1);
      expect(errorLines(run)).toHaveLength(1);
      expect(run.stderr).toContain(target.machineId);
      expect(run.stderr).toMatch(/next: /);
    } finally {
      await sim.hostUp(target.machineId);
    }
    expect(await backupIds()).toEqual(before);
  });
});

/** Takes a lease on the app's machine as another operator would. */
async function leaseMachine(description: string): Promise<string> {
  const response = await fetch(
    `${sim.apiUrl}/v1/apps/${target.app}/machines/${target.machineId}/lease`,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ttl: 120, description }),
    },
  );
  const body = (await response.json()) as { data?: { nonce?: string }; nonce?: string };
  const nonce = body.data?.nonce ?? body.nonce;
  if (nonce === undefined) throw new Error(`no lease nonce in ${JSON.stringify(body)}`);
  return nonce;
}

/** Releases a lease taken by {@link leaseMachine}. */
async function releaseMachine(nonce: string): Promise<void> {
  await fetch(`${sim.apiUrl}/v1/apps/${target.app}/machines/${target.machineId}/lease`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${sim.token}`, 'fly-machine-lease-nonce': nonce },
  });
}
