import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Sim } from '@flydr/fly-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missing, simRunOptions, volumeIds } from './failover-setup.js';
import { tempDir } from './helpers.js';
import { DATABASE_PATH, seedApp, startTestSim, waitForRows } from './sim-setup.js';

const childScript = new URL('./fixtures/failover-child.mjs', import.meta.url).pathname;
const builtEntry = new URL('../dist/index.js', import.meta.url).pathname;

let sim: Sim;

beforeAll(async () => {
  if (!existsSync(builtEntry)) {
    throw new Error(
      `${builtEntry} is missing; build first with \`pnpm exec tsc -b packages/dr-core\``,
    );
  }
  sim = await startTestSim();
});

afterAll(async () => {
  await sim?.close();
});

/** Kills the child with SIGKILL when it reports the start of `step`; resolves once it exited. */
function killAtStep(
  child: ChildProcess,
  step: string,
): Promise<{ killed: boolean; output: string[] }> {
  const output: string[] = [];
  return new Promise((resolve) => {
    let killed = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      output.push(line);
      const event = JSON.parse(line) as { type: string; step?: string };
      if (!killed && event.type === 'step-start' && event.step === step) {
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

/** Starts the child that runs a failover of `app` to sin (or a failback) with the built packages. */
function startChild(app: string, stateDir: string, kind = 'failover'): ChildProcess {
  return spawn(process.execPath, [childScript], {
    env: {
      ...process.env,
      FLYDR_FAILOVER_CHILD: JSON.stringify({
        token: sim.token,
        apiUrl: sim.apiUrl,
        graphqlUrl: sim.graphqlUrl,
        sshPort: sim.sshPort,
        app,
        databasePath: DATABASE_PATH,
        stateDir,
        knownHosts: join(tempDir(), 'known_hosts'),
        to: 'sin',
        kind,
      }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('DisasterRecovery after SIGKILL', () => {
  it('resumes a failover killed during the restore upload', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 10);
    const child = startChild(ctx.app, ctx.stateDir);

    const { killed, output } = await killAtStep(child, 'upload');
    const status = await ctx.dr.status();
    const [interrupted] = status.unfinishedOperations;
    const report = await ctx.dr.resume(interrupted?.id as string, simRunOptions(sim));
    const nrtRows = sim.appWriter(ctx.machineId).committedIds();
    await ctx.dr.close();

    expect(killed, output.join('\n')).toBe(true);
    expect(interrupted?.status).toBe('interrupted');
    expect(interrupted?.step).toBe('restore');
    expect(sim.appWriter(report.targetMachineId).running()).toBe(true);
    expect(sim.appWriter(ctx.machineId).running()).toBe(false);
    expect(missing(nrtRows, volumeIds(sim, ctx.app, report.targetMachineId))).toEqual([]);
    expect(sim.violations()).toEqual([]);
  });

  it('resumes a failback killed during the swap', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 5);
    const over = await ctx.dr.failover({ to: 'sin', ...simRunOptions(sim) });
    await ctx.dr.close();
    const child = startChild(ctx.app, ctx.stateDir, 'failback');

    const { killed, output } = await killAtStep(child, 'swap');
    const [interrupted] = (await ctx.dr.status()).unfinishedOperations;
    const back = await ctx.dr.resume(interrupted?.id as string, simRunOptions(sim));
    const sinRows = sim.appWriter(over.targetMachineId).committedIds();
    await ctx.dr.close();

    expect(killed, output.join('\n')).toBe(true);
    expect(interrupted?.kind).toBe('failback');
    expect(back.targetMachineId).toBe(ctx.machineId);
    expect(sim.appWriter(ctx.machineId).running()).toBe(true);
    expect(missing(sinRows, volumeIds(sim, ctx.app, ctx.machineId))).toEqual([]);
    expect(sim.violations()).toEqual([]);
  });

  it('aborts a failover killed during the final snapshot', async () => {
    const ctx = await seedApp(sim);
    await waitForRows(sim, ctx.machineId, 10);
    const child = startChild(ctx.app, ctx.stateDir);

    const { killed, output } = await killAtStep(child, 'choose-strategy');
    const [interrupted] = (await ctx.dr.status()).unfinishedOperations;
    const aborted = await ctx.dr.abort(interrupted?.id as string, simRunOptions(sim));
    const before = sim.appWriter(ctx.machineId).committedIds();
    await waitForRows(sim, ctx.machineId, before.length + 3);
    const nrt = await ctx.client.machines.get(ctx.app, ctx.machineId);
    const sinMachines = await ctx.client.machines.list(ctx.app, { region: 'sin' });
    await ctx.dr.close();

    expect(killed, output.join('\n')).toBe(true);
    expect(interrupted?.step).toBe('snapshot');
    expect(aborted.status).toBe('aborted');
    expect(nrt.cordoned).toBe(false);
    expect(sim.appWriter(ctx.machineId).running()).toBe(true);
    expect(sinMachines).toEqual([]);
    expect(missing(before, volumeIds(sim, ctx.app, ctx.machineId))).toEqual([]);
    expect(sim.violations()).toEqual([]);
  });
});
