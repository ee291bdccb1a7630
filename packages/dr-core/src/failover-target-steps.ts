import { setTimeout as sleep } from 'node:timers/promises';
import { FlyApiError, isFlyError } from '@flydr/fly-client';
import { noCapacityError } from './capacity.js';
import { checkDivergence } from './divergence-check.js';
import { DrError } from './errors.js';
import type { FailoverContext } from './failover-context.js';
import { waitOptions } from './failover-context.js';
import { GENERATION_KEY, ROLE_KEY } from './failover-preflight.js';
import type { FailoverState } from './failover-types.js';
import type { Machine, MachineConfig } from './fly-types.js';
import { waitForHealthy } from './machine-health.js';
import { withOperationLease } from './machine-lease.js';
import { applyConfig, maintenanceConfig } from './maintenance-mode.js';
import { findMachine, getNewMachine, NEW_MACHINE_NOT_FOUND_MS } from './new-machine.js';
import { restoreOntoMachine } from './remote-restore.js';
import { mountHolding } from './source-machine.js';
import { applyConfigStopped, isMaintenanceConfig, stopAndWait } from './stopped-config.js';
import { deleteDetachedVolume } from './volume-delete.js';

/**
 * Creates the target volume when preflight found none, with the compute hints (guest and
 * image) that make Fly place it on a host that can run the machine. After a crash, the
 * volume created by the earlier run is found by name, region and creation time.
 */
export async function createTargetVolume(
  context: FailoverContext,
  state: FailoverState,
): Promise<Partial<FailoverState>> {
  if (state.targetVolumeId !== undefined) {
    return {};
  }
  const { client } = context;
  const startedAt = state.volumeCreateStartedAt ?? context.now().toISOString();
  context.journal.patchState(context.operationId, { volumeCreateStartedAt: startedAt });

  const earlier = await findCreatedVolume(context, state, startedAt);
  if (earlier !== undefined) {
    return { targetVolumeId: earlier, createdVolume: true };
  }
  try {
    const volume = await client.volumes.create(state.app, {
      name: state.volumeName ?? 'data',
      region: state.to,
      size_gb: state.sourceVolumeSizeGb ?? 1,
      require_unique_zone: false,
      ...(state.guest === undefined ? {} : { compute: state.guest }),
      ...(state.image === undefined ? {} : { compute_image: state.image }),
    });
    return { targetVolumeId: volume.id, createdVolume: true };
  } catch (error) {
    if (isFlyError(error, 'FLY_CAPACITY')) {
      throw noCapacityError(state.to, {
        guest: state.guest,
        volumeSizeBytes: (state.sourceVolumeSizeGb ?? 1) * 1024 ** 3,
      });
    }
    throw error;
  }
}

/**
 * Deletes the target volume if this operation created it. Runs after the target machine's
 * undo, which destroyed the machine that mounted it.
 */
export async function deleteTargetVolume(
  context: FailoverContext,
  state: FailoverState,
): Promise<void> {
  const volumeId =
    state.createdVolume === true
      ? state.targetVolumeId
      : state.volumeCreateStartedAt === undefined
        ? undefined
        : await findCreatedVolume(context, state, state.volumeCreateStartedAt);
  if (volumeId === undefined) {
    return;
  }
  await deleteDetachedVolume(context.client, state.app, volumeId, {
    ...(context.run.startTimeoutMs === undefined ? {} : { timeoutMs: context.run.startTimeoutMs }),
    logger: context.logger,
  });
}

async function findCreatedVolume(
  context: FailoverContext,
  state: FailoverState,
  startedAt: string,
): Promise<string | undefined> {
  const since = Date.parse(startedAt) - 1_000;
  const volumes = await context.client.volumes.list(state.app);
  return volumes.find(
    (volume) =>
      volume.region === state.to &&
      volume.name === (state.volumeName ?? 'data') &&
      volume.state !== 'destroyed' &&
      !volume.attached_machine_id &&
      volume.created_at !== undefined &&
      volume.created_at !== null &&
      Date.parse(String(volume.created_at)) >= since,
  )?.id;
}

/**
 * Creates the target machine, stopped (`skip_launch`), from the source's original config
 * and pinned image, mounting the target volume, unless preflight found one to reuse. After
 * a crash the machine is found by the name recorded in preflight. The step ends when Fly
 * returns the new machine on a read, because Fly can return 404 for a machine just after
 * creating it, and the next step takes its lease.
 */
