export {
  type BackupCheckReport,
  isBackupFileName,
  type SweepResult,
  utcTimestamp,
} from './backup-store.js';
export {
  type CapacityRequest,
  checkCapacity,
  noCapacityError,
  type RegionCapacity,
  type WaitForCapacityOptions,
  waitForCapacity,
} from './capacity.js';
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
  type CheckpointInPlaceOptions,
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
export {
  type CompareOptions,
  compareDatabases,
  type DivergenceReport,
  type SampleRow,
  type TableDifference,
} from './divergence.js';
export {
  checkDivergence,
  type DivergenceCheckInput,
  type DivergenceCheckResult,
} from './divergence-check.js';
export { DrError, type DrErrorCode, type DrErrorDetails, isDrError } from './errors.js';
export type {
  DrEvent,
  DrEventListener,
  DrOperation,
  StepEndEvent,
  StepStartEvent,
  TransferProgressEvent,
} from './events.js';
export { type FailbackOptions, failbackRegions, runFailback } from './failback.js';
export {
  abortFailover,
  FAILOVER_STEP_DESCRIPTIONS,
  type FailoverBase,
  type FailoverPlan,
  failoverSteps,
  planFailover,
  resumeFailover,
  startFailover,
} from './failover.js';
export type { FailoverContext } from './failover-context.js';
export { GENERATION_KEY, isSettled, ROLE_KEY, refuseUnfinished } from './failover-preflight.js';
export {
  FAILOVER_STEPS,
  type FailoverParams,
  type FailoverReport,
  type FailoverRunOptions,
  type FailoverState,
  type FailoverStepName,
} from './failover-types.js';
export {
  FlyTomlError,
  type FlyTomlMount,
  type FlyTomlSummary,
  parseFlyToml,
  readFlyToml,
  rewriteFlyTomlForStandby,
  type StandbyTomlChange,
} from './fly-toml.js';
export {
  JOURNAL_SCHEMA,
  OperationJournal,
  type OperationKind,
  type OperationRecord,
  type OperationStatus,
  type StepRecord,
  type StepStatus,
} from './journal.js';
export { snapshotLocalDatabase } from './local-snapshot.js';
export { type AppLock, acquireAppLock, LOCK_FILE_NAME, type LockHolder } from './lock.js';
export { type DrLogger, type LogFields, silentLogger } from './logger.js';
export { type HealthWaitOptions, waitForHealthy } from './machine-health.js';
export { withOperationLease } from './machine-lease.js';
export { MAINTENANCE_INIT_EXEC, maintenanceConfig } from './maintenance-mode.js';
export {
  type OperationStep,
  type RunnerEvent,
  type RunnerOptions,
  rollbackOperation,
  runOperation,
} from './operation-runner.js';
export {
  type DatabaseMark,
  PRIMARY_RECORDS_SCHEMA,
  type PrimaryRecord,
  PrimaryRecords,
} from './primary-record.js';
export {
  type CapacityOptions,
  createRecoveryOperations,
  type FailoverOptions,
  type RecoveryHost,
  type RecoveryOperations,
} from './recovery-operations.js';
export { type RegionInfo, validateRegions } from './regions.js';
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
export {
  prepareStandby,
  type StandbyOptions,
  type StandbyReport,
} from './standby.js';
export { defaultStateDir, ensureStateDir, validateAppName } from './state-dir.js';
export {
  type MachineStatus,
  type RecoveryStatus,
  readStatus,
  type StatusSources,
  type StatusWarning,
  type UnfinishedOperation,
  type VolumeStatus,
} from './status.js';
export {
  applyConfigStopped,
  isMaintenanceConfig,
  type StoppedConfigOptions,
  stopAndWait,
} from './stopped-config.js';
export {
  abortSync,
  resumeSync,
  runSync,
  SYNC_STEPS,
  type SyncContext,
  type SyncOptions,
  type SyncReport,
  type SyncState,
} from './sync.js';
export { limitTransports, type TransportLimits } from './transfer-deadline.js';
export {
  type CheckKind,
  type DatabaseDescription,
  describeDatabase,
  type VerifiedDatabase,
  type VerifyOptions,
  verifyDatabaseFile,
} from './verify.js';
