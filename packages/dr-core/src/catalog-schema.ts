import { JOURNAL_SCHEMA } from './journal.js';
import { PRIMARY_RECORDS_SCHEMA } from './primary-record.js';

/**
 * Catalog schema migrations. Entry `i` moves a catalog from `PRAGMA user_version` i to
 * i + 1. Append new entries; never edit one that has shipped.
 */
export const CATALOG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE backups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app TEXT NOT NULL,
    file_name TEXT NOT NULL UNIQUE,
    database_path TEXT NOT NULL,
    region TEXT,
    machine_id TEXT,
    volume_id TEXT,
    image_ref TEXT,
    strategy TEXT NOT NULL,
    reason TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    check_kind TEXT NOT NULL,
    check_result TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('verified', 'failed')),
    verified_at TEXT NOT NULL,
    page_size INTEGER NOT NULL,
    page_count INTEGER NOT NULL,
    journal_mode TEXT NOT NULL,
    source_journal_mode TEXT NOT NULL,
    table_count INTEGER NOT NULL,
    schema_hash TEXT NOT NULL,
    user_version INTEGER NOT NULL
  );
  CREATE INDEX backups_app_finished ON backups (app, finished_at);
  CREATE TABLE backup_checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    backup_id INTEGER NOT NULL,
    checked_at TEXT NOT NULL,
    check_kind TEXT NOT NULL,
    result TEXT NOT NULL,
    ok INTEGER NOT NULL
  );
  CREATE INDEX backup_checks_backup ON backup_checks (backup_id);
  `,
  // The operation journal (failover, failback) and the records of primaries and of the
  // database content flydr last left on each machine's volume.
  `${JOURNAL_SCHEMA}\n${PRIMARY_RECORDS_SCHEMA}`,
];

/** Schema version that this build of flydr writes. */
export const CATALOG_VERSION = CATALOG_MIGRATIONS.length;
