// Fifty machines in one app: the client's machine list, dr-core's status and `flydr status`
// must list them all without going over Fly's documented rate limits. The sim enforces those
// limits (429 with retry-after) and records every request, so the checks read how many
// requests each action got within any second and whether any was refused. Fly counts the
// limits per app or machine across all clients, so each client below gets its own app.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDisasterRecovery, type DisasterRecovery, type RecoveryStatus } from '@flydr/dr-core';
import { createFlyClient, type FlyClient } from '@flydr/fly-client';
import { createSshTransportFactory, flyCertificateIssuer } from '@flydr/fly-client/transport';
import { type Sim, startSim } from '@flydr/fly-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../packages/cli/test/helpers/build.js';
import { jsonOf, runCli } from '../packages/cli/test/helpers/run-cli.js';
import { flyTomlFor, simArgs } from '../packages/cli/test/helpers/sim-app.js';
import { testDir } from '../packages/cli/test/helpers/temp-dirs.js';
import {
  FLEET_REGIONS,
  type Fleet,
  fleetIds,
  fleetRequests,
  formatRequests,
  seedFleet,
} from './fixtures/load/fleet.js';

const MACHINES = 50;
const DATABASE_PATH = '/app/data/app.db';

/** Status calls sent at once from one client, as a monitor polling several dashboards might. */
const CONCURRENT_STATUS_CALLS = 6;

let sim: Sim;

/** Creates a client with the product's defaults: rate limiter on, at Fly's documented limits. */
function newClient(): FlyClient {
  return createFlyClient({ token: sim.token, baseUrl: sim.apiUrl, graphqlUrl: sim.graphqlUrl });
}

/** Opens dr-core for an app as the CLI does; status opens no SSH connection. */
function openRecovery(app: string, client: FlyClient): DisasterRecovery {
  const dir = testDir('flydr-load-fleet-');
  return createDisasterRecovery({
    app,
    databasePath: DATABASE_PATH,
    client,
    transportFactory: createSshTransportFactory({
      app,
      auth: { certificate: flyCertificateIssuer(client, app) },
      hostKeys: join(dir, 'known_hosts'),
      port: sim.sshPort,
    }),
    stateDir: join(dir, 'state'),
  });
}

function machineIdsOf(status: RecoveryStatus): string[] {
  return status.regions.flatMap((region) => region.machines.map((machine) => machine.id)).sort();
}

/** Lists the requests of a fleet that got a 429, one line per action and key. */
function throttledRequests(fleet: Fleet): string[] {
  return fleetRequests(sim, fleet)
    .filter((summary) => summary.throttled > 0)
    .map((summary) => `${summary.action} ${summary.key}: ${summary.throttled} x 429`);
}

/** Lists the actions and keys of a fleet that got more requests in 1 s than their burst. */
function requestsOverBurst(fleet: Fleet): string[] {
  return fleetRequests(sim, fleet)
    .filter((summary) => summary.maxInWindow > summary.rate.burst)
    .map((s) => `${s.action} ${s.key}: ${s.maxInWindow} in 1 s, burst limit ${s.rate.burst}`);
}

/** Counts the machine lists a fleet's app received. */
function machineLists(fleet: Fleet): number {
  return fleetRequests(sim, fleet)
    .filter((summary) => summary.action === 'machines.list')
    .reduce((total, summary) => total + summary.count, 0);
}

beforeAll(async () => {
  await buildCli();
  sim = await startSim({ rateLimit: true, writeIntervalMs: 50 });
}, 120_000);

afterAll(async () => {
  await sim?.close();
});

