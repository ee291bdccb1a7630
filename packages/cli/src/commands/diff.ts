import { existsSync, statSync } from 'node:fs';
import { compareDatabases, type DivergenceReport, isDrError } from '@flydr/dr-core';
import { parseBackupId } from '../backup-json.js';
import type { CommandDefinition } from '../command.js';
import type { CommandContext } from '../context.js';
import { UsageError } from '../exit-codes.js';
import { parseWholeNumber, wholeNumberOption } from '../number-option.js';

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
        ...wholeNumberOption(),
        default: '5',
        describe: 'rows of each kind to show per table, from 0 to 1000',
      }),

  async run(args, context) {
    const sample = parseWholeNumber(args.sample, '--sample', {
      max: 1000,
      unit: 'rows',
      example: 5,
    });
    const first = await resolveDatabase(args.first, context);
    const second = await resolveDatabase(args.second, context);
    const report = compare(first, second, sample);

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
 * Compares two database files. Both are the user's input, so a file that SQLite cannot
 * read is invalid input (exit 2) here, where a corrupt backup elsewhere is a failure.
 *
 * @throws UsageError naming the file that is not a readable SQLite database.
 */
function compare(first: string, second: string, sample: number): DivergenceReport {
  try {
    return compareDatabases(first, second, { sampleSize: sample });
  } catch (error) {
    if (isDrError(error) && error.code === 'DR_NOT_SQLITE') {
      throw new UsageError(error.message, error.hint, { cause: error });
    }
    throw error;
  }
}

/**
 * Resolves a `diff` argument: an existing file, else a backup id in the catalog.
 *
 * @throws UsageError when it is neither, or names a folder or an empty file.
 */
async function resolveDatabase(value: unknown, context: CommandContext): Promise<string> {
  const text = String(value);
  const path = context.path(text);
  if (existsSync(path)) return checkDatabaseFile(path);

  const id = parseBackupId(text.replace(/^#/, ''));
  if (id === undefined) {
    throw new UsageError(
      `database not found: ${path} does not exist and ${JSON.stringify(text)} is not a backup id`,
      'pass the path of a SQLite file, or a backup id from `flydr backups list`',
    );
  }
  const dr = await context.dr({ remote: false });
  return checkDatabaseFile((await dr.show(id)).path);
}

// SQLite opens a zero-byte file as an empty database, which would make every table look
// deleted, so an empty file is named as the error instead.
function checkDatabaseFile(path: string): string {
  const stats = statSync(path);
  if (stats.isDirectory()) {
    throw new UsageError(
      `${path} is a folder, not a SQLite database file`,
      'pass the path of a SQLite file, or a backup id from `flydr backups list`',
    );
  }
  if (stats.size === 0) {
    throw new UsageError(
      `${path} is empty (0 bytes), not a SQLite database`,
      'check that the copy finished, or pass another file or backup id',
    );
  }
  return path;
}
