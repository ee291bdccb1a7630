import type { Sim } from '@flydr/fly-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from './helpers/build.js';
import { backupResultShape, doctorShape, errorShape, regionsShape } from './helpers/json-shapes.js';
import { jsonOf, runCli } from './helpers/run-cli.js';
import { type SimApp, startSimApp } from './helpers/sim-app.js';

let sim: Sim;
let target: SimApp;

function flydr(args: string[], env = target.env) {
  return runCli([...args, ...target.args], { cwd: target.dir, env });
}

beforeAll(async () => {
  await buildCli();
  target = await startSimApp();
  sim = target.sim;
}, 240_000);

afterAll(async () => {
  await sim?.close();
});

describe('flydr regions', () => {
  it('shows capacity for the app machine', async () => {
    const run = await flydr(['regions', 'nrt', 'sin', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const document = regionsShape.parse(jsonOf(run));
    expect(document.regions.map((r) => [r.region, r.canPlace, r.current])).toEqual([
      ['nrt', true, true],
      ['sin', true, false],
    ]);
    expect(document.volumeSizeBytes).toBe(1024 ** 3);
  });

  it('shows a region without capacity', async () => {
    sim.setCapacity('sin', { machines: 0 });
    try {
      const run = await flydr(['regions', 'sin']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^sin\s+Singapore, Singapore\s+none$/m);
    } finally {
      sim.setCapacity('sin', { machines: Number.POSITIVE_INFINITY });
    }
  });

  it('lists every region as a table', async () => {
    const run = await flydr(['regions']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^REGION\s+NAME\s+CAPACITY$/m);
    expect(run.stdout).toMatch(/^ams\s/m);
  });

  it('names an unknown region and lists the valid ones', async () => {
    const run = await flydr(['regions', 'xyz', '--json']);
    expect(run.code).toBe(2);
    const { error } = errorShape.parse(jsonOf(run));
    expect(error.code).toBe('DR_UNKNOWN_REGION');
    expect(run.stderr).toMatch(/unknown region code "xyz"; valid codes: ams, fra/);
  });

  it('prints API calls with --verbose but never the token', async () => {
    const run = await flydr(['regions', 'nrt', '--verbose']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/debug fly request .*"endpoint":"platform.regions"/);
    expect(run.stderr).not.toContain(sim.token);
    expect(run.stdout).not.toContain(sim.token);
  });

  it('rejects a token the API does not accept', async () => {
    const run = await flydr(['regions', 'nrt'], { FLY_API_TOKEN: 'wrong-token' });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^flydr: .*rejected the token/m);
    expect(run.stderr).toMatch(/^ {2}next: .*fly tokens create deploy/m);
    expect(run.stderr).not.toContain('wrong-token');
  });
});

describe('flydr doctor', () => {
  it('passes every check over SSH', async () => {
    const run = await flydr(['doctor', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const { checks } = doctorShape.parse(jsonOf(run));
    expect(checks.map((c) => [c.name, c.status])).toEqual([
      ['token', 'ok'],
      ['app', 'ok'],
      ['database path', 'ok'],
      ['state directory', 'ok'],
      ['Machines API', 'ok'],
      ['database machine', 'ok'],
      ['SSH', 'ok'],
      ['sqlite3', 'ok'],
    ]);
    expect(run.stdout).not.toContain(sim.token);
  });

  it('passes over the exec transport', async () => {
    const run = await flydr(['doctor', '--transport', 'exec']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^ok\s+exec: reached machine/m);
  });

  it('backs up over the exec transport', async () => {
    const run = await flydr(['backup', '--transport', 'exec', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const { backup } = backupResultShape.parse(jsonOf(run));
    expect(backup.machineId).toBe(target.machineId);
    expect(backup.status).toBe('verified');
  });

  it('suggests WireGuard or a tunnel when SSH cannot connect', async () => {
    const closedPort = await import('node:net').then(
      ({ createServer }) =>
        new Promise<number>((resolve) => {
          const server = createServer();
          server.listen(0, '127.0.0.1', () => {
            const { port } = server.address() as { port: number };
            server.close(() => resolve(port));
          });
        }),
    );
    const run = await flydr(['doctor', '--ssh-address', `127.0.0.1:${closedPort}`]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^FAIL\s+SSH:/m);
    expect(run.stdout).toMatch(/fly wireguard create/);
  });

  it('reports a missing token as a failed check', async () => {
    const run = await flydr(['doctor'], {});
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^FAIL\s+token: no Fly API token/m);
  });

  it('rejects a malformed --ssh-address', async () => {
    const run = await flydr(['doctor', '--ssh-address', '{host}.internal']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /invalid --ssh-address "\{host\}.internal": unknown placeholder \{host\}/,
    );
  });
});
