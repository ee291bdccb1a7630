// Times each step of an SshTransport upload against a private OpenSSH sshd on 127.0.0.1, to
// show where an upload spends the time that plain `sftp` does not. It repeats the steps of
// `uploadOnce` with the same building blocks (connection, pipelined writes, fsync, prepared
// hash) and also times a hash in a new session, the way uploads hashed before.
// Run: `pnpm exec vitest run --config bench/vitest.config.ts bench/transport/upload-phases`.
// Settings: FLYDR_BENCH_RUNS (default 3), FLYDR_BENCH_SIZES (MiB, default 64,512).
// Writes the table to bench/results/transport-phases.md.
import { spawn } from 'node:child_process';
import { createHash, randomFill } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import type { SFTPWrapper } from 'ssh2';
import { it } from 'vitest';

import { parsePrivateKey } from '../../packages/fly-client/src/transport/certificate.js';
import { FileHostKeyStore } from '../../packages/fly-client/src/transport/known-hosts.js';
import { readEnvironMachineId } from '../../packages/fly-client/src/transport/machine-id-environ.js';
import { remoteCommands } from '../../packages/fly-client/src/transport/remote-commands.js';
import { RemoteSha256 } from '../../packages/fly-client/src/transport/remote-sha256.js';
import {
  closeRemote,
  fsyncRemote,
  openRemote,
  posixRenameRemote,
} from '../../packages/fly-client/src/transport/sftp-calls.js';
import {
  pipelineShape,
  writePipelined,
} from '../../packages/fly-client/src/transport/sftp-pipeline.js';
import { SshConnection } from '../../packages/fly-client/src/transport/ssh-connection.js';
import {
  type OpenSshServer,
  startOpenSshServer,
} from '../../packages/fly-client/test/transport/helpers/openssh-server.mjs';

const RUNS = Number(process.env.FLYDR_BENCH_RUNS ?? 3);
const SIZES_MIB = (process.env.FLYDR_BENCH_SIZES ?? '64,512').split(',').map(Number);
const MIB = 1024 * 1024;
const STEPS = [
  'connect',
  'sftpOpen',
  'machineId',
  'stream',
  'fsync',
  'preparedHash',
  'fsyncAndPreparedHash',
  'rename',
  'total',
  'newSessionHash',
  'sftpPlain',
] as const;
type Step = (typeof STEPS)[number];

async function writeRandomFile(path: string, mib: number): Promise<void> {
  const file = await open(path, 'w');
  const buffer = Buffer.alloc(MIB);
  for (let i = 0; i < mib; i += 1) {
    await new Promise<void>((resolve, reject) =>
      randomFill(buffer, (error) => (error ? reject(error) : resolve())),
    );
    await file.write(buffer);
  }
  await file.close();
}

/** Times one upload step by step and returns milliseconds per step. */
async function timedUpload(
  sshd: OpenSshServer,
  source: string,
  remotePath: string,
  total: number,
  hostKeys: string,
): Promise<Partial<Record<Step, number>>> {
  const times: Partial<Record<Step, number>> = {};
  const started = performance.now();
  let mark = started;
  const lap = (step: Step) => {
    const now = performance.now();
    times[step] = now - mark;
    mark = now;
  };

  const connection = await SshConnection.open({
    app: 'bench-app',
    machineId: sshd.machineId,
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    key: parsePrivateKey(sshd.userKey.privateKey),
    authKind: 'key',
    hostKeys: new FileHostKeyStore(hostKeys),
    acceptNewHostKey: true,
    connectTimeoutMs: 30_000,
    keepaliveIntervalMs: 10_000,
    keepaliveCountMax: 3,
  });
  lap('connect');

  try {
    // As SshTransport does: the id from /proc/self/environ over SFTP, else printenv over exec.
    const sftp: SFTPWrapper = await connection.sftp();
    lap('sftpOpen');
    const fromEnviron = await readEnvironMachineId(sftp);
    const reported =
      fromEnviron ??
      (await connection.exec(remoteCommands.machineId(), { timeoutMs: 30_000 })).stdout
        .toString('utf8')
        .trim();
    if (reported !== sshd.machineId) {
      throw new Error(`sshd reported machine ${reported}, expected ${sshd.machineId}`);
    }
    lap('machineId');

    const temporary = `${remotePath}.flydr-partial`;
    const hasher = new RemoteSha256(sshd.machineId);
    const prepared = hasher.prepare(connection, temporary);
    const local = await open(source, 'r');
    const handle = await openRemote(sftp, temporary, 'w');
    const hash = createHash('sha256');
    await writePipelined({
      sftp,
      handle,
      start: 0,
      end: total,
      ...pipelineShape(sftp, 'write', false),
      produce: async (offset, target) => {
        await local.read(target, 0, target.length, offset);
        hash.update(target);
      },
      acknowledged: () => undefined,
    });
    await local.close();
    lap('stream');

    // The upload runs these two at once; each is also timed alone.
    let fsyncDone = 0;
    let hashDone = 0;
    const [, digest] = await Promise.all([
      fsyncRemote(sftp, handle).then(() => {
        fsyncDone = performance.now();
      }),
      prepared.run().then((value) => {
        hashDone = performance.now();
        return value;
      }),
    ]);
    times.fsync = fsyncDone - mark;
    times.preparedHash = hashDone - mark;
    lap('fsyncAndPreparedHash');
    const localDigest = hash.digest('hex');
    if (digest !== localDigest) {
      throw new Error(
        `machine sha256 ${digest} differs from the local ${localDigest} for ${source}`,
      );
    }

    await closeRemote(sftp, handle);
    await posixRenameRemote(sftp, temporary, remotePath);
    lap('rename');
    times.total = performance.now() - started;

    // Not part of the upload: the hash in a new session, as uploads ran it before.
    const before = performance.now();
    await hasher.compute(connection, remotePath);
    times.newSessionHash = performance.now() - before;
  } finally {
    await connection.close();
  }
  return times;
}

