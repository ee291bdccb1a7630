// Runs one measured job in its own process and prints one JSON line, so the peak RSS is
// this job's alone. Jobs: `plain` downloads the database file with SshTransport, `backup`
// runs DisasterRecovery.backup with a given strategy (built dist of @flydr/dr-core).
// Settings come as JSON in FLYDR_BENCH_JOB; the simulator's token comes in
// FLYDR_BENCH_TOKEN and is never printed.
import { performance } from 'node:perf_hooks';

import { createDisasterRecovery } from '@flydr/dr-core';
import { createFlyClient } from '@flydr/fly-client';
import { createSshTransportFactory, SshTransport } from '@flydr/fly-client/transport';

const job = JSON.parse(process.env.FLYDR_BENCH_JOB ?? '{}');

async function plain() {
  const started = performance.now();
  const transport = await SshTransport.connect({
    app: job.app,
    machine: { id: job.machineId, state: 'started' },
    address: { host: job.host, port: job.port },
    auth: { privateKey: job.privateKey },
    hostKeys: job.hostKeys,
  });
  const result = await transport.download(job.remotePath, job.localPath);
  await transport.close();
  return { totalMs: performance.now() - started, bytes: result.bytes, steps: {} };
}

async function backup() {
  const steps = {};
  const client = createFlyClient({
    token: process.env.FLYDR_BENCH_TOKEN ?? '',
    baseUrl: job.apiUrl,
    graphqlUrl: `${job.apiUrl}/graphql`,
    rateLimit: false,
  });
  const dr = createDisasterRecovery({
    app: job.app,
    databasePath: job.remotePath,
    client,
    transportFactory: createSshTransportFactory({
      app: job.app,
      auth: { privateKey: job.privateKey },
      hostKeys: job.hostKeys,
      port: job.port,
    }),
    stateDir: job.stateDir,
    onEvent: (event) => {
      if (event.type === 'step-end') steps[event.step] = event.durationMs;
    },
  });
  const started = performance.now();
  const record = await dr.backup({ strategy: job.strategy });
  const totalMs = performance.now() - started;
  await dr.close();
  return { totalMs, bytes: record.size, steps, strategy: record.strategy };
}

const result = job.kind === 'plain' ? await plain() : await backup();
process.stdout.write(
  `${JSON.stringify({ ...result, maxRssKb: process.resourceUsage().maxRSS })}\n`,
);
