import { backupJson, parseBackupId } from '../backup-json.js';
import type { CommandDefinition } from '../command.js';
import { UsageError } from '../exit-codes.js';
import { formatBytes } from '../output.js';

/** `flydr backups show ID`: every recorded fact of one backup. */
export const backupsShowCommand: CommandDefinition = {
  command: 'show <id>',
  describe: 'show one backup: source machine, size, sha256, check result',
  examples: [['flydr backups show 12', 'details of backup 12']],
  builder: (parser) =>
    parser.positional('id', { type: 'string', describe: 'backup id from `flydr backups list`' }),

  async run(args, context) {
    const id = requireBackupId(args.id);
    const dr = await context.dr({ remote: false });
    const backup = await dr.show(id);

    const rows: Array<[string, string]> = [
      ['id', String(backup.id)],
      ['status', `${backup.status} (${backup.check}_check: ${backup.checkResult})`],
      ['finished', backup.finishedAt],
      ['source', `${backup.machineId ?? '-'} in ${backup.region ?? '-'}: ${backup.databasePath}`],
      ['image', backup.imageRef ?? '-'],
      ['strategy', `${backup.strategy} (${backup.reason})`],
      ['size', `${formatBytes(backup.size)} (${backup.size} bytes)`],
      ['tables', String(backup.description.tableCount)],
      ['journal mode', backup.sourceJournalMode],
      ['sha256', backup.sha256],
      ['file', backup.path],
    ];
    const width = Math.max(...rows.map(([key]) => key.length));
    for (const [key, value] of rows) context.out.line(`${key.padEnd(width)}  ${value}`);
    context.out.result({ ok: true, backup: backupJson(backup) });
  },
};

/**
 * Checks a backup id argument.
 *
 * @throws UsageError naming the value when it is not a positive integer.
 */
export function requireBackupId(value: unknown): number {
  const id = parseBackupId(value);
  if (id === undefined) {
    throw new UsageError(
      `invalid backup id ${JSON.stringify(String(value))}: expected a positive integer`,
      'run `flydr backups list` and pass a number from its ID column',
    );
  }
  return id;
}
