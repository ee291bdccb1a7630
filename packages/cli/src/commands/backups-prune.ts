import { DEFAULT_KEEP_DAYS, DEFAULT_KEEP_LAST } from '@flydr/dr-core';
import { backupJson } from '../backup-json.js';
import type { CommandDefinition } from '../command.js';
import { parseWholeNumber, wholeNumberOption } from '../number-option.js';

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
        ...wholeNumberOption(),
        default: String(DEFAULT_KEEP_DAYS),
        describe: 'keep every backup younger than this many days (a whole number)',
      })
      .option('keep-last', {
        ...wholeNumberOption(),
        default: String(DEFAULT_KEEP_LAST),
        describe: 'keep this many newest verified backups whatever their age (a whole number)',
      })
      .option('dry-run', { type: 'boolean', default: false, describe: 'delete nothing' }),

  async run(args, context) {
    const keepDays = parseWholeNumber(args.keepDays, '--keep-days', {
      unit: 'days',
      example: DEFAULT_KEEP_DAYS,
    });
    const keepLast = parseWholeNumber(args.keepLast, '--keep-last', {
      unit: 'backups',
      example: DEFAULT_KEEP_LAST,
    });
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
