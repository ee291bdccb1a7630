import { chmod, open } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CATALOG_MIGRATIONS, CATALOG_VERSION } from './catalog-schema.js';
import { DrError, messageOf } from './errors.js';
import type { CheckKind, DatabaseDescription } from './verify.js';

/** Name of the catalog database in the state directory. */
export const CATALOG_FILE_NAME = 'catalog.sqlite';

/** Method that took a backup's snapshot. */
export type SnapshotStrategy = 'sqlite3-backup' | 'copy-validate' | 'local-file';

/** Reason a backup was taken. */
export type BackupReason = 'backup' | 'pre-restore' | 'failover' | 'sync';

/** One catalogued backup. */
export interface BackupRecord {
  id: number;
  app: string;
  /** File name in the state directory, `app.db.backup.<UTC timestamp>`. */
  fileName: string;
  /** Absolute path of the backup file. */
  path: string;
  /** Path of the database that was backed up (on the machine, or local). */
  databasePath: string;
  region: string | null;
  machineId: string | null;
  volumeId: string | null;
  imageRef: string | null;
  strategy: SnapshotStrategy;
  reason: BackupReason;
  /** ISO 8601 UTC times. */
  startedAt: string;
  finishedAt: string;
  size: number;
  sha256: string;
  /** Check of the latest verification. */
  check: CheckKind;
  /** `ok`, or what the latest verification found. */
  checkResult: string;
  /** `verified` while the latest verification passed. */
  status: 'verified' | 'failed';
  verifiedAt: string;
  description: DatabaseDescription;
  /** Journal mode of the source database, restored on the way back. */
  sourceJournalMode: 'wal' | 'delete';
}

/** A new catalog row: everything but the id and the absolute path. */
export type NewBackupRecord = Omit<BackupRecord, 'id' | 'path'>;

/** Result of one (re)verification, kept as history. */
export interface CheckRecord {
  backupId: number;
  checkedAt: string;
  check: CheckKind;
  result: string;
  ok: boolean;
}

interface BackupRow {
  id: number;
  app: string;
  file_name: string;
  database_path: string;
  region: string | null;
  machine_id: string | null;
  volume_id: string | null;
  image_ref: string | null;
  strategy: string;
  reason: string;
  started_at: string;
  finished_at: string;
  size_bytes: number;
  sha256: string;
  check_kind: string;
  check_result: string;
  status: string;
  verified_at: string;
  page_size: number;
  page_count: number;
  journal_mode: string;
  source_journal_mode: string;
  table_count: number;
  schema_hash: string;
  user_version: number;
}

/**
 * The backup catalog: a SQLite database in the state directory (WAL mode,
 * `synchronous = FULL`, file mode 0600). A row is written only after its backup file is
 * durable under its final name.
 */
export class Catalog {
  readonly path: string;
  readonly stateDir: string;
  private readonly db: Database.Database;

  private constructor(stateDir: string, db: Database.Database) {
    this.stateDir = stateDir;
    this.path = join(stateDir, CATALOG_FILE_NAME);
    this.db = db;
  }

  /**
   * Opens (creating when needed) the catalog in `stateDir` and migrates it to the current
   * schema version.
   *
   * @throws DrError `DR_CATALOG` when the file is not a catalog, or a newer flydr wrote it.
   */
  static async open(stateDir: string): Promise<Catalog> {
    const path = join(stateDir, CATALOG_FILE_NAME);
    let db: Database.Database;
    try {
      // SQLite gives the -wal and -shm the database file's mode, so the file is created
      // 0600 before SQLite opens it.
      await (await open(path, 'a', 0o600)).close();
      await chmod(path, 0o600);
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      migrate(db, path);
    } catch (error) {
      if (error instanceof DrError) {
        throw error;
      }
      throw new DrError(
        'DR_CATALOG',
        `cannot open the backup catalog ${path}: ${messageOf(error)}`,
        'Move the file away to start a new catalog; the backup files beside it stay valid.',
        { path, cause: error },
      );
    }
    return new Catalog(stateDir, db);
  }

