// Runs one sync or restore against the sim with this package's sources and prints every
// event as a JSON line, so the parent test can SIGKILL it at a chosen step. Run it with
// `node --conditions=@flydr/source --import ./register.mjs`. Settings come as JSON in
// FLYDR_OPERATION_CHILD: token, apiUrl, graphqlUrl, sshPort, app, databasePath, stateDir,
// knownHosts, kind ('sync' or 'restore'), from, to and backupId.
import { createFlyClient } from '@flydr/fly-client';
import { createSshTransportFactory, flyCertificateIssuer } from '@flydr/fly-client/transport';

const { createDisasterRecovery } = await import('../../src/disaster-recovery.js');

const config = JSON.parse(process.env.FLYDR_OPERATION_CHILD ?? '{}');
const client = createFlyClient({
  token: config.token,
  baseUrl: config.apiUrl,
  graphqlUrl: config.graphqlUrl,
  rateLimit: false,
  retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 50 },
});
const transportFactory = createSshTransportFactory({
  app: config.app,
  auth: { certificate: flyCertificateIssuer(client, config.app) },
  hostKeys: config.knownHosts,
  port: config.sshPort,
  connectTimeoutMs: 5_000,
});
const dr = createDisasterRecovery({
  app: config.app,
  databasePath: config.databasePath,
  client,
  transportFactory,
  stateDir: config.stateDir,
  onEvent: (event) => {
    if (event.type !== 'transfer-progress') {
      process.stdout.write(`${JSON.stringify(event)}\n`);
    }
  },
});
const run = { healthPollMs: 20, healthTimeoutMs: 10_000, startTimeoutMs: 10_000 };
if (config.kind === 'restore') {
  await dr.restore(config.backupId, run);
} else {
  await dr.sync({ from: config.from, to: config.to, ...run });
}
await dr.close();
process.stdout.write(`${JSON.stringify({ type: 'done' })}\n`);
