import type { BackupRecord } from './catalog.js';
import { DrError } from './errors.js';

/** How long and how many backups to keep. */
export interface RetentionPolicy {
  /** Keep every backup younger than this many days. @default 30 */
  keepDays?: number;
  /** Keep this many newest verified backups whatever their age. @default 7 */
  keepLast?: number;
}

/** A backup that a prune removes, and why. */
export interface PruneCandidate {
  backup: BackupRecord;
  reason: string;
}

/** Plan of a prune: the backups it keeps and those it removes. */
export interface RetentionPlan {
  keepDays: number;
  keepLast: number;
  keep: BackupRecord[];
  remove: PruneCandidate[];
}

/** @default 30, as the cron job this replaces deleted files older than 30 days. */
export const DEFAULT_KEEP_DAYS = 30;

/** @default 7 */
export const DEFAULT_KEEP_LAST = 7;

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Decides which backups a prune removes. A backup stays when it is younger than
 * `keepDays`, or among the `keepLast` newest verified backups, or is the newest verified
 * backup (kept even with `keepLast` 0). Everything else goes, failed backups included.
 *
 * @throws DrError `DR_INVALID_INPUT` for a negative or non-integer policy value.
 */
export function planRetention(
  backups: readonly BackupRecord[],
  policy: RetentionPolicy = {},
  now: Date = new Date(),
): RetentionPlan {
  const keepDays = checkCount('keepDays', policy.keepDays ?? DEFAULT_KEEP_DAYS);
  const keepLast = checkCount('keepLast', policy.keepLast ?? DEFAULT_KEEP_LAST);
  const cutoff = now.getTime() - keepDays * DAY_MS;

  const newestFirst = [...backups].sort(
    (a, b) => b.finishedAt.localeCompare(a.finishedAt) || b.id - a.id,
  );
  const verified = newestFirst.filter((backup) => backup.status === 'verified');
  const protectedIds = new Set(verified.slice(0, Math.max(keepLast, 1)).map((b) => b.id));

  const keep: BackupRecord[] = [];
  const remove: PruneCandidate[] = [];
  for (const backup of newestFirst) {
    const finished = Date.parse(backup.finishedAt);
    if (finished >= cutoff || protectedIds.has(backup.id)) {
      keep.push(backup);
      continue;
    }
    const ageDays = Math.floor((now.getTime() - finished) / DAY_MS);
    remove.push({
      backup,
      reason:
        backup.status === 'verified'
          ? `${ageDays} days old, older than keep-days ${keepDays} and not among the newest ${keepLast} verified`
          : `${ageDays} days old, older than keep-days ${keepDays}, last check failed: ${backup.checkResult}`,
    });
  }
  return { keepDays, keepLast, keep, remove };
}

function checkCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new DrError(
      'DR_INVALID_INPUT',
      `invalid ${name} ${String(value)}: expected a whole number, 0 or more`,
      `Pass ${name} as a whole number such as ${name === 'keepDays' ? DEFAULT_KEEP_DAYS : DEFAULT_KEEP_LAST}.`,
      { [name]: value },
    );
  }
  return value;
}