/** Runs OpenSSH `sftp -b` for the same upload and returns its wall time in ms. */
function plainSftp(sshd: OpenSshServer, source: string, remotePath: string, batch: string) {
  return new Promise<number>((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      'sftp',
      [
        '-q',
        '-b',
        batch,
        '-i',
        sshd.userKeyPath,
        '-P',
        String(sshd.port),
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        `${sshd.username}@${sshd.host}`,
      ],
      { stdio: 'ignore' },
    );
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(performance.now() - started)
        : reject(new Error(`sftp put ${source} ${remotePath} exited with ${code}`)),
    );
  });
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
  const loads = [loadavg()[0] ?? 0];
  const startedAt = new Date();
  const base = await mkdtemp('/tmp/flydr-bench-phases-');
  const sshd = await startOpenSshServer({ machineId: 'benchphases0001' });
  const rows: string[] = [];
  try {
    for (const mib of SIZES_MIB) {
      const source = join(base, `source-${mib}.bin`);
      const remotePath = join(base, `remote-${mib}.bin`);
      const batch = join(base, 'batch');
      await writeRandomFile(source, mib);
      await writeFile(batch, `put ${source} ${remotePath}\n`);
      const samples = new Map<Step, number[]>();

      for (let run = 0; run < RUNS; run += 1) {
        const times = await timedUpload(sshd, source, remotePath, mib * MIB, join(base, 'hosts'));
        await rm(remotePath, { force: true });
        times.sftpPlain = await plainSftp(sshd, source, remotePath, batch);
        await rm(remotePath, { force: true });
        for (const step of STEPS)
          samples.set(step, [...(samples.get(step) ?? []), times[step] ?? 0]);
        loads.push(loadavg()[0] ?? 0);
      }
      rows.push(
        `| ${mib} MiB | ${STEPS.map((step) => median(samples.get(step) ?? []).toFixed(0)).join(' | ')} |`,
      );
      await rm(source, { force: true });
    }
  } finally {
    await sshd.stop();
    await rm(base, { recursive: true, force: true });
  }

  const time = (date: Date) => date.toISOString().slice(0, 16).replace('T', ' ');
  const table = [
    `Command: \`FLYDR_BENCH_RUNS=${RUNS} pnpm exec vitest run --config bench/vitest.config.ts bench/transport/upload-phases\``,
    '',
    `Measured ${time(startedAt)} to ${time(new Date())} UTC; 1-minute load average ${Math.min(...loads).toFixed(1)} to ${Math.max(...loads).toFixed(1)}. Runs: ${RUNS}. Median milliseconds per step.`,
    '',
    '| size | connect | SFTP open | machine id | stream | fsync | prepared hash | fsync and hash | close + rename | upload total | hash in a new session | plain sftp put |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  console.log(table);
  await mkdir(fileURLToPath(new URL('../results/', import.meta.url)), { recursive: true });
  await writeFile(
    fileURLToPath(new URL('../results/transport-phases.md', import.meta.url)),
    `${table}\n`,
  );
}

it('upload steps against OpenSSH sshd', main);
