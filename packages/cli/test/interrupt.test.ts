import { type Sim, startSim } from '@flydr/fly-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from './helpers/build.js';
import {
  abortShape,
  backupResultShape,
  errorShape,
  resumeRestoreShape,
  resumeSyncShape,
  statusShape,
} from './helpers/json-shapes.js';
import { type CliRun, jsonOf, runCli, startCli } from './helpers/run-cli.js';
import { type SimApp, startSimApp } from './helpers/sim-app.js';

// Ctrl-C (SIGINT) during the journaled sync and restore commands, against fly-sim on
// 127.0.0.1. Every child process is killed by runCli's own timeout if it hangs.

let sim: Sim;

function flydr(target: SimApp, args: string[]): Promise<CliRun> {
  return runCli([...args, ...target.args], { cwd: target.dir, env: target.env });
}

async function unfinished(target: SimApp) {
  const run = await flydr(target, ['status', '--json']);
  return statusShape.parse(jsonOf(run)).unfinishedOperations;
}

/** Starts an app in nrt with a stopped standby machine in sin, ready to sync into. */
async function appWithStandby(): Promise<SimApp> {
  const target = await startSimApp(sim);
  const prepared = await flydr(target, ['standby', 'prepare', '--region', 'sin', '--machine']);
  expect(prepared.code, prepared.stderr).toBe(0);
  return target;
}

/**
 * Starts `flydr ARGS --yes`, sends SIGINT once stderr matches `when`, and a second SIGINT,
 * when asked, once the first one's warning is printed.
 */
async function interrupt(
  target: SimApp,
  args: string[],
  when: RegExp,
  times: 1 | 2,
): Promise<CliRun> {
  const running = startCli([...args, '--yes', ...target.args], {
    cwd: target.dir,
    env: target.env,
  });
  await running.waitForStderr(when);
  running.child.kill('SIGINT');
  if (times === 2) {
    await running.waitForStderr(/warning: interrupted/);
    running.child.kill('SIGINT');
  }
  return running.done;
}

beforeAll(async () => {
  await buildCli();
  // Short transitions, so an operation takes long enough to be interrupted between steps.
  sim = await startSim({
    writeIntervalMs: 20,
    latencies: { createMs: 50, startMs: 200, stopMs: 200, updateMs: 300, destroyMs: 50 },
  });
}, 240_000);

afterAll(async () => {
  await sim?.close();
});

describe('Ctrl-C during flydr sync', () => {
  it('rolls the sync back with exit 4', async () => {
    const target = await appWithStandby();
    const run = await interrupt(
      target,
      ['sync', '--from', 'nrt', '--to', 'sin', '--json'],
      /✓ restore maintenance/,
      1,
    );

    expect(run.code, run.stderr).toBe(4);
    const { error } = errorShape.parse(jsonOf(run));
    expect(error.code).toBe('DR_INTERRUPTED');
    expect(error.operationId).toMatch(/^sync-/);
    expect(error.message).toMatch(
      /^interrupted: sync-\S+ stopped at step restore and was rolled back$/,
    );
    expect(error.hint).toMatch(/flydr sync --from nrt --to sin/);
    expect(run.stderr).toMatch(/press Ctrl-C again to stop at once/);
    expect(await unfinished(target)).toEqual([]);
    expect(sim.violations()).toEqual([]);

    const resumed = await flydr(target, ['resume', '--yes']);
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toMatch(/no unfinished operation of cli-test-/);
  });

  it('resumes a sync stopped by a second Ctrl-C', async () => {
    const target = await appWithStandby();
    const run = await interrupt(
      target,
      ['sync', '--from', 'nrt', '--to', 'sin'],
      /✓ restore maintenance/,
      2,
    );
    expect(run.code).toBeNull();
    const operations = await unfinished(target);
    expect(operations.map((operation) => operation.status)).toEqual(['interrupted']);
    expect(operations[0]?.id).toMatch(/^sync-/);

    const resumed = await flydr(target, ['resume', '--yes', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const report = resumeSyncShape.parse(jsonOf(resumed));
    expect([report.operationId, report.from, report.to]).toEqual([operations[0]?.id, 'nrt', 'sin']);
    expect(await unfinished(target)).toEqual([]);
    expect(sim.violations()).toEqual([]);
  });

  it('aborts a sync stopped by a second Ctrl-C', async () => {
    const target = await appWithStandby();
    await interrupt(target, ['sync', '--from', 'nrt', '--to', 'sin'], /✓ restore maintenance/, 2);

    const aborted = await flydr(target, ['abort', '--yes', '--json']);
    expect(aborted.code, aborted.stderr).toBe(0);
    const report = abortShape.parse(jsonOf(aborted));
    expect([report.kind, report.status]).toEqual(['sync', 'aborted']);
    expect(sim.appWriter(target.machineId).running()).toBe(true);
    expect(sim.violations()).toEqual([]);
  });
});

describe('Ctrl-C during flydr restore', () => {
  async function appWithBackup(): Promise<SimApp> {
    const target = await appWithStandby();
    const backup = await flydr(target, ['backup', '--json']);
    expect(backupResultShape.parse(jsonOf(backup)).backup.id).toBe(1);
    return target;
  }

  it('rolls the restore back with exit 4', async () => {
    const target = await appWithBackup();
    const run = await interrupt(
      target,
      ['restore', '1', '--region', 'SIN', '--json'],
      /✓ restore maintenance/,
      1,
    );

    expect(run.code, run.stderr).toBe(4);
    const { error } = errorShape.parse(jsonOf(run));
    expect(error.code).toBe('DR_INTERRUPTED');
    expect(error.operationId).toMatch(/^restore-/);
    expect(error.hint).toMatch(/flydr restore 1 --region sin/);
    expect(await unfinished(target)).toEqual([]);
    expect(sim.violations()).toEqual([]);
  });

  it('resumes a restore stopped by a second Ctrl-C', async () => {
    const target = await appWithBackup();
    await interrupt(target, ['restore', '1', '--region', 'sin'], /✓ restore maintenance/, 2);
    expect((await unfinished(target)).map((operation) => operation.status)).toEqual([
      'interrupted',
    ]);

    const resumed = await flydr(target, ['resume', '--yes', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumeRestoreShape.parse(jsonOf(resumed)).backupId).toBe(1);
    expect(await unfinished(target)).toEqual([]);
  });
});

describe('flydr restore --region', () => {
  it('rejects an unknown region before journaling', async () => {
    const target = await startSimApp(sim);
    const backup = await flydr(target, ['backup']);
    expect(backup.code, backup.stderr).toBe(0);

    const run = await flydr(target, ['restore', '1', '--region', 'xyz', '--yes', '--json']);
    expect(run.code).toBe(2);
    expect(errorShape.parse(jsonOf(run)).error.code).toBe('DR_UNKNOWN_REGION');
    expect(run.stderr).not.toMatch(/operation restore-/);
  });
});
