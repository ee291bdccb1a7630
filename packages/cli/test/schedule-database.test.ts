import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createScheduleDatabase, demoScheduleSize } from '../src/demo/schedule-database.js';
import { testDir } from './helpers/temp-dirs.js';

function contentHash(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    const hash = createHash('sha256');
    for (const table of ['venues', 'performers', 'events', 'event_performers']) {
      for (const row of db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2`).all())
        hash.update(JSON.stringify(row));
    }
    return hash.digest('hex');
  } finally {
    db.close();
  }
}

describe('createScheduleDatabase', () => {
  it('writes a few thousand rows in WAL mode', async () => {
    const path = join(testDir('flydr-demo-db-'), 'app.db');
    createScheduleDatabase(path);

    const db = new Database(path, { readonly: true });
    const count = (table: string) =>
      (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    expect(count('venues')).toBe(demoScheduleSize.venues);
    expect(count('performers')).toBe(demoScheduleSize.performers);
    expect(count('events')).toBe(demoScheduleSize.events);
    expect(count('event_performers')).toBeGreaterThan(demoScheduleSize.events);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_key_check')).toEqual([]);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  });

  it('gives the same rows for the same seed', async () => {
    const dir = testDir('flydr-demo-db-');
    createScheduleDatabase(join(dir, 'a.db'), { venues: 3, performers: 10, events: 20 }, 7);
    createScheduleDatabase(join(dir, 'b.db'), { venues: 3, performers: 10, events: 20 }, 7);
    createScheduleDatabase(join(dir, 'c.db'), { venues: 3, performers: 10, events: 20 }, 8);
    expect(contentHash(join(dir, 'a.db'))).toBe(contentHash(join(dir, 'b.db')));
    expect(contentHash(join(dir, 'a.db'))).not.toBe(contentHash(join(dir, 'c.db')));
  });
});
