import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { utcTimestamp } from './backup-store.js';
import type { BackupRecord, Catalog } from './catalog.js';
import { compareDatabases, type DivergenceReport } from './divergence.js';
import { DrError } from './errors.js';
import type { DrLogger } from './logger.js';
import type { PrimaryRecords } from './primary-record.js';

/** Inputs of the divergence check: the databases it compares and where its report goes. */
export interface DivergenceCheckInput {
  app: string;
  catalog: Catalog;
  records: PrimaryRecords;
  logger: DrLogger;
  /** Machine whose database is about to be overwritten. */
  targetMachineId: string;
  /** Verified copy of the target's current database (the pre-restore backup). */
  current: BackupRecord | undefined;
  /** Backup that would overwrite it. */
  incoming: BackupRecord;
  /** Overwrite anyway, after writing the report. */
  force: boolean;
  now: Date;
}

/** Outcome of a divergence check that did not reject the overwrite. */
export interface DivergenceCheckResult {
  /** True when the target's database changed since flydr recorded it. */
  diverged: boolean;
  /** Path of the JSON difference report, written when it diverged. */
  reportPath?: string;
}

/**
 * Compares the target's current database with what flydr last recorded for that machine
 * (its mark). Unchanged, or already equal to the incoming backup (row by row, after a run
 * killed between its swap and its journal entry): nothing to do. Changed:
 * both sides were written, so a row-level report of current versus incoming goes to a JSON
 * file in the state directory, and the check refuses unless forced. Both copies stay in the
 * catalog either way.
 *
 * NOTE: a target with no mark (flydr never left a database on it) passes: there is nothing
 * to compare with, and its database is kept as the pre-restore backup.
 *
 * @throws DrError `DR_DIVERGED` with `reportPath` in its details.
 */
export async function checkDivergence(input: DivergenceCheckInput): Promise<DivergenceCheckResult> {
  const { current, incoming } = input;
  if (current === undefined || current.sha256 === incoming.sha256) {
    return { diverged: false };
  }
  const mark = input.records.mark(input.app, input.targetMachineId);
  if (mark === undefined || mark.sha256 === current.sha256) {
    return { diverged: false };
  }

  // The bytes differ; the rows may still be the same (a checkpoint or VACUUM moves pages).
  const recorded = mark.backupId === null ? undefined : input.catalog.getBackup(mark.backupId);
  if (recorded !== undefined && existsSync(recorded.path)) {
    if (compareDatabases(recorded.path, current.path).identical) {
      return { diverged: false };
    }
  }

  // A run killed after its swap leaves the incoming rows in place; that is not divergence.
  const report = compareDatabases(current.path, incoming.path);
  if (report.identical) {
    return { diverged: false };
  }
  const reportPath = join(
    input.catalog.stateDir,
    `divergence-${input.targetMachineId}-${utcTimestamp(input.now)}.json`,
  );
  await writeFile(reportPath, `${JSON.stringify(report, jsonSafe, 2)}\n`, { mode: 0o600 });
  input.logger.warn('target database changed since flydr recorded it', {
    app: input.app,
    machine_id: input.targetMachineId,
    current_backup_id: current.id,
    incoming_backup_id: incoming.id,
    report_path: reportPath,
    forced: input.force,
  });
  if (input.force) {
    return { diverged: true, reportPath };
  }
  throw divergedError(input, report, reportPath, mark.recordedAt);
}

function divergedError(
  input: DivergenceCheckInput,
  report: DivergenceReport,
  reportPath: string,
  recordedAt: string,
): DrError {
  const current = input.current as BackupRecord;
  const rows = report.tables
    .map(
      (table) =>
        `${table.table}: ${table.onlyInFirst} only on the target, ${table.onlyInSecond} only in the incoming copy, ${table.changed} changed`,
    )
    .join('; ');
  return new DrError(
    'DR_DIVERGED',
    `the database on machine ${input.targetMachineId} changed since flydr recorded it at ${recordedAt}, and the incoming copy differs too (${rows || 'schemas differ'})`,
    `Both sides were written; nothing was overwritten. Read the report ${reportPath}, merge what you need (the target's copy is backup ${current.id}), then run again with --force (\`force: true\`) to overwrite it.`,
    {
      machineId: input.targetMachineId,
      path: reportPath,
      reportPath,
      backupId: current.id,
      incomingBackupId: input.incoming.id,
    },
  );
}

/** JSON replacer for BigInt values that SQLite integers may produce. */
function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
