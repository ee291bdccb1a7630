import type { MachineStatus } from '@flydr/dr-core';
import type { CommandDefinition } from '../command.js';
import { formatDuration } from '../output.js';

/** `flydr status`: machines per region, roles, the primary, backup age and warnings. */
export const statusCommand: CommandDefinition = {
  command: 'status',
  describe: 'show machines per region, the primary, the newest backup (current RPO) and warnings',
  examples: [
    ['flydr status', 'the state of the app in ./fly.toml'],
    ['flydr status --json', 'the same as one JSON document, for monitoring'],
  ],

  async run(_args, context) {
    const dr = await context.dr();
    const status = await dr.status();

    const primary = status.primary;
    context.out.line(
      primary
        ? `primary: ${primary.machineId} in ${primary.region}${primary.generation === null ? '' : ` (generation ${primary.generation})`}`
        : 'primary: none found',
    );
    context.out.line(
      status.newestBackup
        ? `newest verified backup: ${status.newestBackup.id}, ${formatDuration(status.newestBackup.ageMs)} old (the RPO if the primary were lost now)`
        : 'newest verified backup: none; take one with `flydr backup`',
    );

    const machines = status.regions.flatMap((region) => region.machines);
    context.out.line();
    context.out.table(machines, [
      { header: 'REGION', value: (m: MachineStatus) => m.region },
      { header: 'MACHINE', value: (m) => m.id },
      { header: 'STATE', value: (m) => `${m.state}${m.maintenance ? ' (maintenance)' : ''}` },
      { header: 'ROLE', value: (m) => m.role ?? '-' },
      { header: 'VOLUME', value: (m) => m.volumeId ?? '-' },
      {
        header: 'CHECKS',
        value: (m) => m.checks.map((c) => `${c.name}:${c.status}`).join(' ') || '-',
      },
    ]);

    for (const operation of status.unfinishedOperations) {
      context.out.line(
        `unfinished ${operation.kind} ${operation.id} (${operation.status}${operation.step ? ` at ${operation.step}` : ''}): run \`flydr resume ${operation.id}\` or \`flydr abort ${operation.id}\``,
      );
    }
    for (const warning of status.warnings) context.out.warn(warning.message);
    context.out.result({ ok: true, ...status });
  },
};
