import { rm, stat } from 'node:fs/promises';
import Database from 'better-sqlite3';
import type { CommandContext } from './command-context.js';
import { type CommandResult, failure, success } from './command-result.js';
import { MachineFileError } from './machine-files.js';
import { tokenizeShellWords } from './shell-words.js';

/** Reads the target of `.backup [main] FILE`, with FILE quoted or bare. */
function backupTarget(dotCommand: string): string | undefined {
  let words: string[];
  try {
    words = tokenizeShellWords(dotCommand.trim());
  } catch {
    return undefined;
  }
  if (words[0] !== '.backup') return undefined;
  if (words.length === 2) return words[1];
  if (words.length === 3 && words[1] === 'main') return words[2];
  return undefined;
}

/** Reads the target of `VACUUM [main] INTO 'FILE'` (SQL string literal, '' escapes a quote). */
function vacuumTarget(sql: string): string | undefined {
  const match = /^\s*VACUUM\s+(?:main\s+)?INTO\s+'((?:[^']|'')*)'\s*;?\s*$/i.exec(sql);
  return match?.[1]?.replace(/''/g, "'");
}

/**
 * `sqlite3 DB ".backup 'FILE'"` and `sqlite3 DB "VACUUM INTO 'FILE'"`, run with
 * better-sqlite3 on the machine's files. Only exists when the image has sqlite3.
 */
export async function sqlite3Command(
  args: string[],
  context: CommandContext,
): Promise<CommandResult> {
  if (context.image.sqlite3 === false) return failure(127, 'sh: 1: sqlite3: not found');
  const [dbPath, sql] = args;
  if (dbPath === undefined || sql === undefined || args.length !== 2) {
    return failure(
      1,
      "Error: the simulator's sqlite3 runs: sqlite3 DB \".backup 'FILE'\" or sqlite3 DB \"VACUUM INTO 'FILE'\"",
    );
  }
  const backup = backupTarget(sql);
  const vacuum = backup === undefined ? vacuumTarget(sql) : undefined;
  const target = backup ?? vacuum;
  if (target === undefined) {
    return failure(
      1,
      `Error: the simulator's sqlite3 runs only .backup and VACUUM INTO, not: ${sql}`,
    );
  }

  let database: Database.Database | undefined;
  try {
    const source = context.files.hostPath(dbPath);
    // NOTE: the real sqlite3 creates an empty database for a missing DB path. The simulator
    // fails instead, so a wrong path cannot produce an empty "backup".
    await stat(source);
    const destination = context.files.writablePath(
      target,
      `exec sqlite3 ${backup === undefined ? 'VACUUM INTO' : '.backup'}`,
    );
    database = new Database(source, { fileMustExist: true });
    if (backup !== undefined) {
      await database.backup(destination);
    } else {
      database.prepare('VACUUM INTO ?').run(destination);
    }

    // The copy is written first and then checked against the volume's size, as a full disk
    // would have stopped it.
    const { usedBytes, capacityBytes } = context.files.usage();
    if (usedBytes > capacityBytes) {
      await rm(destination, { force: true });
      return failure(1, 'Error: database or disk is full');
    }
    return success();
  } catch (error) {
    if (error instanceof MachineFileError) return failure(1, `Error: ${error.message}`);
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return failure(1, `Error: unable to open database "${dbPath}": unable to open database file`);
    }
    return failure(1, `Error: ${(error as Error).message}`);
  } finally {
    database?.close();
  }
}
