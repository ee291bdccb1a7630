import type { BackupRecord } from '@flydr/dr-core';

/** The `--json` shape of one backup; documented in docs/cli-json.md. */
export interface BackupJson {
  id: number;
  app: string;
  path: string;
  databasePath: string;
  region: string | null;
  machineId: string | null;
  volumeId: string | null;
  imageRef: string | null;
  strategy: string;
  reason: string;
  startedAt: string;
  finishedAt: string;
  size: number;
  sha256: string;
  status: 'verified' | 'failed';
  check: string;
  checkResult: string;
  verifiedAt: string;
  journalMode: string;
  tableCount: number;
  pageCount: number;
  pageSize: number;
}

/** Converts a catalog record to its stable `--json` shape. */
export function backupJson(record: BackupRecord): BackupJson {
  return {
    id: record.id,
    app: record.app,
    path: record.path,
    databasePath: record.databasePath,
    region: record.region,
    machineId: record.machineId,
    volumeId: record.volumeId,
    imageRef: record.imageRef,
    strategy: record.strategy,
    reason: record.reason,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    size: record.size,
    sha256: record.sha256,
    status: record.status,
    check: record.check,
    checkResult: record.checkResult,
    verifiedAt: record.verifiedAt,
    journalMode: record.sourceJournalMode,
    tableCount: record.description.tableCount,
    pageCount: record.description.pageCount,
    pageSize: record.description.pageSize,
  };
}

/** Parses a backup id given on the command line. @returns undefined when it is not a positive integer. */
export function parseBackupId(value: unknown): number | undefined {
  const text = String(value);
  return /^[1-9][0-9]{0,15}$/.test(text) ? Number(text) : undefined;
}
