import { type BackupRecord, DrError } from '@flydr/dr-core';
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
    // The same code as dr-core's own check below, so `--json` callers see DR_REFUSED either way.
    if (args.force !== true && newestVerified(await dr.list())?.id === id) {
      throw new DrError(
        'DR_REFUSED',
        `backup ${id} is the newest verified backup of ${dr.app}, so it was not deleted`,
        'take a newer backup first (flydr backup), or pass --force to delete it anyway',
        { backupId: id },
      );
    }
    await context.confirm(
      `delete backup ${id} of ${dr.app} (${backup.finishedAt}, ${backup.path})?`,
    );

    // dr-core checks again under its lock, and a backup that became the newest verified one
    // after the check above is refused there with DR_REFUSED (exit 3).
    const deleted = await dr.delete(id, { force: args.force === true });
    context.out.line(`deleted backup ${deleted.id}`);
    context.out.result({ ok: true, backup: backupJson(deleted) });
  },
};

// The same choice as the catalog's: the verified backup that finished last, then the
// highest id.
function newestVerified(backups: readonly BackupRecord[]): BackupRecord | undefined {
  let newest: BackupRecord | undefined;
  for (const backup of backups) {
    if (backup.status !== 'verified') continue;
    if (
      newest === undefined ||
      backup.finishedAt > newest.finishedAt ||
      (backup.finishedAt === newest.finishedAt && backup.id > newest.id)
    ) {
      newest = backup;
    }
  }
  return newest;
}