export async function createStandbyMachine(
  context: FailoverContext,
  state: FailoverState,
): Promise<Partial<FailoverState>> {
  if (state.targetMachineId !== undefined) {
    // A run killed right after the create: the machine may still be invisible.
    if (state.createdMachine === true && state.targetMachineCreatedAt !== undefined) {
      await waitForNewMachine(context, state, state.targetMachineId, state.targetMachineCreatedAt);
    }
    return {};
  }
  const config = standbyConfig(state);
  const earlier = await findCreatedByName(context, state);
  if (earlier !== undefined) {
    return { targetMachineId: earlier.id, createdMachine: true, targetConfig: config };
  }

  const createdAt = Date.now();
  context.journal.patchState(context.operationId, { machineCreateStartedAt: createdAt });
  let created: Machine;
  try {
    created = await context.client.machines.create(state.app, {
      name: state.targetMachineName,
      region: state.to,
      config,
      skip_launch: true,
    });
  } catch (error) {
    if (error instanceof FlyApiError && error.status !== undefined && error.status < 500) {
      // Fly rejected the create, so there is no machine for the undo to look for. After a
      // 5xx a proxy may have passed the create on, so the marker stays.
      context.journal.patchState(context.operationId, { machineCreateStartedAt: undefined });
    }
    throw error;
  }
  // Journaled before the wait, so a rollback or a resumed run finds the machine.
  const recorded = {
    targetMachineId: created.id,
    createdMachine: true,
    targetMachineCreatedAt: createdAt,
    targetConfig: config,
  };
  context.journal.patchState(context.operationId, recorded);

  await waitForNewMachine(context, state, created.id, createdAt);
  return recorded;
}

async function waitForNewMachine(
  context: FailoverContext,
  state: FailoverState,
  machineId: string,
  createdAt: number,
): Promise<void> {
  const signal = waitOptions(context).signal;
  await getNewMachine(
    context.client,
    state.app,
    machineId,
    createdAt,
    signal === undefined ? {} : { signal },
  );
}

/**
 * Destroys the target machine if this operation created it, and waits until it is
 * destroyed, so that its volume is detached. A machine created moments ago is read until
 * Fly returns it (see {@link getNewMachine}). A machine that Fly still does not return is
 * deleted without a lease, and a 404 on that delete means it is gone.
 */
export async function destroyStandbyMachine(
  context: FailoverContext,
  state: FailoverState,
): Promise<void> {
  if (state.createdMachine === false) {
    return;
  }
  const { client, journal, operationId } = context;
  const machine =
    state.targetMachineId === undefined
      ? await findCreatedByName(context, state)
      : await findMachine(client, state.app, state.targetMachineId, newMachineCreatedAt(state));
  if (machine === undefined) {
    if (state.createdMachine === true && state.targetMachineId !== undefined) {
      await client.machines
        .delete(state.app, state.targetMachineId, { force: true })
        .catch((error: unknown) => {
          if (!isFlyError(error, 'FLY_NOT_FOUND')) throw error;
        });
    }
    return;
  }
  if (machine.state !== 'destroyed') {
    if (machine.state !== 'destroying') {
      await withOperationLease(client, journal, operationId, state.app, machine.id, async () => {
        await client.machines.delete(state.app, machine.id, { force: true });
      });
    }
    await client.machines.wait(state.app, machine.id, {
      state: 'destroyed',
      timeoutMs: waitOptions(context).timeoutMs ?? 120_000,
    });
  }
}

function standbyConfig(state: FailoverState): MachineConfig {
  const config = structuredClone(state.sourceConfig ?? ({} as MachineConfig));
  if (state.image) {
    config.image = state.image;
  }
  const mount = config.mounts?.[0];
  config.mounts = [
    { ...mount, path: mount?.path ?? '/data', volume: state.targetVolumeId as string },
  ];
  const metadata: Record<string, string> = { ...(config.metadata ?? {}), [ROLE_KEY]: 'standby' };
  delete metadata[GENERATION_KEY];
  config.metadata = metadata;
  return config;
}

