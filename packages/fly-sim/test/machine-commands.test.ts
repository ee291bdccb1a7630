import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sim, startSim } from '../src/index.js';
import { api } from './helpers/http.js';

type ExecAnswer = { exit_code: number; stdout: string; stderr: string };

let sim: Sim;
let machineId: string;
let volumeId: string;
let bareMachineId: string;
let volumeDir: string;

beforeAll(async () => {
  sim = await startSim({ images: { 'registry.fly.io/bare:1': { sqlite3: false } } });
  sim.createApp('cmd-app', { primaryRegion: 'nrt' });
  // Maintenance config: the app does not run, so commands may change its database.
  ({ machineId, volumeId } = await sim.seedMachine('cmd-app', {
    init: { exec: ['sleep', 'inf'] },
  }));
  ({ machineId: bareMachineId } = await sim.seedMachine('cmd-app', {
    image: 'registry.fly.io/bare:1',
    init: { exec: ['sleep', 'inf'] },
  }));
  volumeDir = sim.machine(machineId).volumeDir ?? '';
});
afterAll(() => sim.close());

async function exec(command: string[], stdin?: string, id = machineId): Promise<ExecAnswer> {
  const answer = await api<ExecAnswer>(sim, 'POST', `/v1/apps/cmd-app/machines/${id}/exec`, {
    body: { command, stdin },
  });
  expect(answer.status).toBe(200);
  return answer.body;
}

