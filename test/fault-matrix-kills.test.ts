import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../packages/dr-core/test/helpers.js';
import { DATABASE_PATH } from '../packages/dr-core/test/sim-setup.js';
import {
  closeFaultSims,
  databaseIds,
  ExitCode,
  exitCodeOf,
  type FaultContext,
  missing,
  rejection,
  setUpFaultApp,
  volumeIds,
} from './fault-setup.js';

// Fault-matrix cells of a process killed with SIGKILL in the middle of a sync or a restore.
// A child process runs the operation from the package sources against the sim, and the
// test kills it when it reports the chosen step, then resumes or aborts from the journal.

const REGISTER = fileURLToPath(
  new URL('../packages/dr-core/test/crash/register.mjs', import.meta.url),
);
const CHILD = fileURLToPath(
  new URL('../packages/dr-core/test/crash/operation-child.mjs', import.meta.url),
);

afterEach(closeFaultSims);

/** Where the child is killed: the first event with this type, operation and step. */
interface KillPoint {
  name: string;
  type: 'operation-step-start' | 'step-start';
  operation?: string;
  step: string;
}

/** Outcome of a child run that was killed. */
interface KilledRun {
  killed: boolean;
  output: string[];
}

/** Starts the child that runs one sync (nrt to sin) or one restore of `backupId`. */
function startChild(ctx: FaultContext, kind: 'sync' | 'restore', backupId?: number): ChildProcess {
  return spawn(process.execPath, ['--conditions=@flydr/source', '--import', REGISTER, CHILD], {
    env: {
      ...process.env,
      FLYDR_OPERATION_CHILD: JSON.stringify({
        token: ctx.sim.token,
        apiUrl: ctx.sim.apiUrl,
        graphqlUrl: ctx.sim.graphqlUrl,
        sshPort: ctx.sim.sshPort,
        app: ctx.app,
        databasePath: DATABASE_PATH,
        stateDir: ctx.stateDir,
        knownHosts: join(tempDir(), 'known_hosts'),
        kind,
        from: 'nrt',
        to: 'sin',
        backupId,
      }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Kills the child with SIGKILL at `point`, and resolves once it exited (at most 60 s). */
function killAt(child: ChildProcess, point: KillPoint): Promise<KilledRun> {
  const output: string[] = [];
  return new Promise((resolve) => {
    let killed = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      output.push(line);
      const event = JSON.parse(line) as { type: string; step?: string; operation?: string };
      const matches =
        event.type === point.type &&
        event.step === point.step &&
        (point.operation === undefined || event.operation === point.operation);
      if (!killed && matches) {
        killed = child.kill('SIGKILL');
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.on('exit', () => {
      clearTimeout(timer);
      resolve({ killed, output });
    });
  });
}

/** Reads whether a machine runs flydr's maintenance config, and its state. */
async function machineView(ctx: FaultContext, machineId: string) {
  const status = await ctx.dr.status();
  const machine = status.regions
    .flatMap((region) => region.machines)
    .find((candidate) => candidate.id === machineId);
  return { state: machine?.state, maintenance: machine?.maintenance, status };
}

/** Seeds the app, prepares a standby in sin and syncs it once, so it contains a database. */
async function syncedStandby(): Promise<{ ctx: FaultContext; standbyId: string; rows: number[] }> {
  const ctx = await setUpFaultApp();
  const standby = await ctx.dr.prepareStandby({ region: 'sin', machine: true });
  const standbyId = standby.machineId as string;
  await ctx.dr.sync({ from: 'nrt', to: 'sin' });
  await ctx.dr.close();
  return { ctx, standbyId, rows: volumeIds(ctx.sim, ctx.app, standbyId) };
}

const syncKillPoints: KillPoint[] = [
  { name: 'preflight', type: 'operation-step-start', step: 'preflight' },
  { name: 'the snapshot download', type: 'step-start', operation: 'sync', step: 'download' },
  { name: 'the upload', type: 'step-start', operation: 'restore', step: 'upload' },
  { name: 'the swap', type: 'step-start', operation: 'restore', step: 'swap' },
  { name: 'restore-config', type: 'step-start', operation: 'restore', step: 'restore-config' },
  { name: 'record', type: 'operation-step-start', step: 'record' },
];

describe('sync killed at each step', () => {
  for (const point of syncKillPoints) {
    it(`resumes after a kill at ${point.name}`, async () => {
      const { ctx, standbyId } = await syncedStandby();

      const run = await killAt(startChild(ctx, 'sync'), point);
      const [interrupted] = (await ctx.dr.status()).unfinishedOperations;
      const blocked = await rejection(ctx.dr.sync({ from: 'nrt', to: 'sin' }));
      const report = await ctx.dr.resume(interrupted?.id as string);
      const record = await ctx.dr.operation(report.operationId);
      const standby = await machineView(ctx, standbyId);
      await ctx.dr.close();

      expect(run.killed, run.output.join('\n')).toBe(true);
      expect(interrupted?.kind).toBe('sync');
      expect(interrupted?.status).toBe('interrupted');
      expect(blocked.code).toBe('DR_REFUSED');
      expect(blocked.hint).toContain(`flydr resume ${interrupted?.id}`);
      expect(exitCodeOf(blocked)).toBe(ExitCode.Refused);
      expect(report.kind).toBe('sync');
      expect(record.status).toBe('succeeded');
      if (report.kind !== 'sync') throw new Error('expected a sync report');
      expect(
        missing(databaseIds(report.backup.path), volumeIds(ctx.sim, ctx.app, standbyId)),
      ).toEqual([]);
      expect(standby.state).toBe('stopped');
      expect(standby.maintenance).toBe(false);
      expect(standby.status.unfinishedOperations).toEqual([]);
      expect(ctx.sim.appWriter(ctx.machineId).running()).toBe(true);
      expect(ctx.sim.violations()).toEqual([]);
    });
  }

  for (const point of syncKillPoints.filter((item) => item.name !== 'preflight')) {
    it(`aborts after a kill at ${point.name}`, async () => {
      const { ctx, standbyId, rows } = await syncedStandby();

      const run = await killAt(startChild(ctx, 'sync'), point);
      const [interrupted] = (await ctx.dr.status()).unfinishedOperations;
      const aborted = await ctx.dr.abort(interrupted?.id as string);
      const standby = await machineView(ctx, standbyId);
      await ctx.dr.close();

      expect(run.killed, run.output.join('\n')).toBe(true);
      expect(aborted.status).toBe('aborted');
      expect(volumeIds(ctx.sim, ctx.app, standbyId)).toEqual(rows);
      expect(standby.state).toBe('stopped');
      expect(standby.maintenance).toBe(false);
      expect(standby.status.unfinishedOperations).toEqual([]);
      expect(ctx.sim.appWriter(ctx.machineId).running()).toBe(true);
      expect(ctx.sim.violations()).toEqual([]);
    });
  }
});

const restoreKillPoints: KillPoint[] = [
  { name: 'maintenance', type: 'step-start', operation: 'restore', step: 'maintenance' },
  {
    name: 'the copy of the old database',
    type: 'step-start',
    operation: 'restore',
    step: 'pre-restore-backup',
  },
  { name: 'the swap', type: 'step-start', operation: 'restore', step: 'swap' },
  { name: 'the health check', type: 'step-start', operation: 'restore', step: 'health' },
];

describe('restore killed at each step', () => {
  for (const point of restoreKillPoints) {
    it(`resumes after a kill at ${point.name}`, async () => {
      const ctx = await setUpFaultApp();
      const backup = await ctx.dr.backup();
      await ctx.dr.close();

      const run = await killAt(startChild(ctx, 'restore', backup.id), point);
      const [interrupted] = (await ctx.dr.status()).unfinishedOperations;
      const blocked = await rejection(ctx.dr.restore(backup.id));
      const report = await ctx.dr.resume(interrupted?.id as string);
      const record = await ctx.dr.operation(report.operationId);
      const nrt = await machineView(ctx, ctx.machineId);
      await ctx.dr.close();

      expect(run.killed, run.output.join('\n')).toBe(true);
      expect(interrupted?.kind).toBe('restore');
      expect(interrupted?.status).toBe('interrupted');
      expect(blocked.code).toBe('DR_REFUSED');
      expect(exitCodeOf(blocked)).toBe(ExitCode.Refused);
      expect(report.kind).toBe('restore');
      expect(record.status).toBe('succeeded');
      expect(missing(databaseIds(backup.path), volumeIds(ctx.sim, ctx.app, ctx.machineId))).toEqual(
        [],
      );
      expect(nrt.state).toBe('started');
      expect(nrt.maintenance).toBe(false);
      expect(ctx.sim.appWriter(ctx.machineId).running()).toBe(true);
      expect(nrt.status.unfinishedOperations).toEqual([]);
      expect(ctx.sim.violations()).toEqual([]);
    });
  }

  for (const point of restoreKillPoints.filter((item) => item.name !== 'maintenance')) {
    it(`aborts after a kill at ${point.name}`, async () => {
      const ctx = await setUpFaultApp();
      const backup = await ctx.dr.backup();
      await ctx.dr.close();
      const committed = ctx.sim.appWriter(ctx.machineId).committedIds();

      const run = await killAt(startChild(ctx, 'restore', backup.id), point);
      const [interrupted] = (await ctx.dr.status()).unfinishedOperations;
      const aborted = await ctx.dr.abort(interrupted?.id as string);
      const nrt = await machineView(ctx, ctx.machineId);
      await ctx.dr.close();

      expect(run.killed, run.output.join('\n')).toBe(true);
      expect(aborted.status).toBe('aborted');
      expect(missing(committed, volumeIds(ctx.sim, ctx.app, ctx.machineId))).toEqual([]);
      expect(nrt.state).toBe('started');
      expect(nrt.maintenance).toBe(false);
      expect(ctx.sim.appWriter(ctx.machineId).running()).toBe(true);
      expect(nrt.status.unfinishedOperations).toEqual([]);
      expect(ctx.sim.violations()).toEqual([]);
    });
  }
});