async function findByName(
  context: FailoverContext,
  state: FailoverState,
): Promise<Machine | undefined> {
  if (state.targetMachineName === undefined) {
    return undefined;
  }
  const machines = await context.client.machines.list(state.app, { region: state.to });
  return machines.find(
    (machine) => machine.name === state.targetMachineName && machine.state !== 'destroyed',
  );
}

/**
 * Finds the target machine by its recorded name. When a create was sent and its response
 * never arrived (a timeout, a reset connection or a killed process), Fly may have created
 * the machine without listing it yet. The list is then read again, with a doubling pause,
 * until the machine shows or the 404 window after that create has passed.
 */
async function findCreatedByName(
  context: FailoverContext,
  state: FailoverState,
): Promise<Machine | undefined> {
  let found = await findByName(context, state);
  const startedAt = state.machineCreateStartedAt;
  if (found !== undefined || startedAt === undefined) {
    return found;
  }

  const deadline = startedAt + NEW_MACHINE_NOT_FOUND_MS;
  let pauseMs = 200;
  while (found === undefined && Date.now() < deadline) {
    context.logger.info(
      'machine create got no response, looking for the machine it may have made',
      {
        app: state.app,
        name: state.targetMachineName,
        pause_ms: pauseMs,
      },
    );
    await sleep(Math.min(pauseMs, deadline - Date.now()));
    pauseMs = Math.min(pauseMs * 2, 2_000);
    found = await findByName(context, state);
  }
  return found;
}

/** Creation time of the target machine while this operation created it, else undefined. */
function newMachineCreatedAt(state: FailoverState): number | undefined {
  return state.createdMachine === true ? state.targetMachineCreatedAt : undefined;
}

/**
 * Starts the target in maintenance mode (started for SSH, the app not running) before the
 * source is fenced, so the machine update that takes is not part of the RTO.
 */
export async function prepareTarget(
  context: FailoverContext,
  state: FailoverState,
): Promise<Partial<FailoverState>> {
  const { client, journal, operationId } = context;
  const targetId = state.targetMachineId as string;
  const config = state.targetConfig as MachineConfig;
  await withOperationLease(client, journal, operationId, state.app, targetId, async () => {
    const machine = await client.machines.get(state.app, targetId);
    if (machine.state !== 'started' || !isMaintenanceConfig(machine.config)) {
      await applyConfig(
        client,
        state.app,
        targetId,
        maintenanceConfig(config),
        waitOptions(context),
      );
    }
  });
  return {};
}

/**
 * Restores the final snapshot onto the target, which is in maintenance mode, and leaves it
 * there. Before the upload, the target's current database (kept as a verified pre-restore
 * backup) goes through the divergence check. A failed restore ends the target stopped.
 *
 * @throws DrError `DR_DIVERGED` (unless forced), and the restore's errors.
 */
export async function restoreTarget(
  context: FailoverContext,
  state: FailoverState,
): Promise<Partial<FailoverState>> {
  const { client, journal, operationId, catalog } = context;
  const { app } = state;
  const targetId = state.targetMachineId as string;
  const backup = catalog.getBackup(state.backupId as number);
  if (backup === undefined) {
    throw new DrError(
      'DR_BACKUP_NOT_FOUND',
      `backup ${String(state.backupId)} of operation ${operationId} is not in the catalog ${catalog.path}`,
      `Roll the operation back with \`flydr abort ${operationId}\` and start again.`,
      { backupId: state.backupId },
    );
  }

  let reportPath: string | undefined;
  const report = await withOperationLease(client, journal, operationId, app, targetId, async () => {
    const machine = await client.machines.get(app, targetId);
    const mount = mountHolding(machine, state.databasePath);
    return restoreOntoMachine(
      {
        app,
        databasePath: state.databasePath,
        client,
        transportFactory: context.transportFactory,
        catalog,
        logger: context.logger,
        emit: context.emit,
        now: context.now,
      },
      backup,
      { machine, mount: mount ?? { path: state.databasePath }, volumeId: mount?.volume ?? null },
      {
        finish: 'maintenance',
        ...(state.targetConfig === undefined ? {} : { normalConfig: state.targetConfig }),
        check: state.check,
        ...(waitOptions(context).timeoutMs === undefined
          ? {}
          : { startTimeoutMs: waitOptions(context).timeoutMs }),
        beforeUpload: async (current) => {
          const result = await checkDivergence({
            app,
            catalog,
            records: context.records,
            logger: context.logger,
            targetMachineId: targetId,
            current,
            incoming: backup,
            force: state.force,
            now: context.now(),
          });
          reportPath = result.reportPath;
        },
      },
    );
  });

  context.records.setMark({
    app,
    machineId: targetId,
    volumeId: state.targetVolumeId ?? null,
    sha256: backup.sha256,
    backupId: backup.id,
    reason: 'restored',
    operationId,
    recordedAt: context.now().toISOString(),
  });
  return {
    ...(report.preRestoreBackup === undefined
      ? {}
      : { preRestoreBackupId: report.preRestoreBackup.id }),
    ...(reportPath === undefined ? {} : { divergenceReportPath: reportPath }),
  };
}