describe('machine commands over the exec API', () => {
  it('printenv returns the machine id', async () => {
    expect((await exec(['printenv', 'FLY_MACHINE_ID'])).stdout).toBe(`${machineId}\n`);
  });

  it('sha256sum hashes a file', async () => {
    writeFileSync(join(volumeDir, 'a.txt'), 'hello');
    const digest = createHash('sha256').update('hello').digest('hex');
    expect((await exec(['sha256sum', '--', '/app/data/a.txt'])).stdout).toBe(
      `${digest}  /app/data/a.txt\n`,
    );
  });

  it('sha256sum reports a missing file', async () => {
    const result = await exec(['sha256sum', '--', '/app/data/missing']);
    expect(result.exit_code).toBe(1);
    expect(result.stderr).toBe('sha256sum: /app/data/missing: No such file or directory\n');
  });

  it('stat prints size, mtime and mode', async () => {
    writeFileSync(join(volumeDir, 'b.txt'), '12345', { mode: 0o640 });
    const result = await exec(['stat', '-c', '%s %Y %a', '--', '/app/data/b.txt']);
    expect(result.stdout).toMatch(/^5 \d{10} 640\n$/);
  });

  it('stat fails for a missing file', async () => {
    expect((await exec(['stat', '-c', '%s %Y %a', '--', '/app/data/none'])).exit_code).toBe(1);
  });

  it('test distinguishes files and directories', async () => {
    expect((await exec(['test', '-f', '/app/data/a.txt'])).exit_code).toBe(0);
    expect((await exec(['test', '-d', '/app/data/a.txt'])).exit_code).toBe(1);
    expect((await exec(['test', '-d', '/app/data'])).exit_code).toBe(0);
    expect((await exec(['test', '-e', '/app/data/none'])).exit_code).toBe(1);
  });

  it('mkdir, mv and rm change files in the volume', async () => {
    expect((await exec(['mkdir', '-p', '--', '/app/data/x/y'])).exit_code).toBe(0);
    expect(
      (await exec(['mv', '-f', '--', '/app/data/a.txt', '/app/data/x/y/c.txt'])).exit_code,
    ).toBe(0);
    expect(readFileSync(join(volumeDir, 'x/y/c.txt'), 'utf8')).toBe('hello');
    expect(
      (await exec(['rm', '-f', '--', '/app/data/x/y/c.txt', '/app/data/none'])).exit_code,
    ).toBe(0);
    expect((await exec(['test', '-e', '/app/data/x/y/c.txt'])).exit_code).toBe(1);
  });

  it('sync succeeds', async () => {
    expect((await exec(['sync'])).exit_code).toBe(0);
  });

  it('df reports the volume in POSIX format', async () => {
    const result = await exec(['df', '-Pk', '--', '/app/data']);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^Filesystem\s+1024-blocks\s+Used\s+Available\s+Capacity\s+Mounted on$/,
    );
    expect(lines[1]).toMatch(/^\S+\s+1048576\s+\d+\s+\d+\s+\d+%\s+\/app\/data$/);
  });

  it('command -v finds sqlite3 when the image has it', async () => {
    const result = await exec(['command', '-v', 'sqlite3']);
    expect(result).toMatchObject({ exit_code: 0, stdout: '/usr/bin/sqlite3\n' });
  });

  it('command -v fails when the image lacks sqlite3', async () => {
    expect((await exec(['command', '-v', 'sqlite3'], undefined, bareMachineId)).exit_code).toBe(1);
  });

  it('sqlite3 is not found on an image without it', async () => {
    const result = await exec(
      ['sqlite3', '/app/data/app.db', ".backup '/app/data/t.db'"],
      undefined,
      bareMachineId,
    );
    expect(result.exit_code).toBe(127);
  });

  it('sqlite3 .backup and VACUUM INTO copy a database', async () => {
    const source = new Database(join(volumeDir, 'app.db'));
    source.exec('CREATE TABLE IF NOT EXISTS t (v); INSERT INTO t VALUES (1), (2), (3);');
    source.close();
    for (const sql of [".backup '/app/data/backup.db'", "VACUUM INTO '/app/data/vacuum.db'"]) {
      expect((await exec(['sqlite3', '/app/data/app.db', sql])).exit_code).toBe(0);
    }
    for (const name of ['backup.db', 'vacuum.db']) {
      const copy = new Database(join(volumeDir, name), { readonly: true });
      expect(copy.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 3 });
      copy.close();
    }
  });

  it('head -c returns the first bytes', async () => {
    writeFileSync(join(volumeDir, 'h.bin'), 'abcdefgh');
    expect((await exec(['head', '-c', '3', '--', '/app/data/h.bin'])).stdout).toBe('abc');
  });

  it('runs the chunked download template', async () => {
    writeFileSync(join(volumeDir, 'chunks.bin'), Buffer.from('0123456789'));
    const script = 'dd if="$1" bs=$2 skip=$3 count=1 status=none | base64 -w 0';
    const result = await exec(['sh', '-c', script, 'flydr', '/app/data/chunks.bin', '4', '1']);
    expect(Buffer.from(result.stdout, 'base64').toString()).toBe('4567');
  });

  it('runs the truncate and append templates', async () => {
    expect((await exec(['sh', '-c', ': > "$1"', 'flydr', '/app/data/up.bin'])).exit_code).toBe(0);
    for (const part of ['hello ', 'world']) {
      const stdin = Buffer.from(part).toString('base64');
      expect(
        (await exec(['sh', '-c', 'base64 -d >> "$1"', 'flydr', '/app/data/up.bin'], stdin))
          .exit_code,
      ).toBe(0);
    }
    expect(readFileSync(join(volumeDir, 'up.bin'), 'utf8')).toBe('hello world');
  });

  it('exits 127 for an unknown command', async () => {
    const result = await exec(['cat', '/app/data/up.bin']);
    expect(result.exit_code).toBe(127);
    expect(result.stderr).toMatch(/cat: not found/);
  });

  it('confines paths to the volume', async () => {
    const result = await exec(['sha256sum', '--', '/etc/passwd']);
    expect(result.exit_code).toBe(1);
    expect(result.stderr).toMatch(/No such file or directory/);
  });

  it('confines a path that climbs out of the mount', async () => {
    expect((await exec(['head', '-c', '1', '--', '/app/data/../../etc/passwd'])).exit_code).toBe(1);
  });
});

describe('a full volume', () => {
  const full = async (work: () => Promise<void>) => {
    sim.fillVolume(volumeId, 1024 ** 3);
    try {
      await work();
    } finally {
      sim.fillVolume(volumeId, -(1024 ** 3));
    }
  };

  it('shows in df as no space available', async () => {
    await full(async () => {
      const line =
        (await exec(['df', '-Pk', '--', '/app/data'])).stdout.trimEnd().split('\n')[1] ?? '';
      expect(line.split(/\s+/)[3]).toBe('0');
    });
  });

  it('fails an append with No space left', async () => {
    await full(async () => {
      const stdin = Buffer.from('more data').toString('base64');
      const result = await exec(
        ['sh', '-c', 'base64 -d >> "$1"', 'flydr', '/app/data/grow.bin'],
        stdin,
      );
      expect(result.exit_code).toBe(2);
      expect(result.stderr).toMatch(/No space left on device/);
    });
  });

  it('fails a sqlite3 backup and removes the copy', async () => {
    await full(async () => {
      const result = await exec(['sqlite3', '/app/data/app.db', ".backup '/app/data/full.db'"]);
      expect(result).toMatchObject({ exit_code: 1, stderr: 'Error: database or disk is full\n' });
      expect((await exec(['test', '-e', '/app/data/full.db'])).exit_code).toBe(1);
    });
  });
});
