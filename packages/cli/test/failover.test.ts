import { type Sim, startSim } from '@flydr/fly-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from './helpers/build.js';
import {
  abortShape,
  dryRunShape,
  errorShape,
  failoverShape,
  standbyPrepareShape,
  statusShape,
  syncShape,
} from './helpers/json-shapes.js';
import { jsonOf, runCli, startCli } from './helpers/run-cli.js';
import { type SimApp, startSimApp } from './helpers/sim-app.js';

let sim: Sim;

function flydr(target: SimApp, args: string[]) {
  return runCli([...args, ...target.args], { cwd: target.dir, env: target.env });
}

function machineIds(target: SimApp): Promise<string[]> {
  return flydr(target, ['status', '--json']).then((run) =>
    statusShape
      .parse(jsonOf(run))
      .regions.flatMap((region) =>
        region.machines.map((machine) => `${machine.id}:${machine.state}`),
      )
      .sort(),
  );
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

describe('flydr failover and failback', () => {
  let target: SimApp;

  beforeAll(async () => {
    target = await startSimApp(sim);
  });

  it('prepares the standby volume and machine', async () => {
    const run = await flydr(target, [
      'standby',
      'prepare',
      '--region',
      'sin',
      '--machine',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const report = standbyPrepareShape.parse(jsonOf(run));
    expect([report.createdVolume, report.createdMachine]).toEqual([true, true]);
  });

  it('reuses the standby on a second prepare', async () => {
    const run = await flydr(target, [
      'standby',
      'prepare',
      '--region',
      'sin',
      '--machine',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const report = standbyPrepareShape.parse(jsonOf(run));
    expect([report.createdVolume, report.createdMachine]).toEqual([false, false]);
  });

  it('shows the primary in nrt', async () => {
    const run = await flydr(target, ['status', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const status = statusShape.parse(jsonOf(run));
    expect(status.primary?.machineId).toBe(target.machineId);
    expect(status.regions.map((region) => region.region)).toEqual(['nrt', 'sin']);
  });

  it('prints status as a table', async () => {
    const run = await flydr(target, ['status']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^REGION\s+MACHINE\s+STATE\s+ROLE/m);
  });

  it('names an unknown target region', async () => {
    const before = await machineIds(target);
    const run = await flydr(target, ['failover', '--to', 'xyz', '--yes', '--json']);
    expect(run.code).toBe(2);
    expect(errorShape.parse(jsonOf(run)).error.code).toBe('DR_UNKNOWN_REGION');
    expect(run.stderr).toMatch(/unknown region code "xyz"/);
    expect(await machineIds(target)).toEqual(before);
  });

  it('reads an upper-case region in lower case', async () => {
    const run = await flydr(target, ['failover', '--to', 'SIN', '--dry-run', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(dryRunShape.parse(jsonOf(run)).to).toBe('sin');
  });

  it('refuses off a terminal without --yes', async () => {
    const run = await flydr(target, ['failover', '--to', 'sin']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/pass --yes/);
    expect(sim.machine(target.machineId).state).toBe('started');
  });

  it('rejects --to equal to --from', async () => {
    const run = await flydr(target, ['failover', '--from', 'nrt', '--to', 'nrt', '--yes']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/same region as --from/);
  });

  it('refuses a target without capacity and changes nothing', async () => {
    const before = await machineIds(target);
    sim.setCapacity('sin', { machines: 0 });
    try {
      const run = await flydr(target, ['failover', '--to', 'sin', '--yes', '--json']);
      expect(run.code).toBe(3);
      expect(errorShape.parse(jsonOf(run)).error.code).toBe('DR_NO_CAPACITY');
    } finally {
      sim.setCapacity('sin', { machines: Number.POSITIVE_INFINITY });
    }
    expect(await machineIds(target)).toEqual(before);
    expect(sim.appWriter(target.machineId).running()).toBe(true);
  });

  it('plans without changing anything on --dry-run', async () => {
    const before = await machineIds(target);
    const run = await flydr(target, ['failover', '--to', 'sin', '--dry-run']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/dry run: fail over .* from nrt .* to sin/);
    expect(await machineIds(target)).toEqual(before);
  });

  it('prints the dry-run plan as JSON', async () => {
    const run = await flydr(target, ['failover', '--to', 'sin', '--dry-run', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const plan = dryRunShape.parse(jsonOf(run));
    expect([plan.from, plan.to, plan.sourceMachineId]).toEqual(['nrt', 'sin', target.machineId]);
    expect(plan.steps.map((step) => step.name)).toContain('fence');
  });

  it('fails over to sin with RPO 0', async () => {
    const run = await flydr(target, ['failover', '--to', 'sin', '--yes', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = failoverShape.parse(jsonOf(run));
    expect([report.from, report.to, report.rpoMs]).toEqual(['nrt', 'sin', 0]);
    expect(sim.appWriter(report.targetMachineId).running()).toBe(true);
    expect(sim.appWriter(target.machineId).running()).toBe(false);
    expect(run.stderr).toMatch(/✓ start-target/);
    expect(sim.violations()).toEqual([]);
  });

  it('rejects a malformed --wait-for-capacity', async () => {
    const run = await flydr(target, ['failback', '--wait-for-capacity', 'soon', '--yes']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/invalid --wait-for-capacity "soon"/);
  });

  it('fails back to nrt', async () => {
    const run = await flydr(target, ['failback', '--wait-for-capacity', '30s', '--yes', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = failoverShape.parse(jsonOf(run));
    expect([report.kind, report.from, report.to]).toEqual(['failback', 'sin', 'nrt']);
    expect(report.targetMachineId).toBe(target.machineId);
    expect(sim.appWriter(target.machineId).running()).toBe(true);
    expect(sim.violations()).toEqual([]);
  });

  it('syncs the standby from the primary', async () => {
    const run = await flydr(target, ['sync', '--from', 'nrt', '--to', 'sin', '--yes', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = syncShape.parse(jsonOf(run));
    expect(report.operationId).toMatch(/^sync-/);
    expect(report.sourceMachineId).toBe(target.machineId);
    expect(sim.violations()).toEqual([]);
  });

  it('refuses to sync over the active primary', async () => {
    const run = await flydr(target, ['sync', '--from', 'sin', '--to', 'nrt', '--yes', '--json']);
    expect(run.code).toBe(3);
    expect(errorShape.parse(jsonOf(run)).error.code).toMatch(/^DR_/);
    expect(sim.appWriter(target.machineId).running()).toBe(true);
  });

  it('rejects a sync within one region', async () => {
    const run = await flydr(target, ['sync', '--from', 'nrt', '--to', 'nrt', '--yes']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/same region as --from/);
  });
});

describe('flydr failover from an unreachable host', () => {
  let target: SimApp;

  beforeAll(async () => {
    target = await startSimApp(sim);
    expect((await flydr(target, ['backup'])).code).toBe(0);
    await sim.hostDown(target.machineId);
  });

  it('refuses without --allow-stale-backup', async () => {
    const run = await flydr(target, ['failover', '--to', 'sin', '--yes', '--json']);
    expect(run.code).toBe(3);
    expect(errorShape.parse(jsonOf(run)).error.code).toBe('DR_REFUSED');
    expect(run.stderr).toMatch(/is unreachable, so no final snapshot can be taken/);
    expect(run.stderr).toMatch(/--allow-stale-backup/);
  });

  it('fails over from the newest backup with --allow-stale-backup', async () => {
    const run = await flydr(target, [
      'failover',
      '--to',
      'sin',
      '--allow-stale-backup',
      '1h',
      '--yes',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const report = failoverShape.parse(jsonOf(run));
    expect(report.rpoMs).toBeGreaterThan(0);
    expect(sim.appWriter(report.targetMachineId).running()).toBe(true);
    expect(sim.violations()).toEqual([]);
  });
});

describe('flydr resume and abort', () => {
  async function interruptedFailover(target: SimApp): Promise<string> {
    const running = startCli(['failover', '--to', 'sin', '--yes', ...target.args], {
      cwd: target.dir,
      env: target.env,
    });
    await running.waitForStderr(/✓ fence/);
    running.child.kill('SIGKILL');
    await running.done;

    const status = statusShape.parse(jsonOf(await flydr(target, ['status', '--json'])));
    expect(status.unfinishedOperations).toHaveLength(1);
    return status.unfinishedOperations[0]?.id ?? '';
  }

  it('shows a killed failover as interrupted', async () => {
    const target = await startSimApp(sim);
    const id = await interruptedFailover(target);
    const status = statusShape.parse(jsonOf(await flydr(target, ['status', '--json'])));
    expect(status.unfinishedOperations[0]?.status).toBe('interrupted');
    expect(status.warnings.map((warning) => warning.code)).toContain('unfinished-operation');

    const refused = await flydr(target, ['resume', id]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/pass --yes/);

    const run = await flydr(target, ['resume', '--yes', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = failoverShape.parse(jsonOf(run));
    expect([report.operationId, report.to]).toEqual([id, 'sin']);
    expect(sim.appWriter(target.machineId).running()).toBe(false);
    expect(sim.appWriter(report.targetMachineId).running()).toBe(true);
    expect(sim.violations()).toEqual([]);
  });

  it('rolls a killed failover back', async () => {
    const target = await startSimApp(sim);
    const id = await interruptedFailover(target);
    const run = await flydr(target, ['abort', id, '--yes', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(abortShape.parse(jsonOf(run)).status).toBe('aborted');
    expect(sim.appWriter(target.machineId).running()).toBe(true);
    expect(sim.violations()).toEqual([]);
  });

  it('pauses a failover on Ctrl-C with exit 4', async () => {
    const target = await startSimApp(sim);
    const running = startCli(['failover', '--to', 'sin', '--yes', ...target.args], {
      cwd: target.dir,
      env: target.env,
    });
    await running.waitForStderr(/\] fence$/m);
    running.child.kill('SIGINT');
    const run = await running.done;
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/interrupted: failover-\S+ is paused after step fence/);
    expect(run.stderr).toMatch(/flydr resume failover-/);
    expect(run.stderr).toMatch(/^ {2}operation: failover-/m);

    const status = statusShape.parse(jsonOf(await flydr(target, ['status', '--json'])));
    expect(status.unfinishedOperations[0]?.status).toBe('interrupted');
    const resumed = await flydr(target, ['resume', '--yes', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(failoverShape.parse(jsonOf(resumed)).rpoMs).toBe(0);
    expect(sim.violations()).toEqual([]);
  });

  it('names the missing operation', async () => {
    const target = await startSimApp(sim);
    const run = await flydr(target, ['resume', '--yes']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no unfinished operation of cli-test-/);
  });

  it('names an unknown operation id', async () => {
    const target = await startSimApp(sim);
    const run = await flydr(target, ['abort', 'failover-nope', '--yes', '--json']);
    expect(run.code).toBe(2);
    expect(errorShape.parse(jsonOf(run)).error.code).toBe('DR_OPERATION_NOT_FOUND');
  });
});
