import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Client, SFTPWrapper } from 'ssh2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Sim, startSim } from '../src/index.js';
import { connect, execOver, openSftp, shellJoin, testKey } from './helpers/ssh.js';

const key = testKey();
const CHUNK = 32 * 1024;
/** Requests in flight at once, as a pipelined upload keeps them. */
const WINDOW = 8;
/** Free space left on the volume for each test: 64 chunks and half a chunk. */
const FREE_BYTES = 64 * CHUNK + CHUNK / 2;

let sim: Sim;
let machineId: string;
let volumeId: string;
let privateIp: string;
let client: Client;
let filled = 0;

beforeAll(async () => {
  sim = await startSim({ authorizedKeys: [key.publicLine] });
  sim.createApp('space-app', { primaryRegion: 'nrt' });
  ({ machineId, volumeId, privateIp } = await sim.seedMachine('space-app'));
  client = await connect(privateIp, sim.sshPort, key.privateKey);
});
afterEach(() => {
  sim.fillVolume(volumeId, -filled);
  filled = 0;
});
afterAll(async () => {
  client.end();
  await sim.close();
});

/**
 * Fills the volume until between FREE_BYTES and FREE_BYTES + 1 KiB stay free. `df` reports
 * whole KiB, with the used part rounded up, so the true free space is at most 1 KiB above it.
 */
async function leaveFreeBytes(): Promise<void> {
  const df = await execOver(client, shellJoin(['df', '-Pk', '/app/data']));
  const available = Number(df.stdout.toString().trim().split('\n')[1]?.trim().split(/\s+/)[3]);
  filled = available * 1024 - FREE_BYTES;
  sim.fillVolume(volumeId, filled);
}

function openForWriting(sftp: SFTPWrapper, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    sftp.open(path, 'w', (error, handle) => (error ? reject(error) : resolve(handle))),
  );
}

/**
 * Writes `count` chunks of `CHUNK` bytes (chunk i filled with byte i) in offset order,
 * keeping WINDOW requests in flight and sending the next one as each reply arrives.
 * Returns each write's error, or undefined, indexed by chunk.
 */
function pipelinedWrites(
  sftp: SFTPWrapper,
  handle: Buffer,
  count: number,
): Promise<(Error | undefined)[]> {
  const outcomes: (Error | undefined)[] = new Array(count);
  let next = 0;
  let pending = 0;
  return new Promise((resolve) => {
    const send = () => {
      while (pending < WINDOW && next < count) {
        const index = next;
        next += 1;
        pending += 1;
        const data = Buffer.alloc(CHUNK, index % 256);
        sftp.write(handle, data, 0, CHUNK, index * CHUNK, (error) => {
          outcomes[index] = error ?? undefined;
          pending -= 1;
          if (next >= count && pending === 0) resolve(outcomes);
          else send();
        });
      }
    };
    send();
  });
}

function closeHandle(sftp: SFTPWrapper, handle: Buffer): Promise<void> {
  return new Promise((resolve) => sftp.close(handle, () => resolve()));
}

describe('SFTP writes near a full volume', () => {
  it('accepts pipelined writes that fit', async () => {
    await leaveFreeBytes();
    const sftp = await openSftp(client);
    const handle = await openForWriting(sftp, '/app/data/fits.bin');
    const outcomes = await pipelinedWrites(sftp, handle, 64);
    await closeHandle(sftp, handle);

    const failed = outcomes.flatMap((error, index) => (error ? [index] : []));
    expect(failed).toEqual([]);
    const written = readFileSync(join(sim.machine(machineId).volumeDir ?? '', 'fits.bin'));
    expect(written.length).toBe(64 * CHUNK);
    expect(written[63 * CHUNK]).toBe(63);
    rmSync(join(sim.machine(machineId).volumeDir ?? '', 'fits.bin'));
  });

  it('fails only the pipelined writes past the free space', async () => {
    await leaveFreeBytes();
    const sftp = await openSftp(client);
    const handle = await openForWriting(sftp, '/app/data/overflow.bin');
    const outcomes = await pipelinedWrites(sftp, handle, 80);
    await closeHandle(sftp, handle);

    const succeeded = outcomes.flatMap((error, index) => (error ? [] : [index]));
    expect(succeeded).toEqual([...Array(64).keys()]);
    const messages = new Set(outcomes.slice(64).map((error) => error?.message));
    expect([...messages]).toEqual(['No space left on device']);
    rmSync(join(sim.machine(machineId).volumeDir ?? '', 'overflow.bin'));
  });
});
