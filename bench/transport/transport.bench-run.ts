// Benchmarks the machine file transports against OpenSSH `sftp` over loopback.
// Run: `pnpm run build && pnpm exec vitest run --config bench/vitest.config.ts`.
// Settings: FLYDR_BENCH_RUNS (default 3), FLYDR_BENCH_SIZES (MiB, default 64,512),
// FLYDR_BENCH_EXEC_MIB (default 16). Each transfer runs in its own process (the built
// dist of @flydr/fly-client), so its peak RSS is its own. Prints a Markdown table of
// medians and writes it to bench/results/transport.md; docs/benchmarks.md quotes it.
import { spawn } from 'node:child_process';
import { randomFill } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { startSim } from '@flydr/fly-sim';
import { it } from 'vitest';

import {
  type OpenSshServer,
  startOpenSshServer,
} from '../../packages/fly-client/test/transport/helpers/openssh-server.mjs';

const RUNS = Number(process.env.FLYDR_BENCH_RUNS ?? 3);
const SIZES_MIB = (process.env.FLYDR_BENCH_SIZES ?? '64,512').split(',').map(Number);
const EXEC_MIB = Number(process.env.FLYDR_BENCH_EXEC_MIB ?? 16);
const MIB = 1024 * 1024;
const CHILD = fileURLToPath(new URL('./transfer-child.mjs', import.meta.url));
const APP = 'bench-app';

/** Writes `mib` MiB of random bytes to `path`, 1 MiB at a time. */
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

/** Runs a command and returns its exit code, stdout and stderr. */
interface RunOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<RunOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (text: Buffer) => {
      stdout += text;
    });
    child.stderr.on('data', (text: Buffer) => {
      stderr += text;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs one transfer with a flydr transport in a child process; returns seconds and peak RSS. */
interface Sample {
  seconds: number;
  rssMb: number;
}

async function transportRun(job: Record<string, unknown>, token?: string): Promise<Sample> {
  const { code, stdout, stderr } = await run(process.execPath, [CHILD], {
    FLYDR_BENCH_JOB: JSON.stringify(job),
    FLYDR_BENCH_TOKEN: token ?? '',
  });
  if (code !== 0)
    throw new Error(`transfer child failed (${job.kind} ${job.direction}): ${stderr.slice(-2000)}`);
  const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
    connectMs: number;
    transferMs: number;
    maxRssKb: number;
  };
  return { seconds: (result.connectMs + result.transferMs) / 1000, rssMb: result.maxRssKb / 1024 };
}

/** Runs one transfer with OpenSSH `sftp -b`, timed by GNU time (elapsed and peak RSS). */
async function sftpRun(
  sshd: OpenSshServer,
  direction: string,
  remotePath: string,
  localPath: string,
  cipher?: string,
): Promise<Sample> {
  const batch =
    direction === 'download'
      ? `get ${remotePath} ${localPath}\n`
      : `put ${localPath} ${remotePath}\n`;
  const batchPath = `${localPath}.batch`;
  const file = await open(batchPath, 'w');
  await file.writeFile(batch);
  await file.close();
  const args = [
    '-f',
    '%e %M',
    'sftp',
    '-q',
    '-b',
    batchPath,
    '-i',
    sshd.userKeyPath,
    '-P',
    String(sshd.port),
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    ...(cipher ? ['-c', cipher] : []),
    `${sshd.username}@${sshd.host}`,
  ];
  const { code, stderr } = await run('/usr/bin/time', args);
  await rm(batchPath, { force: true });
  if (code !== 0) throw new Error(`sftp failed: ${stderr}`);
  const [elapsed = Number.NaN, rssKb = Number.NaN] = (stderr.trim().split('\n').at(-1) ?? '')
    .split(' ')
    .map(Number);
  return { seconds: elapsed, rssMb: rssKb / 1024 };
}

/**
 * Runs the checks flydr makes and sftp does not (sha256 of both copies with `openssl dgst`,
 * then `sync`) and returns their seconds, so sftp can also be compared doing the same work.
 */
async function checksRun(first: string, second: string): Promise<number> {
  const started = performance.now();
  const { code, stderr } = await run('sh', [
    '-c',
    'openssl dgst -sha256 "$1" >/dev/null && openssl dgst -sha256 "$2" >/dev/null && sync',
    'checks',
    first,
    second,
  ]);
  if (code !== 0) throw new Error(`checks failed: ${stderr}`);
  return (performance.now() - started) / 1000;
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Command that produces this benchmark, written above the table. */
const COMMAND = `pnpm run build && FLYDR_BENCH_RUNS=${RUNS} pnpm exec vitest run --config bench/vitest.config.ts bench/transport/transport.bench-run.ts`;

/** Samples the 1-minute load average every 5 s, since other jobs on the machine skew the numbers. */
function watchLoad(): { stop: () => string } {
  const startedAt = new Date();
  const loads = [loadavg()[0] ?? 0];
  const timer = setInterval(() => loads.push(loadavg()[0] ?? 0), 5000);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      loads.push(loadavg()[0] ?? 0);
      const time = (date: Date) => date.toISOString().slice(0, 16).replace('T', ' ');
      return `Measured ${time(startedAt)} to ${time(new Date())} UTC; 1-minute load average ${Math.min(...loads).toFixed(1)} to ${Math.max(...loads).toFixed(1)} (sampled every 5 s).`;
    },
  };
}

