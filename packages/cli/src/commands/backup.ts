import { backupJson } from '../backup-json.js';
import type { CommandDefinition } from '../command.js';
import { formatBytes, formatDuration } from '../output.js';
import { checkRegionCode } from '../region-code.js';

/** `flydr backup`: a consistent, verified snapshot of the live database, catalogued. */
export const backupCommand: CommandDefinition = {
  command: 'backup',
  describe: 'take a consistent, verified backup of the database on the running machine',
  examples: [
    ['flydr backup', 'back up the database of the app in ./fly.toml'],
    ['flydr backup -a live-schedule-api --region nrt', 'back up the machine in nrt'],
    [
      'flydr backup --strategy copy-validate --check integrity',
      'no sqlite3 on the image; full check',
    ],
  ],
  builder: (parser) =>
    parser
      .option('region', { type: 'string', describe: 'only consider machines in this region' })
      .option('machine', { type: 'string', describe: 'back up this machine (its id)' })
      .option('strategy', {
        type: 'string',
        choices: ['auto', 'sqlite3-backup', 'copy-validate'] as const,
        default: 'auto',
        describe:
          'sqlite3-backup runs `sqlite3 .backup` on the machine; copy-validate copies the db and its -wal and checks nothing moved',
      })
      .option('check', {
        type: 'string',
        choices: ['quick', 'integrity'] as const,
        default: 'quick',
        describe: 'PRAGMA quick_check, or the slower integrity_check',
      }),

  async run(args, context) {
    const region = args.region === undefined ? undefined : checkRegionCode(args.region, '--region');
    const dr = await context.dr();
    context.out.note(`backing up ${dr.databasePath} of ${dr.app}`);

    const record = await dr.backup({
      ...(region === undefined ? {} : { region }),
      ...(typeof args.machine === 'string' ? { machineId: args.machine } : {}),
      strategy: args.strategy as 'auto' | 'sqlite3-backup' | 'copy-validate',
      check: args.check as 'quick' | 'integrity',
    });

    const took = Date.parse(record.finishedAt) - Date.parse(record.startedAt);
    context.out.line(
      `backup ${record.id}: ${formatBytes(record.size)} from ${record.machineId ?? '?'} in ${record.region ?? '?'}, ${record.check}_check ok, ${formatDuration(took)}`,
    );
    context.out.line(`  ${record.path}`);
    context.out.line(`  sha256 ${record.sha256}`);
    context.out.result({ ok: true, backup: backupJson(record) });
  },
};
