import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type Sim, startSim } from '@flydr/fly-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  generateEd25519KeyPair,
  isTransportError,
  SshTransport,
  type SshTransportOptions,
} from '../../src/transport/index.js';

const APP = 'live-schedule-api';
const FILE_SIZE = 1024 * 1024 + 7;
/** Byte counts at which the sim cuts each connection: in the key exchange, the login, the machine id check, the SFTP setup and the data. */
const DROP_POINTS = [1_500, 2_500, 4_000, 6_000, 9_000, 40_000, 300_000];
/** Time after which a call counts as hung; far above the limits the calls are given. */
const HANG_MS = 12_000;

const userKey = generateEd25519KeyPair();
let sim: Sim;
let work: string;
let machineId: string;
let volumeDir: string;

beforeAll(async () => {
  sim = await startSim({ authorizedKeys: [userKey.public] });
  sim.createApp(APP, { primaryRegion: 'nrt' });
  ({ machineId } = await sim.seedMachine(APP));
  volumeDir = sim.machine(machineId).volumeDir!;
  work = await mkdtemp(join(tmpdir(), 'flydr-ssh-drops-'));
  const content = randomBytes(FILE_SIZE);
  await writeFile(join(work, 'upload.db'), content);
  await writeFile(join(volumeDir, 'download.db'), content);
});

afterAll(async () => {
  await sim?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

function options(): SshTransportOptions {
  return {
    app: APP,
    machine: { id: machineId, state: 'started', private_ip: sim.machine(machineId).privateIp },
    port: sim.sshPort,
    auth: { privateKey: userKey.private },
    hostKeys: join(work, 'known_hosts'),
    connectTimeoutMs: 2_000,
    maxReconnects: 3,
  };
}

/** Settles with the call's outcome, or with 'hung' when it has not ended after {@link HANG_MS}. */
async function outcome(call: () => Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('hung'), HANG_MS);
  });
  const settled = call().then(
    () => 'ok',
    (error: unknown) => error,
  );
  const result = await Promise.race([settled, hung]);
  clearTimeout(timer);
  return result;
}

async function transferUnderDrops(
  direction: 'upload' | 'download',
  dropAt: number,
): Promise<{ transfer: unknown; close: unknown }> {
  const transport = await SshTransport.connect(options());
  sim.dropSshAfterBytes(machineId, dropAt, { times: 1_000 });
  const limits = { idleTimeoutMs: 1_500, deadlineMs: 4_000 };
  const transfer = await outcome(() =>
    direction === 'upload'
      ? transport.upload(join(work, 'upload.db'), '/app/data/upload.db', limits)
      : transport.download('/app/data/download.db', join(work, 'download.db'), limits),
  );
  const close = await outcome(() => transport.close());
  sim.dropSshAfterBytes(machineId, Number.MAX_SAFE_INTEGER, { times: 1 });
  return { transfer, close };
}

describe('SshTransport under repeated drops', () => {
  for (const direction of ['upload', 'download'] as const) {
    it(`ends every ${direction} and close`, { timeout: 120_000 }, async () => {
      for (const dropAt of DROP_POINTS) {
        const { transfer, close } = await transferUnderDrops(direction, dropAt);

        // A transfer may still succeed through its reconnections; it must never hang, and
        // a failure must be a typed transport error.
        const ended = transfer === 'ok' || isTransportError(transfer) ? 'ended' : String(transfer);
        expect({ dropAt, transfer: ended }).toEqual({ dropAt, transfer: 'ended' });
        expect({ dropAt, close }).toEqual({ dropAt, close: 'ok' });
      }
    });
  }
});
