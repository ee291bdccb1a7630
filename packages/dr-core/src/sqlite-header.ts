import { open } from 'node:fs/promises';
import { DrError, fileSystemError } from './errors.js';

/** Length of the SQLite database header at the start of page 1. */
export const DATABASE_HEADER_LENGTH = 100;

/** Length of the WAL file header. */
export const WAL_HEADER_LENGTH = 32;

const DATABASE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const WAL_MAGIC_LITTLE_ENDIAN = 0x377f0682;
const WAL_MAGIC_BIG_ENDIAN = 0x377f0683;
const WAL_FORMAT_VERSION = 3007000;

/** Fields of the SQLite database header (https://sqlite.org/fileformat2.html#the_database_header). */
export interface DatabaseHeader {
  /** Page size in bytes (the stored value 1 means 65536). */
  pageSize: number;
  /** File format write version: 1 for rollback journal, 2 for WAL. */
  writeVersion: number;
  /** File format read version: 1 for rollback journal, 2 for WAL. */
  readVersion: number;
  /** File change counter, bytes 24-27. */
  fileChangeCounter: number;
  /** Database size in pages as written in the header, bytes 28-31. */
  pageCount: number;
  /** Schema cookie, bytes 40-43. */
  schemaCookie: number;
  /** "Version-valid-for" number, bytes 92-95. */
  versionValidFor: number;
  /**
   * Whether `pageCount` can be trusted: SQLite writes it only when the version-valid-for
   * number equals the change counter and the count is not zero.
   */
  pageCountValid: boolean;
}

/** Fields of a WAL file header (https://sqlite.org/fileformat2.html#wal_file_format). */
export interface WalHeader {
  /** Whether frame checksums use big-endian words (magic 0x377f0683). */
  bigEndianChecksums: boolean;
  pageSize: number;
  /** Checkpoint sequence number, incremented by every WAL reset. */
  checkpointSequence: number;
  /** Salt-1, changed by every WAL reset. */
  salt1: number;
  /** Salt-2, a new random value at every WAL reset. */
  salt2: number;
}

/** Tells whether `buffer` starts with the SQLite database magic string. */
export function hasDatabaseMagic(buffer: Buffer): boolean {
  return (
    buffer.length >= DATABASE_MAGIC.length &&
    buffer.subarray(0, DATABASE_MAGIC.length).equals(DATABASE_MAGIC)
  );
}

/**
 * Parses the first 100 bytes of a SQLite database file.
 *
 * @throws DrError `DR_EMPTY_FILE` for zero bytes, `DR_NOT_SQLITE` when the magic string
 *   is wrong, `DR_TRUNCATED` for fewer than 100 bytes, `DR_CORRUPT` for an impossible
 *   page size.
 */
export function parseDatabaseHeader(buffer: Buffer, path = 'database file'): DatabaseHeader {
  if (buffer.length === 0) {
    throw new DrError('DR_EMPTY_FILE', `${path} is empty (0 bytes)`, emptyHint, { path });
  }
  if (!hasDatabaseMagic(buffer)) {
    throw new DrError(
      'DR_NOT_SQLITE',
      `${path} is not a SQLite database: it does not start with "SQLite format 3"`,
      'Check that the path names the database file itself, not a dump, a -wal file or another file.',
      { path },
    );
  }
  if (buffer.length < DATABASE_HEADER_LENGTH) {
    throw new DrError(
      'DR_TRUNCATED',
      `${path} is truncated: ${buffer.length} bytes, shorter than the 100-byte SQLite header`,
      truncatedHint,
      { path, size: buffer.length },
    );
  }

  const storedPageSize = buffer.readUInt16BE(16);
  const pageSize = storedPageSize === 1 ? 65536 : storedPageSize;
  if (!isValidPageSize(pageSize)) {
    throw new DrError(
      'DR_CORRUPT',
      `${path} has an invalid page size ${storedPageSize} in its header`,
      'The header is damaged; restore from another backup.',
      { path },
    );
  }

  const fileChangeCounter = buffer.readUInt32BE(24);
  const pageCount = buffer.readUInt32BE(28);
  const versionValidFor = buffer.readUInt32BE(92);
  return {
    pageSize,
    writeVersion: buffer.readUInt8(18),
    readVersion: buffer.readUInt8(19),
    fileChangeCounter,
    pageCount,
    schemaCookie: buffer.readUInt32BE(40),
    versionValidFor,
    pageCountValid: pageCount > 0 && versionValidFor === fileChangeCounter,
  };
}