describe('client and dr-core with 50 machines', () => {
  let fleet: Fleet;
  let client: FlyClient;
  let status: RecoveryStatus;

  beforeAll(async () => {
    const started = Date.now();
    fleet = await seedFleet(sim, `load-fleet-${process.pid}`, MACHINES);
    console.log(`load: seeded ${MACHINES} machines in ${Date.now() - started} ms`);
    client = newClient();
  }, 60_000);

  afterAll(() => {
    console.log(
      `load: requests of the client and dr-core: ${formatRequests(fleetRequests(sim, fleet))}`,
    );
  });

  it('lists every machine', async () => {
    const machines = await client.machines.list(fleet.app);
    expect(machines.map((machine) => machine.id).sort()).toEqual(fleetIds(fleet));
  });

  it('lists one region', async () => {
    const machines = await client.machines.list(fleet.app, { region: 'sin' });
    expect(machines.map((machine) => machine.id).sort()).toEqual(
      fleetIds(fleet, (machine) => machine.region === 'sin'),
    );
  });

  it('gets every machine at once', async () => {
    const started = Date.now();
    const machines = await Promise.all(
      fleetIds(fleet).map((id) => client.machines.get(fleet.app, id)),
    );
    console.log(`load: ${MACHINES} concurrent machine gets took ${Date.now() - started} ms`);
    expect(machines.map((machine) => machine.id).sort()).toEqual(fleetIds(fleet));
  });

  it('reads the status', async () => {
    const dr = openRecovery(fleet.app, client);
    try {
      const started = Date.now();
      status = await dr.status();
      console.log(`load: dr-core status of ${MACHINES} machines took ${Date.now() - started} ms`);
    } finally {
      await dr.close();
    }
    expect(machineIdsOf(status)).toEqual(fleetIds(fleet));
  });

  it('groups the status by region', () => {
    expect(status.regions.map((region) => region.region)).toEqual([...FLEET_REGIONS].sort());
  });

  it('lists every volume', () => {
    expect(status.volumes.length).toBe(MACHINES);
  });

  it('finds the primary', () => {
    const [primary] = fleetIds(fleet, (machine) => machine.kind === 'primary');
    expect(status.primary?.machineId).toBe(primary);
  });

  it('marks maintenance machines', () => {
    const maintenance = status.regions
      .flatMap((region) => region.machines)
      .filter((machine) => machine.maintenance)
      .map((machine) => machine.id)
      .sort();
    expect(maintenance).toEqual(fleetIds(fleet, (machine) => machine.kind === 'maintenance'));
  });

  it('warns only about the missing backup', () => {
    expect(status.warnings.map((warning) => warning.code)).toEqual(['no-verified-backup']);
  });

  it('receives no 429', () => {
    expect(throttledRequests(fleet)).toEqual([]);
  });

  it('stays within each burst limit', () => {
    expect(requestsOverBurst(fleet)).toEqual([]);
  });

  it('was counted by the sim', () => {
    // Guards the two checks above, which pass trivially when the sim records nothing.
    expect(machineLists(fleet)).toBe(3);
  });
});

describe('flydr status with 50 machines', () => {
  let fleet: Fleet;
  let dir: string;

  beforeAll(async () => {
    fleet = await seedFleet(sim, `load-cli-${process.pid}`, MACHINES);
    dir = testDir('flydr-load-fleet-cli-');
    writeFileSync(join(dir, 'fly.toml'), flyTomlFor(fleet.app));
  }, 60_000);

  afterAll(() => {
    console.log(
      `load: requests of two flydr status runs: ${formatRequests(fleetRequests(sim, fleet))}`,
    );
  });

  it('prints every machine as JSON', { timeout: 60_000 }, async () => {
    const run = await runCli(['status', '--json', ...simArgs(sim, join(dir, 'state'))], {
      cwd: dir,
      env: { FLY_API_TOKEN: sim.token },
    });
    expect(run.code, run.stderr).toBe(0);
    const parsed = jsonOf(run) as { regions?: { machines?: { id?: unknown }[] }[] };
    const ids = (parsed.regions ?? []).flatMap((region) =>
      (region.machines ?? []).map((machine) => machine.id),
    );
    expect(ids.sort()).toEqual(fleetIds(fleet));
  });

  it('prints every machine as a table', { timeout: 60_000 }, async () => {
    const run = await runCli(['status', ...simArgs(sim, join(dir, 'state'))], {
      cwd: dir,
      env: { FLY_API_TOKEN: sim.token },
    });
    expect(run.code, run.stderr).toBe(0);
    const missing = fleetIds(fleet).filter((id) => !run.stdout.includes(id));
    expect(missing).toEqual([]);
  });

  it('receives no 429', () => {
    expect(throttledRequests(fleet)).toEqual([]);
  });

  it('stays within each burst limit', () => {
    expect(requestsOverBurst(fleet)).toEqual([]);
  });

  it('was counted by the sim', () => {
    expect(machineLists(fleet)).toBe(2);
  });
});

describe('concurrent status calls with 50 machines', () => {
  let fleet: Fleet;
  let statuses: RecoveryStatus[];

  beforeAll(async () => {
    fleet = await seedFleet(sim, `load-burst-${process.pid}`, MACHINES);
    const dr = openRecovery(fleet.app, newClient());
    try {
      const started = Date.now();
      statuses = await Promise.all(
        Array.from({ length: CONCURRENT_STATUS_CALLS }, () => dr.status()),
      );
      console.log(
        `load: ${CONCURRENT_STATUS_CALLS} concurrent status calls took ${Date.now() - started} ms; requests: ${formatRequests(fleetRequests(sim, fleet))}`,
      );
    } finally {
      await dr.close();
    }
  }, 60_000);

  it('lists every machine each time', () => {
    const counts = statuses.map((status) => machineIdsOf(status).length);
    expect(counts).toEqual(Array.from({ length: CONCURRENT_STATUS_CALLS }, () => MACHINES));
  });

  it('receives no 429', () => {
    expect(throttledRequests(fleet)).toEqual([]);
  });

  it('runs one writer per app', () => {
    expect(sim.violations()).toEqual([]);
  });

  it('lists machines once per call', () => {
    const answered = sim
      .requests()
      .filter((r) => r.key === fleet.app && r.action === 'machines.list' && r.status === 200);
    expect(answered.length).toBe(CONCURRENT_STATUS_CALLS);
  });
});
