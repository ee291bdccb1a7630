import { copyFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { isDrError } from '../src/errors.js';
import {
  diffLiveDatabaseState,
  type LiveDatabaseState,
  parseDatabaseHeader,
  parseWalHeader,
} from '../src/sqlite-header.js';
import { chinookFixture, insertEvents, openWalDatabase, tempDir } from './helpers.js';

function liveState(path: string): LiveDatabaseState {
  const walPath = `${path}-wal`;
  const walBytes = readFileSync(walPath);
  return {
    databaseSize: statSync(path).size,
    database: parseDatabaseHeader(readFileSync(path).subarray(0, 100)),
    walSize: walBytes.length,
    wal: walBytes.length >= 32 ? parseWalHeader(walBytes.subarray(0, 32)) : undefined,
  };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isDrError(error) ? error.code : `not a DrError: ${String(error)}`;
  }
  return undefined;
}

describe('parseDatabaseHeader', () => {
  it('reads the Chinook header', () => {
    const header = parseDatabaseHeader(readFileSync(chinookFixture).subarray(0, 100));
    expect(header.pageSize).toBe(4096);
    expect(header.pageCount).toBe(246);
    expect(header.pageCountValid).toBe(true);
    expect(header.writeVersion).toBe(1);
    expect(header.fileChangeCounter).toBe(46);
  });

  it('reads page size 65536 stored as 1', () => {
    const buffer = Buffer.from(readFileSync(chinookFixture).subarray(0, 100));
    buffer.writeUInt16BE(1, 16);
    expect(parseDatabaseHeader(buffer).pageSize).toBe(65536);
  });

  it('rejects an empty buffer', () => {
    expect(codeOf(() => parseDatabaseHeader(Buffer.alloc(0)))).toBe('DR_EMPTY_FILE');
  });

  it('rejects text that is not SQLite', () => {
    expect(codeOf(() => parseDatabaseHeader(Buffer.from('id,name\n1,a\n')))).toBe('DR_NOT_SQLITE');
  });

  it('rejects a header cut short', () => {
    const head = readFileSync(chinookFixture).subarray(0, 60);
    expect(codeOf(() => parseDatabaseHeader(head))).toBe('DR_TRUNCATED');
  });

  it('rejects an invalid page size', () => {
    const buffer = Buffer.from(readFileSync(chinookFixture).subarray(0, 100));
    buffer.writeUInt16BE(1000, 16);
    expect(codeOf(() => parseDatabaseHeader(buffer))).toBe('DR_CORRUPT');
  });
});

describe('parseWalHeader', () => {
  it('reads salts and page size of a live WAL', () => {
    const path = join(tempDir(), 'app.db');
    const db = openWalDatabase(path);
    insertEvents(db, 3);
    const wal = parseWalHeader(readFileSync(`${path}-wal`).subarray(0, 32));
    db.close();
    expect(wal.pageSize).toBe(4096);
    expect(wal.salt1 !== 0 || wal.salt2 !== 0).toBe(true);
  });

  it('rejects a file that is not a WAL', () => {
    expect(codeOf(() => parseWalHeader(readFileSync(chinookFixture).subarray(0, 32)))).toBe(
      'DR_CORRUPT',
    );
  });

  it('rejects a WAL header cut short', () => {
    expect(codeOf(() => parseWalHeader(Buffer.alloc(10)))).toBe('DR_TRUNCATED');
  });
});

describe('diffLiveDatabaseState', () => {
  it('is empty when nothing was written', () => {
    const path = join(tempDir(), 'app.db');
    const db = openWalDatabase(path);
    insertEvents(db, 2);
    const before = liveState(path);
    const after = liveState(path);
    db.close();
    expect(diffLiveDatabaseState(before, after)).toEqual([]);
  });

  it('names the WAL size after a commit', () => {
    const path = join(tempDir(), 'app.db');
    const db = openWalDatabase(path);
    insertEvents(db, 2);
    const before = liveState(path);
    insertEvents(db, 1);
    const after = liveState(path);
    db.close();
    expect(diffLiveDatabaseState(before, after).join('; ')).toContain('WAL size');
  });

  it('names the salts after a WAL reset', () => {
    const path = join(tempDir(), 'app.db');
    const db = openWalDatabase(path);
    insertEvents(db, 5);
    const before = liveState(path);
    db.pragma('wal_checkpoint(RESTART)');
    insertEvents(db, 5);
    const after = liveState(path);
    db.close();
    expect(diffLiveDatabaseState(before, after).join('; ')).toContain('WAL salt-1');
  });

  it('names the change counter of a rollback-journal commit', () => {
    const dir = tempDir();
    const path = join(dir, 'chinook.sqlite');
    copyFileSync(chinookFixture, path);
    const read = (): LiveDatabaseState => ({
      databaseSize: statSync(path).size,
      database: parseDatabaseHeader(readFileSync(path).subarray(0, 100)),
      walSize: 0,
      wal: undefined,
    });
    const before = read();
    // A plain connection: Chinook stays in rollback-journal mode.
    const db = new Database(path);
    db.exec("UPDATE Artist SET Name = Name || '!' WHERE ArtistId = 1");
    db.close();
    expect(diffLiveDatabaseState(before, read()).join('; ')).toContain('file change counter');
  });
});
