import type { CommandDefinition } from '../command.js';
import { chooseOperation } from '../operation-choice.js';

/** `flydr abort [ID]`: rolls an unfinished operation back. */
export const abortCommand: CommandDefinition = {
  command: 'abort [id]',
  describe:
    'roll an unfinished failover, failback, sync or restore back, so the app runs where it ran before',
  examples: [
    ['flydr abort', 'roll back the one unfinished operation'],
    [
      'flydr abort failover-20261204T203302Z-5f2a9c --yes',
      'roll back that operation without asking',
    ],
  ],
  builder: (parser) =>
    parser.positional('id', { type: 'string', describe: 'operation id, as `flydr status` shows' }),

  async run(args, context) {
    const dr = await context.dr();
    const id = await chooseOperation(dr, args.id, 'abort');
    const before = await dr.operation(id);
    const done = before.steps.filter((step) => step.status === 'done').map((step) => step.name);
    await context.confirm(
      `roll back ${before.kind} ${id} of ${dr.app}? Undoes: ${done.reverse().join(', ') || 'nothing yet'}.`,
    );

    const record = await dr.abort(id);
    context.out.line(`${record.kind} ${id} is ${record.status}: the app runs where it ran before`);
    context.out.result({
      ok: true,
      operationId: record.id,
      kind: record.kind,
      status: record.status,
      steps: record.steps.map((step) => ({ name: step.name, status: step.status })),
    });
  },
};
