import type { MachineGuest } from '@flydr/fly-client';
import type { MachineConfig } from './fly-types.js';
import type { HealthWaitOptions } from './machine-health.js';
import type { RunnerEvent } from './operation-runner.js';
import type { CheckKind } from './verify.js';

/** The journaled steps of a failover or failback, in order. */
export const FAILOVER_STEPS = [
  'preflight',
  'volume',
  'standby',
  'prepare-target',
  'fence',
  'snapshot',
  'restore',
  'stop-source',
  'start-target',
  'record',
] as const;

/** Name of one step of a failover. */
export type FailoverStepName = (typeof FAILOVER_STEPS)[number];

/** Parameters of a failover, stored in its journal so `resume` needs nothing else. */
export interface FailoverParams {
  kind: 'failover' | 'failback';
  app: string;
  databasePath: string;
  /** Region that serves now. */
  from: string;
  /** Region that serves afterwards. */
  to: string;
  /** Machine in `from` to move away from. @default the one started machine holding the database */
  sourceMachineId?: string;
  /**
   * Maximum age in milliseconds of the newest verified backup that a failover may start
   * from when the source is unreachable. Every write after that backup is lost.
   * @default undefined (reject the failover)
   */
  allowStaleBackupMs?: number;
  /** Create a volume in `to` when none fits. @default true */
  createVolume: boolean;
  /** Overwrite a target database that changed since flydr recorded it. @default false */
  force: boolean;
  check: CheckKind;
}

/** State of a failover: its parameters plus what each finished step recorded in the journal. */
export interface FailoverState extends FailoverParams {
  orgSlug?: string;
  sourceMachineId?: string;
  sourceVolumeId?: string | null;
  sourceVolumeSizeGb?: number;
  /** The source's config as preflight found it, before anything changed it. */
  sourceConfig?: MachineConfig;
  /** Name of the volume mount, reused for a new target volume. */
  volumeName?: string;
  guest?: MachineGuest;
  /** Image the target runs, pinned to the source's digest when known. */
  image?: string;
  targetVolumeId?: string;
  createdVolume?: boolean;
  /** Set before a volume create, to find the volume after a crash. */
  volumeCreateStartedAt?: string;
  targetMachineId?: string;
  createdMachine?: boolean;
  /** When this operation created the target machine (Unix ms), for Fly's 404 window. */
  targetMachineCreatedAt?: number;
  /**
   * Set before the target machine's create (Unix ms) and kept unless Fly rejected it, to
   * find the machine after a lost response or a crash.
   */
  machineCreateStartedAt?: number;
  /** Name given to a new target machine, to find it after a crash. */
  targetMachineName?: string;
  /** Config the target machine must end with (the app's normal config). */
  targetConfig?: MachineConfig;
  generation?: number;
  fenceStartedAt?: string;
  /** True when the fence found the source's host unreachable (nothing was changed on it). */
  sourceUnreachable?: boolean;
  /** True when the snapshot is the newest verified backup, not a final snapshot. */
  staleBackup?: boolean;
  backupId?: number;
  backupSha256?: string;
  /** Data-loss window: 0 when the snapshot was taken after the fence. */
  rpoMs?: number;
  preRestoreBackupId?: number;
  /** Set when the old database of the target differed from flydr's record (forced). */
  divergenceReportPath?: string;
  sourceStopFailed?: string;
  targetHealthyAt?: string;
  report?: FailoverReport;
}

/** Measured outcome of a failover or failback. */
export interface FailoverReport {
  operationId: string;
  kind: 'failover' | 'failback';
  from: string;
  to: string;
  sourceMachineId: string;
  targetMachineId: string;
  generation: number;
  backupId: number;
  /** Writes that may be lost, in milliseconds: 0 when the final snapshot followed the fence. */
  rpoMs: number;
  /** Time from the start of the fence to the healthy target, in milliseconds. */
  rtoMs: number;
  /** Duration of each step, in milliseconds, as journaled. */
  steps: { name: string; durationMs: number }[];
}

/** Options that are not journaled: they are given again to `resume` and `abort`. */
export interface FailoverRunOptions {
  /** Health URL of the target app, or a function of the target machine. */
  healthUrl?: HealthWaitOptions['healthUrl'];
  /** Budget for the target's checks and health URL. @default 120000 */
  healthTimeoutMs?: number;
  /** Pause between health polls. @default 500 */
  healthPollMs?: number;
  /** Budget for each wait for a machine state. @default 120000 */
  startTimeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Called after each step's result is in the journal. Throwing from it stops the run as a
   * killed process would, which tests use.
   */
  afterStepPersisted?: (step: string, position: number) => void | Promise<void>;
  /** Receives the runner's step events too. */
  onRunnerEvent?: (event: RunnerEvent) => void;
}
