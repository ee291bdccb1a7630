export {
  type BackupCheckReport,
  isBackupFileName,
  type SweepResult,
  utcTimestamp,
} from './backup-store.js';
export {
  type BackupReason,
  type BackupRecord,
  CATALOG_FILE_NAME,
  Catalog,
  type CheckRecord,
  type SnapshotStrategy,
} from './catalog.js';
export { CATALOG_VERSION } from './catalog-schema.js';
export {
  type CheckpointedDatabase,
  type CheckpointPairOptions,
  checkpointInPlace,
  checkpointWalPair,
} from './checkpoint.js';
export {
  type BackupFileOptions,
  createDisasterRecovery,
  type DeleteOptions,
  type DisasterRecovery,
  type DisasterRecoveryOptions,
  type PruneOptions,
  type PruneResult,
  type RestoreToFileOptions,
  type VerifyTarget,
} from './disaster-recovery.js';
export { DrError, type DrErrorCode, type DrErrorDetails, isDrError } from './errors.js';
export type {
  DrEvent,
  DrEventListener,
  DrOperation,
  StepEndEvent,
  StepStartEvent,
  TransferProgressEvent,
} from './events.js';
export type * from './fly-types.js';
export { snapshotLocalDatabase } from './local-snapshot.js';
export { type AppLock, acquireAppLock, LOCK_FILE_NAME, type LockHolder } from './lock.js';
export { type DrLogger, type LogFields, silentLogger } from './logger.js';
export { type RestoredFile, type RestoreFileOptions, restoreFileTo } from './restore-file.js';
export {
  DEFAULT_KEEP_DAYS,
  DEFAULT_KEEP_LAST,
  type PruneCandidate,
  planRetention,
  type RetentionPlan,
  type RetentionPolicy,
} from './retention.js';
export {
  type DatabaseHeader,
  diffLiveDatabaseState,
  type LiveDatabaseState,
  parseDatabaseHeader,
  parseWalHeader,
  readDatabaseHeaderFile,
  type WalHeader,
} from './sqlite-header.js';
export { defaultStateDir, ensureStateDir, validateAppName } from './state-dir.js';
export {
  type CheckKind,
  type DatabaseDescription,
  describeDatabase,
  type VerifiedDatabase,
  type VerifyOptions,
  verifyDatabaseFile,
} from './verify.js';
