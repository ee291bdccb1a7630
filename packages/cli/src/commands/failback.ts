import type { FailbackOptions } from '@flydr/dr-core';
import type { CommandDefinition } from '../command.js';
import { parseDuration } from '../duration.js';
import { failoverJson, printFailoverReport, withPause } from '../failover-output.js';
import { requireAddressPerMachine } from '../machine-access.js';
import { formatDuration } from '../output.js';
import { checkRegionCode } from '../region-code.js';
import { checkUrl } from '../url.js';

/** `flydr failback`: moves the app back to its earlier primary region. */
export const failbackCommand: CommandDefinition = {
  command: 'failback',
  describe: 'move the app back to its earlier primary region, refusing if both sides were written',
  examples: [
    ['flydr failback', 'back to the region the last failover left, if it has capacity now'],
    ['flydr failback --wait-for-capacity 30m --yes', 'poll capacity for up to 30 minutes first'],
    [
      'flydr failback --to nrt --force',
      'overwrite the old primary even though its database changed',
    ],
  ],
  builder: (parser) =>
    parser
      .option('to', {
        type: 'string',
        describe:
          'region to go back to (upper case is read as lower case); default the earlier primary',
      })
      .option('from', {
        type: 'string',
        describe: 'region that serves now (upper case is read as lower case); default the primary',
      })
      .option('wait-for-capacity', {
        type: 'string',
        describe: 'wait up to this long (e.g. 30m) for capacity in the target region',
      })
      .option('force', {
        type: 'boolean',
        default: false,
        describe: 'overwrite the old primary database even when it changed since the failover',
      })
      .option('allow-stale-backup', {
        type: 'string',
        describe: 'when the source is unreachable, use the newest backup if younger than this',
      })
      .option('health-url', {
        type: 'string',
        describe: 'URL that must answer 2xx on the new primary',
      }),

  async run(args, context) {
    const options = failbackOptions(args);
    // With --allow-stale-backup the source may be down, and a tunnel to the target is enough.
    if (args.allowStaleBackup === undefined) requireAddressPerMachine(context.args, 'failback');
    await context.requireKnownRegions([
      ...(options.to === undefined ? [] : [options.to]),
      ...(options.from === undefined ? [] : [options.from]),
    ]);
    const dr = await context.dr();
    const status = await dr.status();
    const from = options.from ?? status.primary?.region ?? 'the current primary region';
    const to = options.to ?? 'the earlier primary region';

    await context.confirm(
      `fail back ${dr.app} from ${from} to ${to}? The app in ${from} stops and the database moves back.`,
    );
    if (options.waitForCapacityMs !== undefined) {
      context.out.note(
        `waiting up to ${formatDuration(options.waitForCapacityMs)} for capacity in ${to}`,
      );
    }
    const report = await withPause(context, (run) => dr.failback({ ...options, ...run }));
    printFailoverReport(context, report);
    context.out.result(failoverJson(report));
  },
};

function failbackOptions(args: Record<string, unknown>): FailbackOptions {
  const healthUrl = checkUrl(args.healthUrl, '--health-url');
  const waitMs =
    args.waitForCapacity === undefined
      ? undefined
      : parseDuration(args.waitForCapacity, '--wait-for-capacity');
  return {
    ...(args.to === undefined ? {} : { to: checkRegionCode(args.to, '--to') }),
    ...(args.from === undefined ? {} : { from: checkRegionCode(args.from, '--from') }),
    ...(waitMs === undefined
      ? {}
      : {
          waitForCapacityMs: waitMs,
          // Poll often enough that a short wait still detects capacity that returns.
          capacityPollMs: Math.min(5_000, Math.max(250, Math.floor(waitMs / 20))),
        }),
    force: args.force === true,
    ...(args.allowStaleBackup === undefined
      ? {}
      : { allowStaleBackupMs: parseDuration(args.allowStaleBackup, '--allow-stale-backup') }),
    ...(healthUrl === undefined ? {} : { healthUrl }),
  };
}
