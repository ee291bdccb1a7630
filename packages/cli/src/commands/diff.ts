import { existsSync } from 'node:fs';
import { compareDatabases } from '@flydr/dr-core';
import { parseBackupId } from '../backup-json.js';
import type { CommandDefinition } from '../command.js';
import type { CommandContext } from '../context.js';
import { UsageError } from '../exit-codes.js';

/** `flydr diff A B`: row-level difference of two SQLite databases. */
export const diffCommand: CommandDefinition = {
  command: 'diff <first> <second>',
  describe: 'compare two databases (local files or backup ids) row by row',
  examples: [
    ['flydr diff ./app.db ./app.db.old', 'what differs between two local files'],
    ['flydr diff 12 14', 'what changed between backups 12 and 14'],
    ['flydr diff 14 ./app.db --json', 'a backup against a local file, as JSON'],
  ],
  builder: (parser) =>
    parser
      .positional('first', { type: 'string', describe: 'database file, or backup id' })
      .positional('second', { type: 'string', describe: 'database file, or backup id' })
      .option('sample', {
        type: 'number',
        default: 5,
        describe: 'rows of each kind to show per table',
      }),

  async run(args, context) {
    const sample = args.sample as number;
    if (!Number.isInteger(sample) || sample < 0 || sample > 1000) {
      throw new UsageError(
        `invalid --sample ${JSON.stringify(sample)}: expected a whole number from 0 to 1000`,
        'for example --sample 5',
      );
    }
    const first = await resolveDatabase(args.first, context);
    const second = await resolveDatabase(args.second, context);
    const report = compareDatabases(first, second, { sampleSize: sample });

    if (report.identical) {
      context.out.line(`identical: every table of ${first} and ${second} holds the same rows`);
    } else {
      for (const table of report.tablesOnlyInFirst)
        context.out.line(`table ${table}: only in ${first}`);
      for (const table of report.tablesOnlyInSecond)
        context.out.line(`table ${table}: only in ${second}`);
      context.out.table(report.tables, [
        { header: 'TABLE', value: (t) => t.table },
        { header: 'ONLY IN FIRST', value: (t) => String(t.onlyInFirst), right: true },
        { header: 'ONLY IN SECOND', value: (t) => String(t.onlyInSecond), right: true },
        { header: 'CHANGED', value: (t) => String(t.changed), right: true },
      ]);
    }
    context.out.result({ ok: true, ...report });
  },
};

/**
 * Resolves a `diff` argument: an existing file, else a backup id in the catalog.
 *
 * @throws UsageError when it is neither.
 */
async function resolveDatabase(value: unknown, context: CommandContext): Promise<string> {
  const text = String(value);
  const path = context.path(text);
  if (existsSync(path)) return path;

  const id = parseBackupId(text.replace(/^#/, ''));
  if (id === undefined) {
    throw new UsageError(
      `database not found: ${path} does not exist and ${JSON.stringify(text)} is not a backup id`,
      'pass the path of a SQLite file, or a backup id from `flydr backups list`',
    );
  }
  const dr = await context.dr({ remote: false });
  return (await dr.show(id)).path;
}
