import { isFlyError } from '@flydr/fly-client';
import { DrError, messageOf } from './errors.js';
import type { FailoverContext } from './failover-context.js';
import { waitOptions } from './failover-context.js';
import type { FailoverState } from './failover-types.js';
import type { Machine, MachineTransport } from './fly-types.js';
import { waitForHealthy } from './machine-health.js';
import { withOperationLease } from './machine-lease.js';
import { applyConfig, maintenanceConfig } from './maintenance-mode.js';
import { backupFromMachine } from './remote-backup.js';
import { mountHolding } from './source-machine.js';
import { applyConfigStopped, isMaintenanceConfig, stopAndWait } from './stopped-config.js';

/**
 * Fences the source: cordons it (no new proxied requests) and puts it into maintenance
 * mode, so the app stops writing while the machine stays started for SSH. The original
 * config goes into the journal before anything changes. An unreachable host is recorded,
 * not an error: the snapshot step then decides whether a stale backup may be used.
 */
export async function fenceSource(
  context: FailoverContext,
  state: FailoverState,
): Promise<Partial<FailoverState>> {
  const { client, journal, operationId } = context;
  const { app } = state;
  const sourceId = state.sourceMachineId as string;
  const fenceStartedAt = state.fenceStartedAt ?? context.now().toISOString();
  journal.patchState(operationId, { fenceStartedAt });

  const machine = await client.machines.get(app, sourceId);
  const sourceConfig = state.sourceConfig ?? structuredClone(machine.config);
  if (machine.host_status === 'unreachable') {
    // The API still returns the config, which the target is cloned from; nothing changes here.
    context.logger.warn('source host is unreachable; it cannot be fenced', {
      app,
      machine_id: sourceId,
    });
    return { fenceStartedAt, sourceConfig, sourceUnreachable: true };
  }

  journal.patchState(operationId, { sourceConfig });

  await withOperationLease(client, journal, operationId, app, sourceId, async () => {
    await client.machines.cordon(app, sourceId);
    const current = await client.machines.get(app, sourceId);
    if (!isMaintenanceConfig(current.config) || current.state !== 'started') {
      await applyConfig(
        client,
        app,
        sourceId,
        maintenanceConfig(sourceConfig),
        waitOptions(context),
      );
    }
  });
  return { fenceStartedAt, sourceConfig, sourceUnreachable: false };
}

/**
 * Undoes the fence: puts the source's original config back (the app runs again), uncordons
 * it and waits until it is healthy.
 */
export async function unfenceSource(context: FailoverContext, state: FailoverState): Promise<void> {
  const { client, journal, operationId } = context;
  const { app } = state;
  const sourceId = state.sourceMachineId;
  if (sourceId === undefined || state.sourceConfig === undefined || state.sourceUnreachable) {
    return;
  }
  const config = state.sourceConfig;
  await withOperationLease(client, journal, operationId, app, sourceId, async () => {
    await applyConfig(client, app, sourceId, config, waitOptions(context));
    await client.machines.uncordon(app, sourceId);
  });
  await waitForHealthy(client, app, sourceId, {
    ...(context.run.healthUrl === undefined ? {} : { healthUrl: context.run.healthUrl }),
    ...(context.run.healthTimeoutMs === undefined
      ? {}
      : { timeoutMs: context.run.healthTimeoutMs }),
    ...(context.run.healthPollMs === undefined ? {} : { pollMs: context.run.healthPollMs }),
  });
}

/**
 * Takes the final verified snapshot of the fenced source (RPO 0), and records it as the
 * source's mark. When the source cannot be reached, falls back to the newest verified
 * backup if the caller allows its age as the data-loss window.
 *
 * @throws DrError `DR_REFUSED` when the source is unreachable and no allowed backup exists.
 */
export async function snapshotSource(
  context: FailoverContext,
  state: FailoverState,
): Promise<Partial<FailoverState>> {
  const { client, records } = context;
  const { app } = state;
  const sourceId = state.sourceMachineId as string;

  if (state.sourceUnreachable !== true) {
    const machine = await client.machines.get(app, sourceId);
    const transport =
      machine.host_status === 'unreachable'
        ? undefined
        : await connectOrUndefined(context, machine);
    if (transport !== undefined) {
      try {
        const mount = mountHolding(machine, state.databasePath);
        const backup = await backupFromMachine(
          {
            app,
            databasePath: state.databasePath,
            catalog: context.catalog,
            logger: context.logger,
            emit: context.emit,
            operation: state.kind,
            now: context.now,
          },
          {
            machine,
            mount: mount ?? { path: state.databasePath },
            volumeId: mount?.volume ?? null,
          },
          transport,
          { reason: 'failover', check: state.check },
        );
        records.setMark({
          app,
          machineId: sourceId,
          volumeId: state.sourceVolumeId ?? null,
          sha256: backup.sha256,
          backupId: backup.id,
          reason: 'fenced',
          operationId: context.operationId,
          recordedAt: context.now().toISOString(),
        });
        return { backupId: backup.id, backupSha256: backup.sha256, rpoMs: 0 };
      } finally {
        await transport.close().catch(() => {});
      }
    }
  }
  return staleBackup(context, state);
}

