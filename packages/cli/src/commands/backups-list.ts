import { backupJson } from '../backup-json.js';
import type { CommandDefinition } from '../command.js';
import { formatBytes } from '../output.js';

/** `flydr backups list`: the catalogued backups, newest first. */
export const backupsListCommand: CommandDefinition = {
  command: 'list',
  describe: 'list the catalogued backups, newest first',
  examples: [
    ['flydr backups list', 'backups of the app in ./fly.toml'],
    ['flydr backups list -a live-schedule-api --json', 'the same as one JSON document'],
  ],

  async run(_args, context) {
    const dr = await context.dr({ remote: false });
    const backups = await dr.list();

    if (backups.length === 0) {
      context.out.line(`no backups of ${dr.app} in ${dr.stateDir}; take one with \`flydr backup\``);
    } else {
      context.out.table(backups, [
        { header: 'ID', value: (b) => String(b.id), right: true },
        { header: 'FINISHED (UTC)', value: (b) => b.finishedAt.replace('T', ' ').slice(0, 19) },
        { header: 'REGION', value: (b) => b.region ?? '-' },
        { header: 'SIZE', value: (b) => formatBytes(b.size), right: true },
        { header: 'STATUS', value: (b) => b.status },
        { header: 'REASON', value: (b) => b.reason },
        { header: 'STRATEGY', value: (b) => b.strategy },
      ]);
    }
    context.out.result({ ok: true, app: dr.app, backups: backups.map(backupJson) });
  },
};
