import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { runCheckPragma } from './check-worker.js';
import { removeQuietly, sha256File, sizeIfExists } from './durable-fs.js';
import { DrError, errnoOf, messageOf } from './errors.js';
import { DATABASE_HEADER_LENGTH, parseDatabaseHeader } from './sqlite-header.js';

/** SQLite check to run: `quick` is `PRAGMA quick_check`, `integrity` is `PRAGMA integrity_check`. */
export type CheckKind = 'quick' | 'integrity';

/** Summary of a verified database file's contents. */
export interface DatabaseDescription {
  pageSize: number;
  pageCount: number;
  /** `PRAGMA journal_mode` of the file: `delete` or `wal` for files dr-core writes. */
  journalMode: string;
  /** Number of tables, not counting `sqlite_*` internal tables. */
  tableCount: number;
  /** sha256 over the sorted schema rows (type, name, table, SQL): equal schemas have equal hashes. */
  schemaHash: string;
  userVersion: number;
}

/** Outcome of {@link verifyDatabaseFile}. */
export interface VerifiedDatabase {
  path: string;
  size: number;
  sha256: string;
  check: CheckKind;
  /** Always `ok`: a file that fails the check throws instead. */
  checkResult: 'ok';
  description: DatabaseDescription;
}

/** Options of {@link verifyDatabaseFile}. */
export interface VerifyOptions {
  /** @default 'quick' */
  check?: CheckKind;
  /** Skip hashing when the caller already knows the sha256 of these exact bytes. */
  knownSha256?: string;
}

/** Maximum number of check messages quoted in an error. */
const MAX_QUOTED_PROBLEMS = 5;

/**
 * Verifies that `path` is a complete, self-contained and consistent SQLite database: reads
 * the header, compares the size with the header's page count, runs `PRAGMA quick_check`
 * (or `integrity_check`), hashes the file and describes it. The file is opened read-only.
 *
 * @throws DrError `DR_FILE_NOT_FOUND`, `DR_EMPTY_FILE`, `DR_NOT_SQLITE`, `DR_TRUNCATED`,
 *   `DR_CORRUPT` (the check failed or SQLite cannot read it), or `DR_SIDECAR_PRESENT`
 *   when a non-empty `-wal` or `-journal` file beside it may contain commits that the
 *   file alone lacks.
 */
export async function verifyDatabaseFile(
  path: string,
  options: VerifyOptions = {},
): Promise<VerifiedDatabase> {
  const check = options.check ?? 'quick';
  const size = await fileSize(path);
  const header = parseDatabaseHeader(await readHead(path, size), path);
  checkSizeAgainstHeader(path, size, header.pageSize, header.pageCountValid ? header.pageCount : 0);
  await rejectSidecars(path);

  const sidecarsBefore = header.writeVersion === 2 ? await existingSidecars(path) : [];
  let description: DatabaseDescription;
  let sha256: string;
  try {
    // The check and the hash both read the whole file; they run side by side.
    const hashing = options.knownSha256 === undefined ? sha256File(path) : undefined;
    hashing?.catch(() => {});
    // A worker only pays off when a hash runs beside the check.
    await runSqliteCheck(path, check, hashing === undefined ? 0 : size);
    description = describeFile(path);
    sha256 = options.knownSha256 ?? (await (hashing as Promise<string>));
  } finally {
    if (header.writeVersion === 2) {
      await removeCreatedSidecars(path, sidecarsBefore);
    }
  }
  return { path, size, sha256, check, checkResult: 'ok', description };
}

async function fileSize(path: string): Promise<number> {
  try {
    const info = await stat(path);
    if (!info.isFile()) {
      throw new DrError(
        'DR_INVALID_INPUT',
        `${path} is not a regular file`,
        'Pass the path of the database file itself.',
        { path },
      );
    }
    return info.size;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') {
      throw new DrError('DR_FILE_NOT_FOUND', `${path} does not exist`, 'Check the path.', {
        path,
        cause: error,
      });
    }
    throw error;
  }
}

async function readHead(path: string, size: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(Math.min(size, DATABASE_HEADER_LENGTH));
    await handle.read(buffer, 0, buffer.length, 0);
    return buffer;
  } finally {
    await handle.close();
  }
}

