import type Database from 'better-sqlite3';

/** SQL that creates the tables of {@link PrimaryRecords}; part of the catalog's migrations. */
export const PRIMARY_RECORDS_SCHEMA = `
  CREATE TABLE primary_records (
    app TEXT NOT NULL,
    generation INTEGER NOT NULL,
    region TEXT NOT NULL,
    machine_id TEXT NOT NULL,
    volume_id TEXT,
    sha256 TEXT NOT NULL,
    operation_id TEXT,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (app, generation)
  );
  CREATE TABLE database_marks (
    app TEXT NOT NULL,
    machine_id TEXT NOT NULL,
    volume_id TEXT,
    sha256 TEXT NOT NULL,
    backup_id INTEGER,
    reason TEXT NOT NULL,
    operation_id TEXT,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (app, machine_id)
  );
`;

/** The machine that serves writes after a failover or failback, as flydr recorded it. */
export interface PrimaryRecord {
  app: string;
  /** Starts at 1 and grows by one with every failover or failback. */
  generation: number;
  region: string;
  machineId: string;
  volumeId: string | null;
  /** sha256 of the database as it was restored onto the machine. */
  sha256: string;
  /** Operation that made this machine the primary; null when recorded by hand. */
  operationId: string | null;
  recordedAt: string;
}

/**
 * Record of the database content flydr last left on a machine's volume, as a sha256 and a
 * catalogued backup with that content. It is written when flydr fences a machine or
 * restores onto it, and the divergence check compares the volume's database with it.
 */
export interface DatabaseMark {
  app: string;
  machineId: string;
  volumeId: string | null;
  sha256: string;
  /** Catalogued backup with the same content, for a row-level comparison. */
  backupId: number | null;
  /** Why the mark was written: `fenced`, `restored`. */
  reason: string;
  operationId: string | null;
  recordedAt: string;
}

interface PrimaryRow {
  app: string;
  generation: number;
  region: string;
  machine_id: string;
  volume_id: string | null;
  sha256: string;
  operation_id: string | null;
  recorded_at: string;
}

interface MarkRow {
  app: string;
  machine_id: string;
  volume_id: string | null;
  sha256: string;
  backup_id: number | null;
  reason: string;
  operation_id: string | null;
  recorded_at: string;
}

/** Primary records and database marks, stored in the catalog database. */
export class PrimaryRecords {
  constructor(private readonly db: Database.Database) {}

  /** Returns the newest primary record of an app, or undefined before the first failover. */
  current(app: string): PrimaryRecord | undefined {
    const row = this.db
      .prepare('SELECT * FROM primary_records WHERE app = ? ORDER BY generation DESC LIMIT 1')
      .get(app) as PrimaryRow | undefined;
    return row === undefined ? undefined : toPrimary(row);
  }

  /** Lists the primary records of an app, newest first. */
  history(app: string): PrimaryRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM primary_records WHERE app = ? ORDER BY generation DESC')
      .all(app) as PrimaryRow[];
    return rows.map(toPrimary);
  }

  /** Inserts a primary record, replacing one with the same generation (a resumed step). */
  record(primary: PrimaryRecord): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO primary_records
         (app, generation, region, machine_id, volume_id, sha256, operation_id, recorded_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        primary.app,
        primary.generation,
        primary.region,
        primary.machineId,
        primary.volumeId,
        primary.sha256,
        primary.operationId,
        primary.recordedAt,
      );
  }

  /** Deletes the primary records an operation wrote (its rollback). */
  deleteForOperation(app: string, operationId: string): void {
    this.db
      .prepare('DELETE FROM primary_records WHERE app = ? AND operation_id = ?')
      .run(app, operationId);
  }

  /** Returns the mark of a machine, or undefined when flydr never left a database on it. */
  mark(app: string, machineId: string): DatabaseMark | undefined {
    const row = this.db
      .prepare('SELECT * FROM database_marks WHERE app = ? AND machine_id = ?')
      .get(app, machineId) as MarkRow | undefined;
    return row === undefined ? undefined : toMark(row);
  }

  /** Stores the mark of a machine, replacing the previous one. */
  setMark(mark: DatabaseMark): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO database_marks
         (app, machine_id, volume_id, sha256, backup_id, reason, operation_id, recorded_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        mark.app,
        mark.machineId,
        mark.volumeId,
        mark.sha256,
        mark.backupId,
        mark.reason,
        mark.operationId,
        mark.recordedAt,
      );
  }
}

function toPrimary(row: PrimaryRow): PrimaryRecord {
  return {
    app: row.app,
    generation: row.generation,
    region: row.region,
    machineId: row.machine_id,
    volumeId: row.volume_id,
    sha256: row.sha256,
    operationId: row.operation_id,
    recordedAt: row.recorded_at,
  };
}

function toMark(row: MarkRow): DatabaseMark {
  return {
    app: row.app,
    machineId: row.machine_id,
    volumeId: row.volume_id,
    sha256: row.sha256,
    backupId: row.backup_id,
    reason: row.reason,
    operationId: row.operation_id,
    recordedAt: row.recorded_at,
  };
}
