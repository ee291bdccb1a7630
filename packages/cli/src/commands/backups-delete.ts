import { backupJson } from '../backup-json.js';
import type { CommandDefinition } from '../command.js';
import { requireBackupId } from './backups-show.js';

/** `flydr backups delete ID`: removes one backup's file and catalog row. */
export const backupsDeleteCommand: CommandDefinition = {
  command: 'delete <id>',
  describe: 'delete one backup; the newest verified one only with --force',
  examples: [
    ['flydr backups delete 12', 'delete backup 12 after asking'],
    ['flydr backups delete 12 --yes', 'delete it without asking'],
  ],
  builder: (parser) =>
    parser
      .positional('id', { type: 'string', describe: 'backup id from `flydr backups list`' })
      .option('force', {
        type: 'boolean',
        default: false,
        describe: 'allow deleting the newest verified backup',
      }),

  async run(args, context) {
    const id = requireBackupId(args.id);
    const dr = await context.dr({ remote: false });
    const backup = await dr.show(id);
    await context.confirm(
      `delete backup ${id} of ${dr.app} (${backup.finishedAt}, ${backup.path})?`,
    );

    const deleted = await dr.delete(id, { force: args.force === true });
    context.out.line(`deleted backup ${deleted.id}`);
    context.out.result({ ok: true, backup: backupJson(deleted) });
  },
};
