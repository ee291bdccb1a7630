import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

const chinookPath = new URL('./fixtures/chinook.sqlite', import.meta.url);

describe('chinook fixture', () => {
  it('matches the recorded sha256', () => {
    const digest = createHash('sha256').update(readFileSync(chinookPath)).digest('hex');
    expect(digest).toBe('7651ba378ac2fcd0dfc3c66fb101f7a7eed3ba39a612ec642b96e20702061f15');
  });

  it('opens read-only with its eleven tables', () => {
    const db = new Database(chinookPath.pathname, { readonly: true, fileMustExist: true });
    try {
      const tables = db
        .prepare(
          "SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .get() as { n: number };
      expect(tables.n).toBe(11);
      expect(db.pragma('quick_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  });
});