async function connectOrUndefined(
  context: FailoverContext,
  machine: Machine,
): Promise<MachineTransport | undefined> {
  try {
    return await context.transportFactory(machine);
  } catch (error) {
    context.logger.warn('cannot reach the source machine over its transport', {
      machine_id: machine.id,
      error: messageOf(error),
    });
    return undefined;
  }
}

function staleBackup(context: FailoverContext, state: FailoverState): Partial<FailoverState> {
  const sourceId = state.sourceMachineId as string;
  const backup = context.catalog.latestVerified();
  const ageMs =
    backup === undefined ? undefined : context.now().getTime() - Date.parse(backup.finishedAt);
  const allowed = state.allowStaleBackupMs;
  if (backup === undefined || ageMs === undefined || allowed === undefined || ageMs > allowed) {
    const window =
      backup === undefined
        ? 'there is no verified backup to fail over from'
        : `the newest verified backup (${backup.id}, ${backup.finishedAt}) is ${Math.round((ageMs ?? 0) / 1000)} s old, so every write after it would be lost`;
    throw new DrError(
      'DR_REFUSED',
      `source machine ${sourceId} of app ${state.app} is unreachable, so no final snapshot can be taken; ${window}`,
      backup === undefined
        ? 'Bring the source back, or restore from a backup kept elsewhere.'
        : `Bring the source back, or accept that data-loss window with allowStaleBackup (--allow-stale-backup) of at least ${Math.ceil((ageMs ?? 0) / 60_000)} minutes.`,
      { machineId: sourceId, ...(backup === undefined ? {} : { backupId: backup.id, ageMs }) },
    );
  }
  context.records.setMark({
    app: state.app,
    machineId: sourceId,
    volumeId: state.sourceVolumeId ?? null,
    sha256: backup.sha256,
    backupId: backup.id,
    reason: 'unreachable',
    operationId: context.operationId,
    recordedAt: context.now().toISOString(),
  });
  context.logger.warn('failing over from a stale backup; later writes on the source are lost', {
    app: state.app,
    backup_id: backup.id,
    age_ms: ageMs,
  });
  return {
    backupId: backup.id,
    backupSha256: backup.sha256,
    rpoMs: ageMs,
    staleBackup: true,
  };
}

/**
 * Stops the source, so it cannot write once the target starts. Its normal config comes back
 * in the record step, after the target is healthy, because that update adds seconds that
 * would otherwise count toward the RTO. An unreachable source is recorded instead.
 */
export async function stopSource(
  context: FailoverContext,
  state: FailoverState,
): Promise<Partial<FailoverState>> {
  const { client, journal, operationId } = context;
  const { app } = state;
  const sourceId = state.sourceMachineId as string;
  try {
    await withOperationLease(client, journal, operationId, app, sourceId, () =>
      stopAndWait(client, app, sourceId, waitOptions(context)),
    );
    return {};
  } catch (error) {
    if (state.sourceUnreachable !== true || isFlyError(error, 'FLY_LEASE_CONFLICT')) {
      throw error;
    }
    // NOTE: the source's host is down, so it cannot be stopped now; when the host returns
    // its app could start again. `flydr status` warns about two started writers.
    context.logger.warn('cannot stop the unreachable source; stop it when its host returns', {
      app,
      machine_id: sourceId,
      error: messageOf(error),
    });
    return { sourceStopFailed: messageOf(error) };
  }
}

/**
 * Puts the stopped source's normal config back (it stays stopped), so a later failback can
 * start it as the app. Skipped for a source that could not be stopped.
 */
export async function restoreSourceConfig(
  context: FailoverContext,
  state: FailoverState,
): Promise<void> {
  const { client, journal, operationId } = context;
  const sourceId = state.sourceMachineId as string;
  if (state.sourceStopFailed !== undefined || state.sourceConfig === undefined) {
    return;
  }
  const config = state.sourceConfig;
  await withOperationLease(client, journal, operationId, state.app, sourceId, () =>
    applyConfigStopped(client, state.app, sourceId, config, waitOptions(context)),
  );
}