async function main(): Promise<void> {
  const load = watchLoad();
  const base = await mkdtemp('/tmp/flydr-bench-');
  const sshd = await startOpenSshServer({ machineId: 'benchsshd00001' });
  const sim = await startSim();
  try {
    sim.createApp(APP, { primaryRegion: 'nrt' });
    const seeded = await sim.seedMachine(APP, { volumeSizeGb: 4 });
    sim.addAuthorizedKey(sshd.userKey.publicKey);
    const simVolume = sim.machine(seeded.machineId).volumeDir!;

    const targets = {
      sshd: {
        kind: 'ssh',
        app: APP,
        machineId: sshd.machineId,
        host: sshd.host,
        port: sshd.port,
        username: sshd.username,
      },
      sim: {
        kind: 'ssh',
        app: APP,
        machineId: seeded.machineId,
        host: seeded.privateIp,
        port: sim.sshPort,
        username: 'root',
      },
    };
    const common = { privateKey: sshd.userKey.privateKey };
    const samples = new Map<string, Sample[]>();
    const add = (key: string, sample: Sample) =>
      samples.set(key, [...(samples.get(key) ?? []), sample]);

    for (const mib of SIZES_MIB) {
      const source = join(base, `source-${mib}.bin`);
      await writeRandomFile(source, mib);
      await copyFile(source, join(simVolume, `source-${mib}.bin`));

      for (let runIndex = 0; runIndex < RUNS; runIndex += 1) {
        for (const direction of ['download', 'upload']) {
          const local = join(base, `local-${mib}.bin`);
          const sshdRemote = direction === 'download' ? source : join(base, `remote-${mib}.bin`);
          const localPath = direction === 'download' ? local : source;

          add(
            `${mib}|${direction}|flydr-sshd`,
            await transportRun({
              ...targets.sshd,
              ...common,
              direction,
              remotePath: sshdRemote,
              localPath,
              hostKeys: join(base, 'known_hosts'),
            }),
          );
          await rm(direction === 'download' ? local : sshdRemote, { force: true });

          const plain = await sftpRun(sshd, direction, sshdRemote, localPath);
          add(`${mib}|${direction}|sftp`, plain);
          const checks = await checksRun(sshdRemote, direction === 'download' ? local : source);
          add(`${mib}|${direction}|sftp-checked`, {
            seconds: plain.seconds + checks,
            rssMb: plain.rssMb,
          });
          await rm(direction === 'download' ? local : sshdRemote, { force: true });

          add(
            `${mib}|${direction}|sftp-aes`,
            await sftpRun(sshd, direction, sshdRemote, localPath, 'aes128-gcm@openssh.com'),
          );
          await rm(direction === 'download' ? local : sshdRemote, { force: true });

          const simRemote =
            direction === 'download'
              ? `/app/data/source-${mib}.bin`
              : `/app/data/upload-${mib}.bin`;
          add(
            `${mib}|${direction}|flydr-sim`,
            await transportRun({
              ...targets.sim,
              ...common,
              direction,
              remotePath: simRemote,
              localPath,
              hostKeys: join(base, 'known_hosts'),
            }),
          );
          await rm(direction === 'download' ? local : join(simVolume, `upload-${mib}.bin`), {
            force: true,
          });
        }
      }
      await rm(source, { force: true });
      await rm(join(simVolume, `source-${mib}.bin`), { force: true });
    }

    // ExecTransport against the simulator's exec endpoint, through the real client.
    const execSource = join(base, `exec-${EXEC_MIB}.bin`);
    await writeRandomFile(execSource, EXEC_MIB);
    await copyFile(execSource, join(simVolume, `exec-${EXEC_MIB}.bin`));
    for (let runIndex = 0; runIndex < RUNS; runIndex += 1) {
      for (const direction of ['download', 'upload']) {
        const local = join(base, 'exec-local.bin');
        const job = {
          kind: 'exec',
          app: APP,
          machineId: seeded.machineId,
          apiUrl: sim.apiUrl,
          direction,
          remotePath:
            direction === 'download'
              ? `/app/data/exec-${EXEC_MIB}.bin`
              : '/app/data/exec-upload.bin',
          localPath: direction === 'download' ? local : execSource,
        };
        add(`${EXEC_MIB}|${direction}|flydr-exec-sim`, await transportRun(job, sim.token));
        await rm(direction === 'download' ? local : join(simVolume, 'exec-upload.bin'), {
          force: true,
        });
      }
    }
    await rm(execSource, { force: true });

    const table = `Command: \`${COMMAND}\`\n\n${load.stop()}\n\n${formatTable(samples)}`;
    console.log(table);
    await mkdir(fileURLToPath(new URL('../results/', import.meta.url)), { recursive: true });
    await writeFile(
      fileURLToPath(new URL('../results/transport.md', import.meta.url)),
      `${table}\n`,
    );
  } finally {
    await sim.close();
    await sshd.stop();
    await rm(base, { recursive: true, force: true });
  }
}

