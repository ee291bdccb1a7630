// Benchmarks a backup (snapshot, transfer, verify, catalog) against a plain SSH download of
// the same database file, both from a fly-sim machine over loopback.
// Run: `pnpm run build && pnpm exec vitest run --config bench/vitest.config.ts bench/backup`.
// Settings: FLYDR_BENCH_RUNS (default 5), FLYDR_BENCH_DB_MIB (default 256). Each job runs
// in its own process (built dist), so its peak RSS is its own. Prints a Markdown table of
// medians and writes it to bench/results/backup.md; docs/benchmarks.md quotes it.
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateEd25519KeyPair } from '@flydr/fly-client/transport';
import { startSim } from '@flydr/fly-sim';
import Database from 'better-sqlite3';
import { it } from 'vitest';

const RUNS = Number(process.env.FLYDR_BENCH_RUNS ?? 5);
const DB_MIB = Number(process.env.FLYDR_BENCH_DB_MIB ?? 256);
const MIB = 1024 * 1024;
const CHILD = fileURLToPath(new URL('./backup-child.mjs', import.meta.url));
const APP = 'bench-backup';
const REMOTE_DB = '/app/data/app.db';

interface Sample {
  seconds: number;
  rssMb: number;
  steps: Record<string, number>;
}

/** Builds a WAL-mode database of about `mib` MiB: rows of 1000 random bytes. */
function buildDatabase(path: string, mib: number): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)');
  const insert = db.prepare(
    'INSERT INTO events (payload) SELECT randomblob(1000) FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) SELECT i FROM n)',
  );
  for (;;) {
    const missingBytes = mib * MIB - Number(db.pragma('page_count', { simple: true })) * 4096;
    if (missingBytes <= 0) {
      break;
    }
    // About 1 KiB per row; small last batches land close to the requested size.
    insert.run(Math.max(100, Math.min(10_000, Math.floor(missingBytes / 1100))));
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

function runChild(job: Record<string, unknown>, token: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD], {
      env: { ...process.env, FLYDR_BENCH_JOB: JSON.stringify(job), FLYDR_BENCH_TOKEN: token },
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
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`bench child failed (${String(job.kind)}): ${stderr.slice(-2000)}`));
        return;
      }
      const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
        totalMs: number;
        maxRssKb: number;
        steps: Record<string, number>;
      };
      resolve({
        seconds: result.totalMs / 1000,
        rssMb: result.maxRssKb / 1024,
        steps: result.steps,
      });
    });
  });
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
  const base = await mkdtemp('/tmp/flydr-bench-backup-');
  const sim = await startSim();
  try {
    sim.createApp(APP, { primaryRegion: 'nrt' });
    // The app does not run (init override), so the database stays still between runs and
    // every job copies the same bytes.
    const seeded = await sim.seedMachine(APP, {
      volumeSizeGb: 4,
      init: { exec: ['sleep', 'inf'] },
    });
    const pair = generateEd25519KeyPair();
    sim.addAuthorizedKey(pair.public);
    const volumeDir = sim.machine(seeded.machineId).volumeDir as string;

    const source = join(base, 'source.db');
    buildDatabase(source, DB_MIB);
    await copyFile(source, join(volumeDir, 'app.db'));
    const dbBytes = (await stat(source)).size;

    const common = {
      app: APP,
      machineId: seeded.machineId,
      host: seeded.privateIp,
      port: sim.sshPort,
      apiUrl: sim.apiUrl,
      privateKey: pair.private,
      hostKeys: join(base, 'known_hosts'),
      remotePath: REMOTE_DB,
    };
    const samples = new Map<string, Sample[]>();
    const add = (key: string, sample: Sample) =>
      samples.set(key, [...(samples.get(key) ?? []), sample]);

    for (let runIndex = 0; runIndex < RUNS; runIndex += 1) {
      const localPath = join(base, 'plain.db');
      add('plain', await runChild({ ...common, kind: 'plain', localPath }, sim.token));
      await rm(localPath, { force: true });

      for (const strategy of ['sqlite3-backup', 'copy-validate']) {
        const stateDir = join(base, `state-${strategy}-${runIndex}`);
        add(strategy, await runChild({ ...common, kind: 'backup', strategy, stateDir }, sim.token));
        await rm(stateDir, { recursive: true, force: true });
      }
    }

    const table = formatTable(samples, dbBytes);
    console.log(table);
    await mkdir(fileURLToPath(new URL('../results/', import.meta.url)), { recursive: true });
    await writeFile(fileURLToPath(new URL('../results/backup.md', import.meta.url)), `${table}\n`);
  } finally {
    await sim.close();
    await rm(base, { recursive: true, force: true });
  }
}

function formatTable(samples: Map<string, Sample[]>, dbBytes: number): string {
  const labels: Record<string, string> = {
    plain: 'plain SshTransport download of app.db',
    'sqlite3-backup':
      'backup, sqlite3-backup (remote .backup to the volume, verified download, quick_check, catalog)',
    'copy-validate':
      'backup, copy-validate (headers, verified download, headers again, quick_check, catalog)',
  };
  const plainMedian = median((samples.get('plain') ?? []).map((s) => s.seconds));
  const rows: string[] = [];
  for (const [key, list] of samples) {
    const seconds = median(list.map((s) => s.seconds));
    const stepNames = [...new Set(list.flatMap((s) => Object.keys(s.steps)))];
    const steps = stepNames
      .map((name) => `${name} ${median(list.map((s) => s.steps[name] ?? 0)).toFixed(0)}`)
      .join(', ');
    rows.push(
      `| ${labels[key]} | ${seconds.toFixed(2)} | ${(seconds / plainMedian).toFixed(2)} | ${Math.max(...list.map((s) => s.rssMb)).toFixed(0)} | ${list.map((s) => s.seconds.toFixed(2)).join(', ')} | ${steps || '-'} |`,
    );
  }
  return [
    `Database: ${(dbBytes / MIB).toFixed(0)} MiB (WAL mode, checkpointed), from a fly-sim machine over loopback SSH.`,
    `Runs: ${RUNS}; ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM; node ${process.version}; load average at the end ${loadavg()[0]?.toFixed(1)}`,
    '',
    '| job | seconds (median) | ratio to plain | peak RSS MB (max) | seconds per run | step ms (median) |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

it('backup time and memory against a plain transfer', main);