/**
 * Undoes a partial restore's leftovers: a target still in maintenance mode gets its normal
 * config back, and it ends stopped.
 */
export async function settleTarget(context: FailoverContext, state: FailoverState): Promise<void> {
  const targetId = state.targetMachineId;
  if (
    targetId === undefined ||
    (await findMachine(context.client, state.app, targetId, newMachineCreatedAt(state))) ===
      undefined
  ) {
    return;
  }
  const { client, journal, operationId } = context;
  await withOperationLease(client, journal, operationId, state.app, targetId, async () => {
    await leaveMaintenance(context, state, targetId);
    await stopAndWait(client, state.app, targetId, waitOptions(context));
  });
}

/** Puts the target's normal config back, stopped, when a killed run left it in maintenance mode. */
async function leaveMaintenance(
  context: FailoverContext,
  state: FailoverState,
  targetId: string,
): Promise<void> {
  const machine = await context.client.machines.get(state.app, targetId);
  if (isMaintenanceConfig(machine.config) && state.targetConfig !== undefined) {
    await applyConfigStopped(
      context.client,
      state.app,
      targetId,
      state.targetConfig,
      waitOptions(context),
    );
  }
}

/**
 * Starts the app on the target: its normal config replaces the maintenance config (or a
 * stopped target is started), it is uncordoned, and it must reach `started` with passing
 * checks and a 2xx health URL.
 */
export async function startTarget(
  context: FailoverContext,
  state: FailoverState,
): Promise<Partial<FailoverState>> {
  const { client, journal, operationId } = context;
  const { app } = state;
  const targetId = state.targetMachineId as string;
  await withOperationLease(client, journal, operationId, app, targetId, async () => {
    const machine = await client.machines.get(app, targetId);
    if (isMaintenanceConfig(machine.config) && state.targetConfig !== undefined) {
      await applyConfig(client, app, targetId, state.targetConfig, waitOptions(context));
    } else {
      if (machine.state !== 'started' && machine.state !== 'starting') {
        await client.machines.start(app, targetId);
      }
      await client.machines.wait(app, targetId, {
        state: 'started',
        timeoutMs: waitOptions(context).timeoutMs ?? 120_000,
      });
    }
    if (machine.cordoned === true) {
      await client.machines.uncordon(app, targetId);
    }
  });
  await waitForHealthy(client, app, targetId, {
    ...(context.run.healthUrl === undefined ? {} : { healthUrl: context.run.healthUrl }),
    ...(context.run.healthTimeoutMs === undefined
      ? {}
      : { timeoutMs: context.run.healthTimeoutMs }),
    ...(context.run.healthPollMs === undefined ? {} : { pollMs: context.run.healthPollMs }),
    ...(context.run.signal === undefined ? {} : { signal: context.run.signal }),
  });
  return { targetHealthyAt: context.now().toISOString() };
}

/** Stops the target again (the undo of its start); its config is settled by the restore's undo. */
export async function stopTarget(context: FailoverContext, state: FailoverState): Promise<void> {
  const targetId = state.targetMachineId;
  if (
    targetId === undefined ||
    (await findMachine(context.client, state.app, targetId, newMachineCreatedAt(state))) ===
      undefined
  ) {
    return;
  }
  const { client, journal, operationId } = context;
  await withOperationLease(client, journal, operationId, state.app, targetId, () =>
    stopAndWait(client, state.app, targetId, waitOptions(context)),
  );
}
