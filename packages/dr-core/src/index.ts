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
  type BackupOptions,
  createDisasterRecovery,
  type DeleteOptions,
  type DisasterRecovery,
  type DisasterRecoveryOptions,
  type PruneOptions,
  type PruneResult,
  type RestoreOptions,
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

export { snapshotLocalDatabase } from './local-snapshot.js';
export { type AppLock, acquireAppLock, LOCK_FILE_NAME, type LockHolder } from './lock.js';
export { type DrLogger, type LogFields, silentLogger } from './logger.js';
export { type HealthWaitOptions, waitForHealthy } from './machine-health.js';
export { MAINTENANCE_INIT_EXEC, maintenanceConfig } from './maintenance-mode.js';
export { backupFromMachine, type RemoteBackupOptions } from './remote-backup.js';
export {
  type RemoteRestoreOptions,
  type RemoteRestoreReport,
  restoreOntoMachine,
} from './remote-restore.js';
export {
  chooseStrategy,
  type RemoteSnapshot,
  type RemoteSnapshotOptions,
  type RemoteStrategy,
  takeRemoteSnapshot,
} from './remote-snapshot.js';
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
  describeMachines,
  type MachineSelector,
  mountHolding,
  type SelectedMachine,
  selectSourceMachine,
  selectTargetMachine,
} from './source-machine.js';
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
