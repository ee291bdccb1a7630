import { join } from 'node:path';
import { createFlyClient, type FlyClient } from '@flydr/fly-client';
import {
  createSshTransportFactory,
  generateEd25519KeyPair,
  type MachineTransportFactory,
} from '@flydr/fly-client/transport';
import { type Sim, type SimOptions, startSim } from '@flydr/fly-sim';
import {
  createDisasterRecovery,
  type DisasterRecovery,
  type DisasterRecoveryOptions,
} from '../src/disaster-recovery.js';
import type { DrEvent } from '../src/events.js';
import { tempDir } from './helpers.js';

/** Path of the database inside every seeded machine (the sim's default mount). */
export const DATABASE_PATH = '/app/data/app.db';

let appCounter = 0;

/** Client key (ed25519) shared by all tests. */
const clientKey = generateEd25519KeyPair();

/** Starts a sim with quick writes and instant transitions; the caller closes it. */
export function startTestSim(options: SimOptions = {}): Promise<Sim> {
  return startSim({ writeIntervalMs: 10, ...options });
}

/** Everything a test against the sim needs: client, transport factory, entry point. */
export interface SimContext {
  app: string;
  machineId: string;
  volumeId: string;
  client: FlyClient;
  transportFactory: MachineTransportFactory;
  stateDir: string;
  dr: DisasterRecovery;
  events: DrEvent[];
}

/** Creates a fresh app with one started machine and a DisasterRecovery for it. */
export async function seedApp(
  sim: Sim,
  options: { image?: string; region?: string; extra?: Partial<DisasterRecoveryOptions> } = {},
): Promise<SimContext> {
  appCounter += 1;
  const app = `dr-test-${process.pid}-${appCounter}`;
  sim.createApp(app, { primaryRegion: options.region ?? 'nrt' });
  const seeded = await sim.seedMachine(app, {
    ...(options.image === undefined ? {} : { image: options.image }),
    ...(options.region === undefined ? {} : { region: options.region }),
  });
  const client = createFlyClient({
    token: sim.token,
    baseUrl: sim.apiUrl,
    graphqlUrl: sim.graphqlUrl,
    rateLimit: false,
    retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 50 },
  });
  const publicKey = clientKey.public.trim().split(/\s+/).slice(0, 2).join(' ');
  const { certificate } = await client.ssh.issueCertificate({
    app,
    publicKey,
    principals: ['root'],
  });
  const stateDir = join(tempDir(), 'state');
  const transportFactory = createSshTransportFactory({
    app,
    // Logs in with a certificate that the sim's GraphQL API issues for the app, as on Fly.
    auth: { privateKey: clientKey.private, certificate },
    hostKeys: join(tempDir(), 'known_hosts'),
    port: sim.sshPort,
    connectTimeoutMs: 5_000,
  });
  const events: DrEvent[] = [];
  const dr = createDisasterRecovery({
    app,
    databasePath: DATABASE_PATH,
    client,
    transportFactory,
    stateDir,
    onEvent: (event) => events.push(event),
    ...options.extra,
  });
  return {
    app,
    machineId: seeded.machineId,
    volumeId: seeded.volumeId,
    client,
    transportFactory,
    stateDir,
    dr,
    events,
  };
}

/** Waits until the simulated app has committed at least `count` rows. */
export async function waitForRows(sim: Sim, machineId: string, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (sim.appWriter(machineId).committedIds().length < count) {
    if (Date.now() > deadline) {
      throw new Error(`the simulated app committed fewer than ${count} rows in 10 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
