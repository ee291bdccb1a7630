// Takes one local backup and prints every step event as a JSON line, so the parent test
// can SIGKILL it at a chosen point. Settings come from the environment:
// FLYDR_CRASH_STATE_DIR, FLYDR_CRASH_SOURCE.
const { createDisasterRecovery } = await import('../../src/disaster-recovery.js');

const dr = createDisasterRecovery({
  app: 'crash-test',
  databasePath: '/app/data/app.db',
  stateDir: process.env.FLYDR_CRASH_STATE_DIR,
  onEvent: (event) => {
    if (event.type !== 'transfer-progress') {
      process.stdout.write(`${JSON.stringify({ type: event.type, step: event.step })}\n`);
    }
  },
});
const record = await dr.backupFile(process.env.FLYDR_CRASH_SOURCE);
await dr.close();
process.stdout.write(`${JSON.stringify({ type: 'done', id: record.id })}\n`);