function checkSizeAgainstHeader(path: string, size: number, pageSize: number, pageCount: number) {
  if (size % pageSize !== 0) {
    throw new DrError(
      'DR_TRUNCATED',
      `${path} is truncated: ${size} bytes is not a whole number of ${pageSize}-byte pages`,
      'The copy was cut short; take the backup again or use another backup.',
      { path, size, pageSize },
    );
  }
  if (pageCount > 0 && size < pageCount * pageSize) {
    throw new DrError(
      'DR_TRUNCATED',
      `${path} is truncated: ${size} bytes, but its header counts ${pageCount} pages of ${pageSize} bytes (${pageCount * pageSize} bytes)`,
      'The copy was cut short; take the backup again or use another backup.',
      { path, size, expectedSize: pageCount * pageSize },
    );
  }
}

async function rejectSidecars(path: string): Promise<void> {
  for (const suffix of ['-wal', '-journal']) {
    const sidecarSize = await sizeIfExists(`${path}${suffix}`);
    if (sidecarSize !== undefined && sidecarSize > 0) {
      throw new DrError(
        'DR_SIDECAR_PRESENT',
        `${path}${suffix} exists beside ${path} (${sidecarSize} bytes), so the file alone may not hold every commit`,
        `Checkpoint the pair into one file first (flydr does this for backups), or move ${path}${suffix} away if it is stale.`,
        { path: `${path}${suffix}` },
      );
    }
  }
}

async function existingSidecars(path: string): Promise<string[]> {
  const found: string[] = [];
  for (const suffix of ['-wal', '-shm']) {
    if ((await sizeIfExists(`${path}${suffix}`)) !== undefined) {
      found.push(suffix);
    }
  }
  return found;
}

/**
 * Removes the empty -wal and the -shm that a read-only connection to a WAL-mode file
 * creates and cannot remove itself. The -wal was checked to be empty before opening and
 * the connection wrote nothing, so no data goes with them.
 */
async function removeCreatedSidecars(path: string, before: string[]): Promise<void> {
  const walSize = await sizeIfExists(`${path}-wal`);
  if (walSize !== undefined && walSize > 0) {
    return;
  }
  for (const suffix of ['-wal', '-shm']) {
    if (!before.includes(suffix)) {
      await removeQuietly(`${path}${suffix}`);
    }
  }
}

async function runSqliteCheck(path: string, check: CheckKind, size: number): Promise<void> {
  const pragma = check === 'quick' ? 'quick_check' : 'integrity_check';
  let problems: string[];
  try {
    problems = await runCheckPragma(path, pragma, size);
  } catch (error) {
    throw unreadable(path, error);
  }
  if (problems.length !== 1 || problems[0] !== 'ok') {
    const quoted = problems.slice(0, MAX_QUOTED_PROBLEMS).join('; ');
    const more =
      problems.length > MAX_QUOTED_PROBLEMS
        ? ` (and ${problems.length - MAX_QUOTED_PROBLEMS} more)`
        : '';
    throw new DrError(
      'DR_CORRUPT',
      `${path} failed PRAGMA ${pragma}: ${quoted}${more}`,
      'Do not restore this file; use an older verified backup (flydr backups list) or take a new backup.',
      { path, problems: problems.slice(0, 100) },
    );
  }
}

function describeFile(path: string): DatabaseDescription {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    return describeDatabase(db);
  } catch (error) {
    throw unreadable(path, error);
  } finally {
    db?.close();
  }
}

function unreadable(path: string, error: unknown): DrError {
  return new DrError(
    'DR_CORRUPT',
    `${path} cannot be read by SQLite: ${messageOf(error)}`,
    'The file is damaged or not a database; use another backup or take a new one.',
    { path, cause: error },
  );
}

/** Describes an open database: page size and count, journal mode, tables, schema hash. */
export function describeDatabase(db: Database.Database): DatabaseDescription {
  const schemaRows = db
    .prepare('SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name')
    .all() as { type: string; name: string; tbl_name: string; sql: string | null }[];
  const schemaHash = createHash('sha256');
  for (const row of schemaRows) {
    schemaHash.update(`${row.type}\u0000${row.name}\u0000${row.tbl_name}\u0000${row.sql ?? ''}\n`);
  }
  return {
    pageSize: Number(db.pragma('page_size', { simple: true })),
    pageCount: Number(db.pragma('page_count', { simple: true })),
    journalMode: String(db.pragma('journal_mode', { simple: true })),
    tableCount: schemaRows.filter((row) => row.type === 'table' && !row.name.startsWith('sqlite_'))
      .length,
    schemaHash: schemaHash.digest('hex'),
    userVersion: Number(db.pragma('user_version', { simple: true })),
  };
}
