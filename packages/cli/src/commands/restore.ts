import { existsSync } from 'node:fs';
import { isDrError } from '@flydr/dr-core';
import { backupJson } from '../backup-json.js';
import type { CommandDefinition } from '../command.js';
import { UsageError } from '../exit-codes.js';
import { withInterrupt } from '../failover-output.js';
import { formatDuration } from '../output.js';
import { checkRegionCode } from '../region-code.js';
import { checkUrl } from '../url.js';
import { requireBackupId } from './backups-show.js';

/** `flydr restore ID --region R | --to-file PATH`. */
export const restoreCommand: CommandDefinition = {
  command: 'restore <id>',
  describe: 'restore a backup onto the machine in a region, or to a local file',
  examples: [
    [
      'flydr restore 12 --region nrt',
      'put backup 12 on the nrt machine (maintenance mode, verified)',
    ],
    ['flydr restore latest --to-file ./app.db', 'write the newest verified backup to ./app.db'],
    ['flydr restore 12 --to-file ./app.db --yes', 'replace ./app.db, keeping the old file aside'],
  ],
  builder: (parser) =>
    parser
      .positional('id', {
        type: 'string',
        describe: 'backup id, or `latest` for the newest verified',
      })
      .option('region', { type: 'string', describe: 'restore onto the machine in this region' })
      .option('machine', { type: 'string', describe: 'restore onto this machine (its id)' })
      .option('to-file', {
        type: 'string',
        describe: 'write the backup to this local file instead',
      })
      .option('health-url', {
        type: 'string',
        describe: 'URL that must answer 2xx after the restore',
      })
      .conflicts('to-file', ['region', 'machine', 'health-url']),

  async run(args, context) {
    const target = args.id === 'latest' ? 'latest' : requireBackupId(args.id);
    const toFile = args.toFile as string | undefined;
    if (toFile !== undefined) return restoreToFile(target, toFile, context);

    if (args.region === undefined && args.machine === undefined) {
      throw new UsageError(
        'missing restore target: pass --region R (or --machine ID) or --to-file PATH',
        'for example `flydr restore 12 --region nrt` or `flydr restore 12 --to-file ./app.db`',
      );
    }
    const region = args.region === undefined ? undefined : checkRegionCode(args.region, '--region');
    const healthUrl = checkUrl(args.healthUrl, '--health-url');
    // A typo in the region would otherwise journal a restore that fails at its preflight.
    if (region !== undefined) await context.requireKnownRegions([region]);

    // Only the catalog is needed to name the backup in the question; the token comes later.
    const backup = await (await context.dr({ remote: false })).show(
      target === 'latest' ? await newestVerifiedId(context) : target,
    );
    await context.confirm(
      `replace ${await context.databasePath()} on the ${region ?? args.machine} machine of ${await context.appName()} with backup ${backup.id} (${backup.finishedAt})? The current database is kept as a verified backup first.`,
    );

    const dr = await context.dr();
    const rerun = `flydr restore ${backup.id} ${region === undefined ? `--machine ${args.machine}` : `--region ${region}`}`;
    const report = await withInterrupt(context, rerun, (signal) =>
      dr.restore(backup.id, {
        ...(region === undefined ? {} : { region }),
        ...(typeof args.machine === 'string' ? { machineId: args.machine } : {}),
        ...(healthUrl === undefined ? {} : { healthUrl }),
        signal,
      }),
    );

    context.out.line(
      `restored backup ${report.backup.id} onto machine ${report.machineId} in ${formatDuration(report.durationMs)}`,
    );
    if (report.preRestoreBackup)
      context.out.line(`  the replaced database is backup ${report.preRestoreBackup.id}`);
    context.out.result({
      ok: true,
      target: 'machine',
      operationId: report.operationId,
      machineId: report.machineId,
      backup: backupJson(report.backup),
      preRestoreBackup: report.preRestoreBackup ? backupJson(report.preRestoreBackup) : null,
      movedAside: report.movedAside,
      durationMs: report.durationMs,
    });
  },
};

async function restoreToFile(
  target: 'latest' | number,
  file: string,
  context: Parameters<CommandDefinition['run']>[1],
): Promise<void> {
  const path = context.path(file);
  const dr = await context.dr({ remote: false });
  const backup = await dr.show(target === 'latest' ? await newestVerifiedId(context) : target);

  // A leftover -wal or -shm file would change the restored database when SQLite opens it,
  // so it is replaced (and kept aside) with the main file, after the same question.
  const existing = ['', '-wal', '-shm', '-journal']
    .map((suffix) => `${path}${suffix}`)
    .filter((file) => existsSync(file));
  if (existing.length > 0) {
    await context.confirm(`replace ${existing.join(', ')}? The old files are kept beside them.`);
  }
  const restored = await dr
    .restoreToFile(backup.id, path, { force: existing.length > 0 })
    .catch((error: unknown) => {
      // dr-core's hint names its force option, but this command replaces files after the
      // question above (or with --yes) and has no --force.
      if (!isDrError(error) || error.code !== 'DR_FILE_EXISTS') throw error;
      throw new UsageError(
        error.message,
        'choose another path, or run the command again and answer yes (or pass --yes); the old files are kept aside',
        { cause: error },
      );
    });

  context.out.line(`restored backup ${backup.id} to ${restored.path}`);
  if (restored.previousPath) context.out.line(`  the old file is now ${restored.previousPath}`);
  context.out.result({
    ok: true,
    target: 'file',
    path: restored.path,
    previousPath: restored.previousPath ?? null,
    sha256: restored.verified.sha256,
    backup: backupJson(backup),
  });
}

async function newestVerifiedId(context: Parameters<CommandDefinition['run']>[1]): Promise<number> {
  const dr = await context.dr({ remote: false });
  const newest = (await dr.list()).find((backup) => backup.status === 'verified');
  if (newest === undefined) {
    throw new UsageError(
      `no verified backup of ${dr.app} in ${dr.stateDir}`,
      'take one with `flydr backup`, or pass --state-dir where your backups are',
    );
  }
  return newest.id;
}
