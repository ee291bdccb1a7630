import type { CommandDefinition } from '../command.js';
import { CliError, ExitCode, UsageError } from '../exit-codes.js';
import { formatDuration } from '../output.js';

/** `flydr demo`: the whole runbook against a simulated Fly on this machine. */
export const demoCommand: CommandDefinition = {
  command: 'demo',
  describe: 'run the whole runbook (standby, backup, failover, failback) against a simulated Fly',
  examples: [
    ['flydr demo', 'the generated live-schedule database; no Fly account needed'],
    ['flydr demo --database ./app.db', 'the same runbook on a copy of your own SQLite file'],
    ['flydr demo --json', 'one JSON document with RPO, RTO and every invariant'],
  ],
  builder: (parser) =>
    parser.option('database', {
      type: 'string',
      describe: 'SQLite file to run the runbook on a copy of (it is never changed)',
    }),

  async run(args, context) {
    for (const option of [
      'app',
      'config',
      'apiUrl',
      'graphqlUrl',
      'sshAddress',
      'stateDir',
    ] as const) {
      if (context.args[option] !== undefined) {
        throw new UsageError(
          `the demo takes no --${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: it runs against its own simulated Fly`,
          'run `flydr demo` alone, or `flydr demo --database FILE`',
        );
      }
    }
    const databaseFile =
      typeof args.database === 'string' ? context.path(args.database) : undefined;

    // Loaded only here, so no other command loads the simulator.
    const { runDemo } = await import('../demo/runbook.js');
    const result = await runDemo(
      databaseFile === undefined ? {} : { databaseFile },
      context.io,
      context.out,
    );

    context.out.line();
    context.out.line(
      `failover ${result.failover.from} -> ${result.failover.to}: RPO ${formatDuration(result.failover.rpoMs)}, RTO ${formatDuration(result.failover.rtoMs)}`,
    );
    context.out.line(
      `failback ${result.failback.from} -> ${result.failback.to}: RPO ${formatDuration(result.failback.rpoMs)}, RTO ${formatDuration(result.failback.rtoMs)}`,
    );
    for (const invariant of result.invariants) {
      context.out.line(`${invariant.ok ? 'ok  ' : 'FAIL'}  ${invariant.name}: ${invariant.detail}`);
    }
    context.out.line(
      `${result.ok ? 'the runbook passed' : 'the runbook FAILED'} in ${formatDuration(result.durationMs)}`,
    );
    context.out.result(result);

    if (!result.ok) {
      const failed = result.invariants.filter((invariant) => !invariant.ok);
      throw new CliError(
        `demo: ${failed.length} invariant${failed.length > 1 ? 's' : ''} failed: ${failed.map((i) => i.name).join('; ')}`,
        ExitCode.OperationFailed,
      );
    }
  },
};
