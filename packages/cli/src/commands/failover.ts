import type { DisasterRecovery, FailoverOptions } from '@flydr/dr-core';
import type { CommandDefinition } from '../command.js';
import { parseDuration } from '../duration.js';
import { UsageError } from '../exit-codes.js';
import { failoverJson, printFailoverReport, withPause } from '../failover-output.js';
import { requireAddressPerMachine } from '../machine-access.js';
import { checkRegionCode } from '../region-code.js';
import { checkUrl } from '../url.js';

/** `flydr failover --to R`: moves the app and its database to another region. */
export const failoverCommand: CommandDefinition = {
  command: 'failover',
  describe: 'move the app and its database to another region as one journaled operation',
  examples: [
    ['flydr failover --to sin', 'show the plan, ask, then fail over from the primary to sin'],
    ['flydr failover --to sin --yes --json', 'no question; one JSON document with RPO and RTO'],
    [
      'flydr failover --to sin --dry-run',
      'run the checks (capacity, volume, lock) and change nothing',
    ],
    [
      'flydr failover --to sin --allow-stale-backup 1h',
      'the primary host is down: use the newest backup if it is under 1 hour old',
    ],
  ],
  builder: (parser) =>
    parser
      .option('to', {
        type: 'string',
        demandOption: true,
        describe: 'region to move to, such as sin (upper case is read as lower case)',
      })
      .option('from', {
        type: 'string',
        describe: 'region that serves now (upper case is read as lower case); default the primary',
      })
      .option('machine', { type: 'string', describe: 'source machine id; default the primary' })
      .option('allow-stale-backup', {
        type: 'string',
        describe:
          'when the source is unreachable, use the newest backup if younger than this (e.g. 1h); later writes are lost',
      })
      .option('create-volume', {
        type: 'boolean',
        default: true,
        describe:
          'create a volume in the target region when none fits (--no-create-volume to refuse)',
      })
      .option('force', {
        type: 'boolean',
        default: false,
        describe: 'overwrite a target database that changed since flydr recorded it',
      })
      .option('health-url', {
        type: 'string',
        describe: 'URL that must answer 2xx on the new primary',
      })
      .option('dry-run', { type: 'boolean', default: false, describe: 'check and plan only' }),

  async run(args, context) {
    const options = failoverOptions(args);
    // With --allow-stale-backup the source may be down, and a tunnel to the target is enough.
    if (args.allowStaleBackup === undefined) requireAddressPerMachine(context.args, 'failover');
    await context.requireKnownRegions([
      options.to,
      ...(options.from === undefined ? [] : [options.from]),
    ]);
    const dr = await context.dr();
    const app = dr.app;

    if (args.dryRun === true) {
      const plan = await dryRun(dr, options);
      context.out.line(
        `dry run: fail over ${app} from ${plan.from} (machine ${plan.sourceMachineId ?? '?'}) to ${plan.to}; the checks passed and nothing was changed`,
      );
      for (const step of plan.steps) context.out.line(`  ${step.name}: ${step.description}`);
      context.out.result({ ok: true, dryRun: true, ...plan });
      return;
    }

    const from = options.from ?? (await dr.status()).primary?.region ?? 'the primary region';
    await context.confirm(
      `fail over ${app} from ${from} to ${options.to}? The app in ${from} stops and the database moves.`,
    );
    const report = await withPause(context, (run) => dr.failover({ ...options, ...run }));
    printFailoverReport(context, report);
    context.out.result(failoverJson(report));
  },
};

function failoverOptions(args: Record<string, unknown>): FailoverOptions {
  const to = checkRegionCode(args.to, '--to');
  const from = args.from === undefined ? undefined : checkRegionCode(args.from, '--from');
  if (from === to) {
    throw new UsageError(
      `invalid --to ${to}: it is the same region as --from`,
      'pass the standby region, such as --to sin',
    );
  }
  const healthUrl = checkUrl(args.healthUrl, '--health-url');
  return {
    to,
    ...(from === undefined ? {} : { from }),
    ...(typeof args.machine === 'string' ? { machineId: args.machine } : {}),
    ...(args.allowStaleBackup === undefined
      ? {}
      : { allowStaleBackupMs: parseDuration(args.allowStaleBackup, '--allow-stale-backup') }),
    createVolume: args.createVolume !== false,
    force: args.force === true,
    ...(healthUrl === undefined ? {} : { healthUrl }),
  };
}

/** Result of `--dry-run`: what preflight found and the steps a failover would run. */
interface DryRunPlan {
  from: string;
  to: string;
  sourceMachineId: string | null;
  steps: { name: string; description: string }[];
}

async function dryRun(dr: DisasterRecovery, options: FailoverOptions): Promise<DryRunPlan> {
  const plan = await dr.planFailover(options);
  return {
    from: plan.params.from,
    to: plan.params.to,
    sourceMachineId: plan.found.sourceMachineId ?? null,
    steps: plan.steps.map((step) => ({ name: step.name, description: step.description })),
  };
}