function formatTable(samples: Map<string, Sample[]>): string {
  const rows: string[] = [];
  const labels: Record<string, string> = {
    'flydr-sshd': 'flydr SshTransport -> OpenSSH sshd',
    sftp: 'OpenSSH sftp -b (default cipher) -> sshd',
    'sftp-aes': 'OpenSSH sftp -b -c aes128-gcm -> sshd',
    'sftp-checked': 'OpenSSH sftp -b + openssl sha256 of both files + sync',
    'flydr-sim': 'flydr SshTransport -> fly-sim (ssh2 server)',
    'flydr-exec-sim': 'flydr ExecTransport -> fly-sim exec API',
  };
  for (const [key, list] of samples) {
    const [mib = '', direction = '', client = ''] = key.split('|');
    const mibPerSecond = list.map((sample) => Number(mib) / sample.seconds);
    const reference = samples.get(`${mib}|${direction}|sftp`);
    const referenceMedian = reference
      ? median(reference.map((sample) => Number(mib) / sample.seconds))
      : undefined;
    const value = median(mibPerSecond);
    const compared = reference !== undefined && client !== 'flydr-exec-sim';
    // Each run of a client sits next to the plain sftp run of the same round, so the ratio
    // within a round is less affected by load that changes between rounds.
    const pairedRatios = compared
      ? list.map((sample, index) => (reference[index]?.seconds ?? Number.NaN) / sample.seconds)
      : [];
    const paired = compared
      ? `${median(pairedRatios).toFixed(2)} (${pairedRatios.map((ratio) => ratio.toFixed(2)).join(', ')})`
      : '-';
    rows.push(
      `| ${mib} MiB | ${direction} | ${labels[client]} | ${value.toFixed(1)} | ${referenceMedian && compared ? (value / referenceMedian).toFixed(2) : '-'} | ${paired} | ${Math.max(...list.map((sample) => sample.rssMb)).toFixed(0)} | ${mibPerSecond.map((v) => v.toFixed(0)).join(', ')} |`,
    );
  }
  return [
    `Runs: ${RUNS}; ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM; node ${process.version}`,
    '',
    '| size | direction | client -> server | MiB/s (median) | ratio to sftp default | ratio within each round: median (per round) | peak RSS MB (max) | MiB/s per run |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

it('transport throughput and memory', main);
