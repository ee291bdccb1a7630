import { DEFAULT_KEEP_DAYS, DEFAULT_KEEP_LAST } from '@flydr/dr-core';
import { backupJson } from '../backup-json.js';
import type { CommandDefinition } from '../command.js';
import { UsageError } from '../exit-codes.js';

/** `flydr backups prune`: applies the retention policy, replacing the runbook's 30-day cron. */
export const backupsPruneCommand: CommandDefinition = {
  command: 'prune',
  describe: 'delete backups older than --keep-days, keeping the newest --keep-last verified',
  examples: [
    ['flydr backups prune --dry-run', 'list what would be deleted'],
    ['flydr backups prune --keep-days 30 --yes', 'delete backups older than 30 days'],
  ],
  builder: (parser) =>
    parser
      .option('keep-days', {
        type: 'number',
        default: DEFAULT_KEEP_DAYS,
        describe: 'keep every backup younger than this many days',
      })
      .option('keep-last', {
        type: 'number',
        default: DEFAULT_KEEP_LAST,
        describe: 'keep this many newest verified backups whatever their age',
      })
      .option('dry-run', { type: 'boolean', default: false, describe: 'delete nothing' }),

  async run(args, context) {
    const keepDays = checkCount(args.keepDays, '--keep-days');
    const keepLast = checkCount(args.keepLast, '--keep-last');
    const dr = await context.dr({ remote: false });

    const plan = await dr.prune({ keepDays, keepLast, dryRun: true });
    for (const candidate of plan.remove) {
      context.out.line(
        `${args.dryRun ? 'would delete' : 'delete'} backup ${candidate.backup.id} (${candidate.reason})`,
      );
    }

    let removedIds: number[] = [];
    if (plan.remove.length > 0 && args.dryRun !== true) {
      await context.confirm(`delete ${plan.remove.length} backups of ${dr.app}?`);
      removedIds = (await dr.prune({ keepDays, keepLast })).removedIds;
    }
    context.out.line(
      `${plan.keep.length} kept, ${args.dryRun ? `${plan.remove.length} would be deleted` : `${removedIds.length} deleted`}`,
    );
    context.out.result({
      ok: true,
      dryRun: args.dryRun === true,
      keepDays,
      keepLast,
      kept: plan.keep.map((b) => b.id),
      remove: plan.remove.map((c) => ({ reason: c.reason, backup: backupJson(c.backup) })),
      removedIds,
    });
  },
};

function checkCount(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new UsageError(
      `invalid ${option} ${JSON.stringify(value)}: expected a whole number, 0 or more`,
      `for example ${option} ${option === '--keep-days' ? DEFAULT_KEEP_DAYS : DEFAULT_KEEP_LAST}`,
    );
  }
  return value;
}
