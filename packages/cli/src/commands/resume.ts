import type { CommandDefinition } from '../command.js';
import { failoverJson, printFailoverReport, withPause } from '../failover-output.js';
import { chooseOperation } from '../operation-choice.js';

/** `flydr resume [ID]`: continues an interrupted failover, failback, sync or restore. */
export const resumeCommand: CommandDefinition = {
  command: 'resume [id]',
  describe:
    'continue an interrupted failover, failback, sync or restore from its first unfinished step',
  examples: [
    ['flydr resume', 'continue the one unfinished operation'],
    [
      'flydr resume failover-20261204T203302Z-5f2a9c --yes',
      'continue that operation without asking',
    ],
  ],
  builder: (parser) =>
    parser.positional('id', { type: 'string', describe: 'operation id, as `flydr status` shows' }),

  async run(args, context) {
    const dr = await context.dr();
    const id = await chooseOperation(dr, args.id, 'resume');
    const record = await dr.operation(id);
    const next = record.steps.find((step) => step.status !== 'done');
    await context.confirm(`resume ${record.kind} ${id} of ${dr.app} at step ${next?.name ?? '?'}?`);

    const report = await withPause(context, (run) => dr.resume(id, run));
    if (report.kind === 'restore') {
      context.out.line(
        `restore ${report.operationId}: backup ${report.backup.id} is on machine ${report.machineId}`,
      );
      context.out.result({
        ok: true,
        operationId: report.operationId,
        kind: report.kind,
        machineId: report.machineId,
        backupId: report.backup.id,
        preRestoreBackupId: report.preRestoreBackup?.id ?? null,
        durationMs: report.durationMs,
      });
      return;
    }
    if (report.kind === 'sync') {
      context.out.line(
        `sync ${report.operationId}: ${report.from} -> ${report.to}, machine ${report.targetMachineId} holds backup ${report.backup.id}`,
      );
      context.out.result({
        ok: true,
        operationId: report.operationId,
        kind: report.kind,
        from: report.from,
        to: report.to,
        sourceMachineId: report.sourceMachineId,
        targetMachineId: report.targetMachineId,
        backupId: report.backup.id,
        durationMs: report.durationMs,
      });
      return;
    }
    printFailoverReport(context, report);
    context.out.result(failoverJson(report));
  },
};
