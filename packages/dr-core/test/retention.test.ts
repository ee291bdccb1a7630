import { describe, expect, it } from 'vitest';
import type { BackupRecord } from '../src/catalog.js';
import { isDrError } from '../src/errors.js';
import { planRetention } from '../src/retention.js';

const NOW = new Date('2026-06-30T12:00:00.000Z');
const DAY = 24 * 60 * 60 * 1000;

function backup(
  id: number,
  ageDays: number,
  status: 'verified' | 'failed' = 'verified',
): BackupRecord {
  const finishedAt = new Date(NOW.getTime() - ageDays * DAY).toISOString();
  return {
    id,
    app: 'live-schedule-api',
    fileName: `app.db.backup.${id}`,
    path: `/state/app.db.backup.${id}`,
    databasePath: '/app/data/app.db',
    region: 'nrt',
    machineId: 'm1',
    volumeId: 'vol_1',
    imageRef: null,
    strategy: 'sqlite3-backup',
    reason: 'backup',
    startedAt: finishedAt,
    finishedAt,
    size: 4096,
    sha256: 'a'.repeat(64),
    check: 'quick',
    checkResult: status === 'verified' ? 'ok' : 'sha256 differs',
    status,
    verifiedAt: finishedAt,
    description: {
      pageSize: 4096,
      pageCount: 1,
      journalMode: 'delete',
      tableCount: 1,
      schemaHash: 'b'.repeat(64),
      userVersion: 0,
    },
    sourceJournalMode: 'wal',
  };
}

const ids = (list: { id: number }[]) => list.map((b) => b.id).sort((a, b) => a - b);

describe('planRetention', () => {
  it('uses 30 days and 7 backups by default', () => {
    const plan = planRetention([], {}, NOW);
    expect(plan.keepDays).toBe(30);
    expect(plan.keepLast).toBe(7);
  });

  it('keeps everything younger than keep-days', () => {
    const backups = Array.from({ length: 20 }, (_, i) => backup(i + 1, i));
    expect(planRetention(backups, { keepLast: 1 }, NOW).remove).toEqual([]);
  });

  it('removes old backups beyond keep-last', () => {
    const backups = Array.from({ length: 10 }, (_, i) => backup(i + 1, 40 + i));
    const plan = planRetention(backups, { keepDays: 30, keepLast: 3 }, NOW);
    expect(ids(plan.keep)).toEqual([1, 2, 3]);
    expect(ids(plan.remove.map((c) => c.backup))).toEqual([4, 5, 6, 7, 8, 9, 10]);
  });

  it('never removes the newest verified backup', () => {
    const backups = [backup(1, 100), backup(2, 50, 'failed'), backup(3, 40, 'failed')];
    const plan = planRetention(backups, { keepDays: 1, keepLast: 0 }, NOW);
    expect(ids(plan.keep)).toEqual([1]);
  });

  it('does not count failed backups in keep-last', () => {
    const backups = [backup(1, 60), backup(2, 50, 'failed'), backup(3, 45, 'failed')];
    const plan = planRetention(backups, { keepDays: 30, keepLast: 1 }, NOW);
    expect(ids(plan.remove.map((c) => c.backup))).toEqual([2, 3]);
  });

  it('gives a reason for each removal', () => {
    const plan = planRetention([backup(1, 5), backup(2, 45)], { keepDays: 30, keepLast: 1 }, NOW);
    expect(plan.remove[0]?.reason).toContain('older than keep-days 30');
  });

  it('rejects a negative keep-days', () => {
    let code: string | undefined;
    try {
      planRetention([], { keepDays: -1 }, NOW);
    } catch (error) {
      code = isDrError(error) ? error.code : undefined;
    }
    expect(code).toBe('DR_INVALID_INPUT');
  });

  it('rejects a fractional keep-last', () => {
    expect(() => planRetention([], { keepLast: 1.5 }, NOW)).toThrow(/keepLast/);
  });
});
