import { backupJson } from '../backup-json.js';
import type { CommandDefinition } from '../command.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { requireBackupId } from './backups-show.js';

/** `flydr backups verify [ID|--all]`: re-hashes and re-checks catalogued backups. */
export const backupsVerifyCommand: CommandDefinition = {
  command: 'verify [id]',
  describe: 're-hash and re-check backups (default: the newest) and record the outcome',
  examples: [
    ['flydr backups verify', 'check the newest backup'],
    ['flydr backups verify 12 --check integrity', 'full integrity_check of backup 12'],
    ['flydr backups verify --all', 'check every backup; exit 1 when one fails'],
  ],
  builder: (parser) =>
    parser
      .positional('id', { type: 'string', describe: 'backup id; default the newest' })
      .option('all', { type: 'boolean', describe: 'check every backup' })
      .option('check', {
        type: 'string',
        choices: ['quick', 'integrity'] as const,
        default: 'quick',
        describe: 'PRAGMA quick_check, or the slower integrity_check',
      })
      .conflicts('all', 'id'),

  async run(args, context) {
    let target: 'all' | 'latest' | number = 'latest';
    if (args.all === true) target = 'all';
    else if (args.id !== undefined) target = requireBackupId(args.id);
    const dr = await context.dr({ remote: false });
    const reports = await dr.verify(target, { check: args.check as 'quick' | 'integrity' });

    for (const report of reports) {
      const mark = report.ok
        ? context.out.style('green', 'ok')
        : context.out.style('red', 'FAILED');
      context.out.line(
        `backup ${report.backup.id}: ${mark} ${report.ok ? '' : report.result}`.trimEnd(),
      );
    }
    const failed = reports.filter((report) => !report.ok);
    context.out.result({
      ok: failed.length === 0,
      results: reports.map((report) => ({
        ok: report.ok,
        result: report.result,
        code: report.code ?? null,
        backup: backupJson(report.backup),
      })),
    });

    if (failed.length > 0) {
      throw new CliError(
        `${failed.length} of ${reports.length} backups failed verification: ${failed.map((r) => r.backup.id).join(', ')}`,
        ExitCode.OperationFailed,
        'take a new backup with `flydr backup`; a failed backup is never used for a restore',
      );
    }
  },
};
