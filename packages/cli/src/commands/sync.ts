import { backupJson } from '../backup-json.js';
import type { CommandDefinition } from '../command.js';
import { UsageError } from '../exit-codes.js';
import { withInterrupt } from '../failover-output.js';
import { requireAddressPerMachine } from '../machine-access.js';
import { formatDuration } from '../output.js';
import { checkRegionCode } from '../region-code.js';

/** `flydr sync --from R --to R`: copies the database from one region's machine to another's. */
export const syncCommand: CommandDefinition = {
  command: 'sync',
  describe: "copy the database from one region's machine to another's (standby refresh)",
  examples: [
    ['flydr sync --from nrt --to sin', 'refresh the standby in sin from the primary in nrt'],
    ['flydr sync --from nrt --to sin --yes --json', 'no question; one JSON document'],
  ],
  builder: (parser) =>
    parser
      .option('from', {
        type: 'string',
        demandOption: true,
        describe: 'region to copy from (upper case is read as lower case)',
      })
      .option('to', {
        type: 'string',
        demandOption: true,
        describe: 'region to copy to (upper case is read as lower case)',
      })
      .option('force', {
        type: 'boolean',
        default: false,
        describe:
          'overwrite the active primary, or a database that changed since flydr recorded it',
      }),

  async run(args, context) {
    const from = checkRegionCode(args.from, '--from');
    const to = checkRegionCode(args.to, '--to');
    if (from === to) {
      throw new UsageError(
        `invalid --to ${to}: it is the same region as --from`,
        'sync copies between two regions, such as --from nrt --to sin',
      );
    }
    requireAddressPerMachine(context.args, 'sync');
    await context.requireKnownRegions([from, to]);
    const dr = await context.dr();
    await context.confirm(
      `replace the database on the ${to} machine of ${dr.app} with a copy from ${from}? The current one is kept as a verified backup.`,
    );

    const rerun = `flydr sync --from ${from} --to ${to}${args.force === true ? ' --force' : ''}`;
    const report = await withInterrupt(context, rerun, (signal) =>
      dr.sync({ from, to, force: args.force === true, signal }),
    );
    context.out.line(
      `synced ${from} (${report.sourceMachineId}) -> ${to} (${report.targetMachineId}) with backup ${report.backup.id} in ${formatDuration(report.durationMs)}`,
    );
    if (report.preRestoreBackup)
      context.out.line(`  the replaced database is backup ${report.preRestoreBackup.id}`);
    context.out.result({
      ok: true,
      operationId: report.operationId,
      from: report.from,
      to: report.to,
      sourceMachineId: report.sourceMachineId,
      targetMachineId: report.targetMachineId,
      backup: backupJson(report.backup),
      preRestoreBackup: report.preRestoreBackup ? backupJson(report.preRestoreBackup) : null,
      divergenceReportPath: report.divergenceReportPath ?? null,
      durationMs: report.durationMs,
    });
  },
};
