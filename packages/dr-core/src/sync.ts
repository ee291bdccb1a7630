import type { BackupRecord, Catalog } from './catalog.js';
import { checkDivergence } from './divergence-check.js';
import { DrError } from './errors.js';
import type { DrEventListener } from './events.js';
import { ROLE_KEY } from './failover-preflight.js';
import type { FlyClient, Machine, MachineTransportFactory } from './fly-types.js';
import type { DrLogger } from './logger.js';
import type { HealthWaitOptions } from './machine-health.js';
import type { PrimaryRecords } from './primary-record.js';
import { validateRegions } from './regions.js';
import { backupFromMachine } from './remote-backup.js';
import { restoreOntoMachine } from './remote-restore.js';
import { selectSourceMachine, selectTargetMachine } from './source-machine.js';
import { isMaintenanceConfig } from './stopped-config.js';
import type { CheckKind } from './verify.js';

/** Options of a sync. */
export interface SyncOptions {
  /** Region whose started machine's database is copied. */
  from: string;
  /** Region whose machine receives it. */
  to: string;
  /** Overwrite the active primary, or a database that changed since flydr recorded it. @default false */
  force?: boolean;
  check?: CheckKind;
  /** Health URL of the target app when it runs after the sync. */
  healthUrl?: HealthWaitOptions['healthUrl'];
  healthTimeoutMs?: number;
  startTimeoutMs?: number;
  signal?: AbortSignal;
}

/** Outcome of a sync. */
export interface SyncReport {
  from: string;
  to: string;
  sourceMachineId: string;
  targetMachineId: string;
  /** Verified snapshot of the source that was copied. */
  backup: BackupRecord;
  /** Verified copy of what the target held before; absent when it held nothing. */
  preRestoreBackup?: BackupRecord;
  /** Written when the target had diverged and force overwrote it. */
  divergenceReportPath?: string;
  durationMs: number;
}

/** Inputs of a sync: app, clients and stores. */
export interface SyncContext {
  app: string;
  databasePath: string;
  client: FlyClient;
  transportFactory: MachineTransportFactory;
  catalog: Catalog;
  records: PrimaryRecords;
  logger: DrLogger;
  emit: DrEventListener;
  now: () => Date;
}

/**
 * Copies the database from one region's started machine to another region's machine (the
 * monthly standby refresh): a verified snapshot of the source, then a restore onto the
 * target in maintenance mode, which keeps a verified copy of what it replaces. The target
 * ends as it was (started or stopped). The active primary is never overwritten unless
 * forced, and neither is a target whose database changed since flydr recorded it.
 *
 * NOTE: a sync is not journaled. A failed restore rolls itself back, but a process killed
 * during the restore can leave the target in maintenance mode; the next sync or failover
 * then rejects that machine until its config is put back by hand.
 *
 * @throws DrError `DR_REFUSED` (the target is the active primary), `DR_DIVERGED`,
 *   `DR_UNKNOWN_REGION`, the machine selection, backup and restore errors.
 */
export async function runSync(context: SyncContext, options: SyncOptions): Promise<SyncReport> {
  const startedAt = Date.now();
  const { client, app, databasePath } = context;
  await validateRegions(client, [options.from, options.to], options.signal);
  if (options.from === options.to) {
    throw new DrError(
      'DR_INVALID_INPUT',
      `sync from ${options.from} to itself`,
      'Pass two different regions.',
      { region: options.from },
    );
  }
  const target = await selectTargetMachine(client, app, databasePath, { region: options.to });
  if (isMaintenanceConfig(target.machine.config)) {
    throw new DrError(
      'DR_REFUSED',
      `machine ${target.machine.id} in ${options.to} was left in maintenance mode (its init runs sleep), so its normal config is unknown`,
      'Put the app config back on it (fly machine update with the image and config it should run), then sync again.',
      { machineId: target.machine.id },
    );
  }
  refuseActivePrimary(context, target.machine, options);
  const source = await selectSourceMachine(client, app, databasePath, { region: options.from });

  const transport = await context.transportFactory(source.machine);
  let backup: BackupRecord;
  try {
    backup = await backupFromMachine({ ...context, operation: 'sync' }, source, transport, {
      reason: 'sync',
      ...(options.check === undefined ? {} : { check: options.check }),
    });
  } finally {
    await transport.close().catch(() => {});
  }

  let divergenceReportPath: string | undefined;
  const restored = await restoreOntoMachine(context, backup, target, {
    finish: target.machine.state === 'started' ? 'started' : 'stopped',
    ...(options.check === undefined ? {} : { check: options.check }),
    ...(options.healthUrl === undefined ? {} : { healthUrl: options.healthUrl }),
    ...(options.healthTimeoutMs === undefined ? {} : { healthTimeoutMs: options.healthTimeoutMs }),
    ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    beforeUpload: async (current) => {
      const result = await checkDivergence({
        app,
        catalog: context.catalog,
        records: context.records,
        logger: context.logger,
        targetMachineId: target.machine.id,
        current,
        incoming: backup,
        force: options.force === true,
        now: context.now(),
      });
      divergenceReportPath = result.reportPath;
    },
  });

  context.records.setMark({
    app,
    machineId: target.machine.id,
    volumeId: target.volumeId,
    sha256: backup.sha256,
    backupId: backup.id,
    reason: 'synced',
    operationId: null,
    recordedAt: context.now().toISOString(),
  });
  return {
    from: options.from,
    to: options.to,
    sourceMachineId: source.machine.id,
    targetMachineId: target.machine.id,
    backup,
    ...(restored.preRestoreBackup === undefined
      ? {}
      : { preRestoreBackup: restored.preRestoreBackup }),
    ...(divergenceReportPath === undefined ? {} : { divergenceReportPath }),
    durationMs: Date.now() - startedAt,
  };
}

function refuseActivePrimary(context: SyncContext, target: Machine, options: SyncOptions): void {
  // Without a record, a machine labelled primary, or one running the app, is the live writer.
  const recorded = context.records.current(context.app);
  const isPrimary =
    recorded !== undefined
      ? recorded.machineId === target.id
      : target.config?.metadata?.[ROLE_KEY] === 'primary' ||
        (target.state === 'started' && !isMaintenanceConfig(target.config));
  if (isPrimary && options.force !== true) {
    throw new DrError(
      'DR_REFUSED',
      `machine ${target.id} in ${options.to} is the active primary of app ${context.app}; a sync from ${options.from} would overwrite its newer writes`,
      `Sync the other way (from ${options.to} to ${options.from}), or pass force to overwrite the primary; its database is kept as a verified backup.`,
      { machineId: target.id },
    );
  }
}
