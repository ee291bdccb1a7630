import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Sim, type SimOptions, startSim } from '@flydr/fly-sim';
import { testDir } from './temp-dirs.js';

/** A simulated app with one started machine in nrt and the files a CLI run needs. */
export interface SimApp {
  sim: Sim;
  app: string;
  machineId: string;
  volumeId: string;
  /** Folder with fly.toml, used as the CLI's working directory. */
  dir: string;
  stateDir: string;
  /** Global options that point the CLI at the sim: API URLs, SSH port, state dir. */
  args: string[];
  /** Environment with the sim's token. */
  env: Record<string, string>;
}

let counter = 0;

/** fly.toml of a simulated app, as `fly launch` writes it for the runbook's app. */
export function flyTomlFor(app: string, region = 'nrt'): string {
  return [
    `app = "${app}"`,
    `primary_region = "${region}"`,
    '',
    '[http_service]',
    '  internal_port = 8080',
    '',
    '[mounts]',
    '  source = "data"',
    '  destination = "/app/data"',
    '',
  ].join('\n');
}

/** Starts a sim when none is given, and seeds an app with a started machine in nrt. */
export async function startSimApp(sim?: Sim, options: SimOptions = {}): Promise<SimApp> {
  const running = sim ?? (await startSim({ writeIntervalMs: 20, ...options }));
  counter += 1;
  const app = `cli-test-${process.pid}-${counter}`;
  running.createApp(app, { primaryRegion: 'nrt' });
  const seeded = await running.seedMachine(app, { region: 'nrt' });

  const dir = testDir('flydr-cli-app-');
  writeFileSync(join(dir, 'fly.toml'), flyTomlFor(app));
  const stateDir = join(dir, 'state');
  return {
    sim: running,
    app,
    machineId: seeded.machineId,
    volumeId: seeded.volumeId,
    dir,
    stateDir,
    args: simArgs(running, stateDir),
    env: { FLY_API_TOKEN: running.token },
  };
}

/** Returns the global options that aim the CLI at a sim on loopback. */
export function simArgs(sim: Sim, stateDir: string): string[] {
  return [
    '--api-url',
    sim.apiUrl,
    '--graphql-url',
    sim.graphqlUrl,
    '--ssh-port',
    String(sim.sshPort),
    '--state-dir',
    stateDir,
  ];
}
