import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildCli, repoRoot } from './helpers/build.js';
import { jsonOf, runCli, startCli } from './helpers/run-cli.js';
import { testDir } from './helpers/temp-dirs.js';

const moveShape = z.strictObject({
  operationId: z.string(),
  from: z.string(),
  to: z.string(),
  targetMachineId: z.string(),
  rpoMs: z.number(),
  rtoMs: z.number(),
});

const demoShape = z.strictObject({
  ok: z.boolean(),
  app: z.literal('live-schedule-api'),
  durationMs: z.number(),
  database: z.string(),
  failover: moveShape,
  failback: moveShape,
  rowsWrittenDuringRun: z.number().int().positive(),
  invariants: z.array(z.strictObject({ name: z.string(), ok: z.boolean(), detail: z.string() })),
});

const chinook = join(repoRoot, 'test/fixtures/chinook.sqlite');

beforeAll(() => buildCli(), 240_000);

describe('flydr demo', () => {
  it('runs the runbook to a passing end', { timeout: 150_000 }, async () => {
    const run = await runCli(['demo', '--json'], { timeoutMs: 140_000 });
    expect(run.stderr).toMatch(/fail over to sin while the app writes/);
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    const result = demoShape.parse(jsonOf(run));
    expect(result.ok).toBe(true);
    expect([result.failover.from, result.failover.to]).toEqual(['nrt', 'sin']);
    expect([result.failback.from, result.failback.to]).toEqual(['sin', 'nrt']);
    expect(result.failover.rpoMs).toBe(0);
    expect(result.invariants.filter((invariant) => !invariant.ok)).toEqual([]);
  });

  it('runs on a copy of the Chinook database', { timeout: 150_000 }, async () => {
    const run = await runCli(['demo', '--database', chinook], { timeoutMs: 140_000 });
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    expect(run.stdout).toMatch(
      /^ok\s+database content: every table of the original database holds the same rows$/m,
    );
    expect(run.stdout).toMatch(/^failover nrt -> sin: RPO 0ms, RTO /m);
    expect(run.stdout).toMatch(/the runbook passed in /);
  });

  it('stops on Ctrl-C with exit 4', { timeout: 60_000 }, async () => {
    const running = startCli(['demo'], { timeoutMs: 50_000 });
    await running.waitForStderr(/^1\. /m);
    running.child.kill('SIGINT');
    const run = await running.done;

    expect(run.code, run.stderr.slice(-3000)).toBe(4);
    expect(run.stderr).toMatch(/^flydr: demo interrupted: the simulator was stopped/m);
  });

  it('names a --database that is not SQLite', async () => {
    const file = join(testDir('flydr-demo-bad-'), 'notes.txt');
    writeFileSync(file, 'not a database');
    const run = await runCli(['demo', '--database', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`invalid --database "${file}"`);
  });

  it('names a missing --database', async () => {
    const run = await runCli(['demo', '--database', '/nonexistent/app.db']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('invalid --database "/nonexistent/app.db"');
  });

  it('rejects options aimed at a real app', async () => {
    const run = await runCli(['demo', '--api-url', 'http://127.0.0.1:9']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/the demo takes no --api-url/);
  });
});
