import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeEach, describe, expect, it } from 'vitest';
import { compareDatabases } from '../src/divergence.js';

const chinook = new URL('../../../test/fixtures/chinook.sqlite', import.meta.url).pathname;

let dir: string;
let first: string;
let second: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flydr-diverge-'));
  first = join(dir, 'first.db');
  second = join(dir, 'second.db');
  await copyFile(chinook, first);
  await copyFile(chinook, second);
});

function change(path: string, sql: string): void {
  const db = new Database(path);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

describe('compareDatabases', () => {
  it('reports copies as identical', () => {
    const report = compareDatabases(first, second);
    expect(report.identical).toBe(true);
    expect(report.tables).toEqual([]);
  });

  it('counts rows only on each side and changed rows', () => {
    change(
      first,
      "INSERT INTO Genre (GenreId, Name) VALUES (1001, 'Enka'); UPDATE Genre SET Name = 'Rock & Roll' WHERE GenreId = 1;",
    );
    change(
      second,
      "INSERT INTO Genre (GenreId, Name) VALUES (2001, 'City Pop'); INSERT INTO Genre (GenreId, Name) VALUES (2002, 'Kayōkyoku');",
    );

    const report = compareDatabases(first, second);
    expect(report.identical).toBe(false);
    expect(report.tables).toHaveLength(1);

    const genre = report.tables[0];
    expect(genre?.table).toBe('Genre');
    expect(genre?.onlyInFirst).toBe(1);
    expect(genre?.onlyInSecond).toBe(2);
    expect(genre?.changed).toBe(1);
    expect(genre?.key).toEqual(['rowid']);
    expect(genre?.sample.onlyInFirst).toEqual([{ rowid: 1001, GenreId: 1001, Name: 'Enka' }]);
    expect(genre?.sample.onlyInSecond.map((row) => row.Name)).toEqual(['City Pop', 'Kayōkyoku']);
    expect(genre?.sample.changed).toEqual([
      {
        first: { rowid: 1, GenreId: 1, Name: 'Rock & Roll' },
        second: { rowid: 1, GenreId: 1, Name: 'Rock' },
      },
    ]);
  });

  it('sees a deleted row as only on the other side', () => {
    change(first, 'DELETE FROM InvoiceLine WHERE InvoiceLineId = 5;');
    const line = compareDatabases(first, second).tables.find(
      (table) => table.table === 'InvoiceLine',
    );
    expect(line?.onlyInFirst).toBe(0);
    expect(line?.onlyInSecond).toBe(1);
    expect(line?.sample.onlyInSecond[0]?.InvoiceLineId).toBe(5);
  });

  it('matches WITHOUT ROWID tables on their primary key', () => {
    const create =
      'CREATE TABLE seat (venue TEXT, number INTEGER, holder TEXT, PRIMARY KEY (venue, number)) WITHOUT ROWID;';
    change(first, `${create} INSERT INTO seat VALUES ('budokan', 1, 'a'), ('budokan', 2, 'b');`);
    change(
      second,
      `${create} INSERT INTO seat VALUES ('budokan', 1, 'a'), ('budokan', 2, 'c'), ('zepp', 9, 'd');`,
    );

    const seat = compareDatabases(first, second).tables.find((table) => table.table === 'seat');
    expect(seat?.key).toEqual(['venue', 'number']);
    expect(seat?.onlyInFirst).toBe(0);
    expect(seat?.onlyInSecond).toBe(1);
    expect(seat?.changed).toBe(1);
    expect(seat?.sample.changed[0]?.second).toEqual({ venue: 'budokan', number: 2, holder: 'c' });
  });

  it('lists tables and columns present on one side', () => {
    change(first, 'CREATE TABLE audit (id INTEGER PRIMARY KEY, note TEXT);');
    change(second, 'ALTER TABLE Artist ADD COLUMN Country TEXT;');

    const report = compareDatabases(first, second);
    expect(report.tablesOnlyInFirst).toEqual(['audit']);
    expect(report.tablesOnlyInSecond).toEqual([]);
    const artist = report.tables.find((table) => table.table === 'Artist');
    expect(artist?.columnsOnlyInSecond).toEqual(['Country']);
    expect(artist?.changed).toBe(0);
  });

  it('prints BLOB values as shortened hex', () => {
    const create = 'CREATE TABLE photo (id INTEGER PRIMARY KEY, data BLOB);';
    change(first, `${create} INSERT INTO photo VALUES (1, zeroblob(40));`);
    change(second, create);

    const photo = compareDatabases(first, second).tables.find((table) => table.table === 'photo');
    expect(photo?.sample.onlyInFirst[0]?.data).toBe(`x'${'00'.repeat(32)}'… (40 bytes)`);
  });

  it('leaves both files unchanged', () => {
    change(first, "INSERT INTO Genre (Name) VALUES ('Enka');");
    const before = new Database(second, { readonly: true });
    const countBefore = before.prepare('SELECT count(*) AS n FROM Genre').get();
    before.close();

    compareDatabases(first, second);

    const after = new Database(second, { readonly: true });
    expect(after.prepare('SELECT count(*) AS n FROM Genre').get()).toEqual(countBefore);
    after.close();
  });

  it('rejects a file that is not SQLite', async () => {
    const text = join(dir, 'notes.txt');
    await writeFile(text, 'this is not a database, just some notes\n'.repeat(10));
    expect(() => compareDatabases(first, text)).toThrow(
      expect.objectContaining({ code: 'DR_NOT_SQLITE', path: text }),
    );
  });

  it('rejects a missing file', () => {
    const missing = join(dir, 'missing.db');
    expect(() => compareDatabases(missing, second)).toThrow(
      expect.objectContaining({ code: 'DR_FILE_NOT_FOUND' }),
    );
  });
});
