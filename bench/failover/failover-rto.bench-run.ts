// Measures the RTO of a failover (nrt -> sin) of a 64 MiB database on fly-sim with realistic
// machine latencies, split into the journaled steps and the restore's own steps.
// Run: `pnpm exec vitest run --config bench/vitest.config.ts bench/failover`.
// Settings: FLYDR_BENCH_RUNS (default 3), FLYDR_BENCH_DB_MIB (default 64). Prints a Markdown
// table of medians and writes it to bench/results/failover-rto.md; docs/benchmarks.md quotes it.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createDisasterRecovery, type DrEvent } from '@flydr/dr-core';
import { createFlyClient } from '@flydr/fly-client';
import { createSshTransportFactory, flyCertificateIssuer } from '@flydr/fly-client/transport';
import { type Sim, startSim } from '@flydr/fly-sim';
import Database from 'better-sqlite3';
import { it } from 'vitest';

const RUNS = Number(process.env.FLYDR_BENCH_RUNS ?? 3);
const DB_MIB = Number(process.env.FLYDR_BENCH_DB_MIB ?? 64);
const RESULTS = fileURLToPath(new URL('../results/failover-rto.md', import.meta.url));
const DATABASE_PATH = '/app/data/app.db';

/** Fills the volume's database with `mib` MiB of random blobs, in the app's own schema. */
function writeDatabase(path: string, mib: number): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(
    'CREATE TABLE writes (id INTEGER PRIMARY KEY AUTOINCREMENT, machine_id TEXT NOT NULL, region TEXT NOT NULL, written_at TEXT NOT NULL)',
  );
  db.exec('CREATE TABLE payload (id INTEGER PRIMARY KEY, body BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO payload (body) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < mib * 16; i += 1) insert.run(randomBytes(64 * 1024));
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

interface Sample {
  rtoMs: number;
  steps: Map<string, number>;
}

async function failoverOnce(sim: Sim, run: number): Promise<Sample> {
  const app = `rto-bench-${run}`;
  sim.createApp(app, { primaryRegion: 'nrt' });
  const seeded = await sim.seedMachine(app, { skipLaunch: true });
  writeDatabase(join(sim.volumeDir(seeded.volumeId), 'app.db'), DB_MIB);

  const client = createFlyClient({
    token: sim.token,
    baseUrl: sim.apiUrl,
    graphqlUrl: sim.graphqlUrl,
    rateLimit: false,
  });
  await client.machines.start(app, seeded.machineId);
  await client.machines.wait(app, seeded.machineId, { state: 'started' });

  const work = await mkdtemp(join(tmpdir(), 'flydr-rto-'));
  const steps = new Map<string, number>();
  const record = (event: DrEvent) => {
    if (event.type === 'operation-step-end') steps.set(event.step, event.durationMs);
    if (event.type === 'step-end' && (event.operation === 'restore' || event.step === 'snapshot')) {
      steps.set(
        `${event.operation === 'restore' ? 'restore' : 'snapshot'}: ${event.step}`,
        event.durationMs,
      );
    }
  };
  const dr = createDisasterRecovery({
    app,
    databasePath: DATABASE_PATH,
    client,
    transportFactory: createSshTransportFactory({
      app,
      auth: { certificate: flyCertificateIssuer(client, app) },
      hostKeys: join(work, 'known_hosts'),
      port: sim.sshPort,
    }),
    stateDir: join(work, 'state'),
    onEvent: record,
  });
  try {
    const report = await dr.failover({
      to: 'sin',
      healthUrl: (machine) => sim.appWriter(machine.id).healthUrl(),
      healthPollMs: 100,
    });
    return { rtoMs: report.rtoMs, steps };
  } finally {
    await dr.close();
    await rm(work, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

it(`failover RTO with a ${DB_MIB} MiB database`, async () => {
  const sim = await startSim({ latencies: 'realistic', writeIntervalMs: 50 });
  const samples: Sample[] = [];
  try {
    for (let run = 1; run <= RUNS; run += 1) samples.push(await failoverOnce(sim, run));
  } finally {
    await sim.close();
  }

  const names = [...(samples[0]?.steps.keys() ?? [])];
  const lines = [
    `Runs: ${RUNS}; database ${DB_MIB} MiB; fly-sim latencies 'realistic'; ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 1024 ** 3)} GiB RAM; node ${process.version}`,
    '',
    '| step | median ms | ms per run |',
    '|---|---|---|',
    `| **RTO** (fence start to healthy target) | ${median(samples.map((s) => s.rtoMs))} | ${samples.map((s) => s.rtoMs).join(', ')} |`,
    ...names.map((name) => {
      const values = samples.map((sample) => sample.steps.get(name) ?? 0);
      return `| ${name} | ${median(values)} | ${values.join(', ')} |`;
    }),
  ];
  const table = `${lines.join('\n')}\n`;
  console.log(table);
  await mkdir(join(RESULTS, '..'), { recursive: true });
  await writeFile(RESULTS, table);
});