/**
 * Parses the 32-byte header of a WAL file.
 *
 * @throws DrError `DR_TRUNCATED` for fewer than 32 bytes, `DR_CORRUPT` for a wrong magic
 *   number, format version or page size.
 */
export function parseWalHeader(buffer: Buffer, path = 'WAL file'): WalHeader {
  if (buffer.length < WAL_HEADER_LENGTH) {
    throw new DrError(
      'DR_TRUNCATED',
      `${path} is truncated: ${buffer.length} bytes, shorter than the 32-byte WAL header`,
      truncatedHint,
      { path, size: buffer.length },
    );
  }
  const magic = buffer.readUInt32BE(0);
  if (magic !== WAL_MAGIC_LITTLE_ENDIAN && magic !== WAL_MAGIC_BIG_ENDIAN) {
    throw new DrError(
      'DR_CORRUPT',
      `${path} is not a SQLite WAL file: magic number 0x${magic.toString(16)}`,
      'Check that the -wal file belongs to the database, or leave it out when it is empty.',
      { path },
    );
  }
  const version = buffer.readUInt32BE(4);
  const pageSize = buffer.readUInt32BE(8);
  if (version !== WAL_FORMAT_VERSION || !isValidPageSize(pageSize)) {
    throw new DrError(
      'DR_CORRUPT',
      `${path} has an unsupported WAL format version ${version} or page size ${pageSize}`,
      'The WAL header is damaged; take the backup again.',
      { path },
    );
  }
  return {
    bigEndianChecksums: magic === WAL_MAGIC_BIG_ENDIAN,
    pageSize,
    checkpointSequence: buffer.readUInt32BE(12),
    salt1: buffer.readUInt32BE(16),
    salt2: buffer.readUInt32BE(20),
  };
}

/**
 * Sizes and headers of a live database and its WAL, read by copy-validate before and
 * after a copy. Two equal states around the copy mean nothing was written or checkpointed
 * in between.
 */
export interface LiveDatabaseState {
  databaseSize: number;
  database: DatabaseHeader;
  /** WAL size in bytes; 0 when there is no WAL file. */
  walSize: number;
  /** WAL header; undefined when the WAL is missing or shorter than its header. */
  wal: WalHeader | undefined;
}

/**
 * Lists the fields that differ between two reads of a live database, empty when none
 * did. The change counter catches rollback-journal commits. The WAL size, salts and
 * checkpoint sequence catch WAL commits and resets. The sizes catch checkpoints that grow
 * or shrink the database file.
 */
export function diffLiveDatabaseState(
  before: LiveDatabaseState,
  after: LiveDatabaseState,
): string[] {
  const changes: string[] = [];
  const compare = (name: string, a: unknown, b: unknown) => {
    if (a !== b) {
      changes.push(`${name} ${String(a)} -> ${String(b)}`);
    }
  };
  compare('database size', before.databaseSize, after.databaseSize);
  compare(
    'file change counter',
    before.database.fileChangeCounter,
    after.database.fileChangeCounter,
  );
  compare('page count', before.database.pageCount, after.database.pageCount);
  compare('WAL size', before.walSize, after.walSize);
  compare('WAL salt-1', before.wal?.salt1, after.wal?.salt1);
  compare('WAL salt-2', before.wal?.salt2, after.wal?.salt2);
  compare('WAL checkpoint sequence', before.wal?.checkpointSequence, after.wal?.checkpointSequence);
  return changes;
}

function isValidPageSize(size: number): boolean {
  return size >= 512 && size <= 65536 && (size & (size - 1)) === 0;
}

const emptyHint =
  'A zero-byte file is not a database; check the path, or take the backup again if the copy was cut short.';

const truncatedHint =
  'The file was cut short (an interrupted copy or a full disk); take the backup again or use another backup.';

/**
 * Reads and parses the header of a database file on this host.
 *
 * @throws DrError as {@link parseDatabaseHeader}, or `DR_FILE_NOT_FOUND`.
 */
export async function readDatabaseHeaderFile(path: string): Promise<DatabaseHeader> {
  const handle = await open(path, 'r').catch((error: unknown) => {
    throw fileSystemError(error, 'open', path);
  });
  try {
    const buffer = Buffer.alloc(DATABASE_HEADER_LENGTH);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return parseDatabaseHeader(buffer.subarray(0, bytesRead), path);
  } finally {
    await handle.close();
  }
}
