// Runs one transfer with a flydr transport in its own process and prints one JSON line:
// { bytes, connectMs, transferMs, maxRssKb }. The parent (run.mjs) passes the settings as
// JSON in FLYDR_BENCH_JOB. The Fly token of the simulator, when needed, comes in
// FLYDR_BENCH_TOKEN and is never printed.
import { performance } from 'node:perf_hooks';

import { ExecTransport, SshTransport } from '@flydr/fly-client/transport';

const job = JSON.parse(process.env.FLYDR_BENCH_JOB ?? '{}');

async function open() {
  if (job.kind === 'exec') {
    // Loaded only here, so SSH runs measure the transport subpath alone, as REST-free users load it.
    const { createFlyClient } = await import('@flydr/fly-client');
    const client = createFlyClient({
      token: process.env.FLYDR_BENCH_TOKEN ?? '',
      baseUrl: job.apiUrl,
    });
    return ExecTransport.connect({
      app: job.app,
      machine: { id: job.machineId, state: 'started' },
      machines: client.machines,
    });
  }
  return SshTransport.connect({
    app: job.app,
    machine: { id: job.machineId, state: 'started' },
    address: { host: job.host, port: job.port },
    username: job.username,
    auth: { privateKey: job.privateKey },
    hostKeys: job.hostKeys,
  });
}

const started = performance.now();
const transport = await open();
const connected = performance.now();
const result =
  job.direction === 'download'
    ? await transport.download(job.remotePath, job.localPath)
    : await transport.upload(job.localPath, job.remotePath);
const finished = performance.now();
await transport.close();

process.stdout.write(
  `${JSON.stringify({
    bytes: result.bytes,
    sha256: result.sha256,
    connectMs: connected - started,
    transferMs: finished - connected,
    maxRssKb: process.resourceUsage().maxRSS,
  })}\n`,
);