  /** Inserts a backup row and returns it with its id. */
  insertBackup(record: NewBackupRecord): BackupRecord {
    const d = record.description;
    const info = this.db
      .prepare(
        `INSERT INTO backups (app, file_name, database_path, region, machine_id, volume_id, image_ref,
          strategy, reason, started_at, finished_at, size_bytes, sha256, check_kind, check_result,
          status, verified_at, page_size, page_count, journal_mode, source_journal_mode, table_count,
          schema_hash, user_version)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        record.app,
        record.fileName,
        record.databasePath,
        record.region,
        record.machineId,
        record.volumeId,
        record.imageRef,
        record.strategy,
        record.reason,
        record.startedAt,
        record.finishedAt,
        record.size,
        record.sha256,
        record.check,
        record.checkResult,
        record.status,
        record.verifiedAt,
        d.pageSize,
        d.pageCount,
        d.journalMode,
        record.sourceJournalMode,
        d.tableCount,
        d.schemaHash,
        d.userVersion,
      );
    const id = Number(info.lastInsertRowid);
    this.recordCheck({
      backupId: id,
      checkedAt: record.verifiedAt,
      check: record.check,
      result: record.checkResult,
      ok: record.status === 'verified',
    });
    return { ...record, id, path: join(this.stateDir, record.fileName) };
  }

  /** Lists backups, newest first. */
  listBackups(): BackupRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM backups ORDER BY finished_at DESC, id DESC')
      .all() as BackupRow[];
    return rows.map((row) => this.fromRow(row));
  }

  /** Returns one backup, or undefined when the id is unknown. */
  getBackup(id: number): BackupRecord | undefined {
    const row = this.db.prepare('SELECT * FROM backups WHERE id = ?').get(id) as
      | BackupRow
      | undefined;
    return row === undefined ? undefined : this.fromRow(row);
  }

  /** Returns the newest backup whose latest verification passed. */
  latestVerified(): BackupRecord | undefined {
    const row = this.db
      .prepare(
        "SELECT * FROM backups WHERE status = 'verified' ORDER BY finished_at DESC, id DESC LIMIT 1",
      )
      .get() as BackupRow | undefined;
    return row === undefined ? undefined : this.fromRow(row);
  }

  /** Stores the outcome of a re-verification and keeps it in the check history. */
  updateCheck(check: CheckRecord): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          'UPDATE backups SET check_kind = ?, check_result = ?, status = ?, verified_at = ? WHERE id = ?',
        )
        .run(
          check.check,
          check.result,
          check.ok ? 'verified' : 'failed',
          check.checkedAt,
          check.backupId,
        );
      this.recordCheck(check);
    })();
  }

  /** Lists the verification history of a backup, oldest first. */
  listChecks(backupId: number): CheckRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM backup_checks WHERE backup_id = ? ORDER BY id')
      .all(backupId) as {
      backup_id: number;
      checked_at: string;
      check_kind: string;
      result: string;
      ok: number;
    }[];
    return rows.map((row) => ({
      backupId: row.backup_id,
      checkedAt: row.checked_at,
      check: row.check_kind as CheckKind,
      result: row.result,
      ok: row.ok === 1,
    }));
  }

  /** Deletes a backup row and its check history. The caller removes the file afterwards. */
  deleteBackup(id: number): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM backup_checks WHERE backup_id = ?').run(id);
      this.db.prepare('DELETE FROM backups WHERE id = ?').run(id);
    })();
  }

  /** Returns the file names of every catalogued backup. */
  fileNames(): Set<string> {
    const rows = this.db.prepare('SELECT file_name FROM backups').all() as { file_name: string }[];
    return new Set(rows.map((row) => row.file_name));
  }

  /**
   * The catalog's open database handle, for stores that keep their tables in the catalog
   * (the operation journal, the primary records). Closing it closes the catalog.
   */
  get database(): Database.Database {
    return this.db;
  }

  /** Returns the schema version stored in the catalog. */
  schemaVersion(): number {
    return Number(this.db.pragma('user_version', { simple: true }));
  }

  /** Closes the catalog database. */
  close(): void {
    this.db.close();
  }

  private recordCheck(check: CheckRecord): void {
    this.db
      .prepare(
        'INSERT INTO backup_checks (backup_id, checked_at, check_kind, result, ok) VALUES (?, ?, ?, ?, ?)',
      )
      .run(check.backupId, check.checkedAt, check.check, check.result, check.ok ? 1 : 0);
  }

  private fromRow(row: BackupRow): BackupRecord {
    return {
      id: row.id,
      app: row.app,
      fileName: row.file_name,
      path: join(this.stateDir, row.file_name),
      databasePath: row.database_path,
      region: row.region,
      machineId: row.machine_id,
      volumeId: row.volume_id,
      imageRef: row.image_ref,
      strategy: row.strategy as SnapshotStrategy,
      reason: row.reason as BackupReason,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      size: row.size_bytes,
      sha256: row.sha256,
      check: row.check_kind as CheckKind,
      checkResult: row.check_result,
      status: row.status === 'verified' ? 'verified' : 'failed',
      verifiedAt: row.verified_at,
      description: {
        pageSize: row.page_size,
        pageCount: row.page_count,
        journalMode: row.journal_mode,
        tableCount: row.table_count,
        schemaHash: row.schema_hash,
        userVersion: row.user_version,
      },
      sourceJournalMode: row.source_journal_mode === 'wal' ? 'wal' : 'delete',
    };
  }
}

/** Applies the migrations that the catalog lacks, each in its own transaction. */
function migrate(db: Database.Database, path: string): void {
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version > CATALOG_VERSION) {
    throw new DrError(
      'DR_CATALOG',
      `the backup catalog ${path} has schema version ${version}, newer than this flydr understands (${CATALOG_VERSION})`,
      'Upgrade flydr, or use a separate --state-dir with this version.',
      { path, version },
    );
  }
  for (let next = version; next < CATALOG_VERSION; next += 1) {
    db.transaction(() => {
      db.exec(CATALOG_MIGRATIONS[next] ?? '');
      db.pragma(`user_version = ${next + 1}`);
    })();
  }
}
