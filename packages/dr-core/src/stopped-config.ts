import type { FlyClient, MachineConfig } from './fly-types.js';
import type { DrLogger } from './logger.js';
import { settleOptions, updateWhenSettled } from './machine-update.js';
import { MAINTENANCE_INIT_EXEC } from './maintenance-mode.js';

/** Options of {@link applyConfigStopped}. */
export interface StoppedConfigOptions {
  /** Budget for each wait for `stopped`. @default 120000 */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Logs an update that is sent again after the machine settled. */
  logger?: DrLogger;
}

/**
 * Stops the machine, then updates its config with `skip_launch`, so it ends stopped with
 * `config` and never runs the app in between. Used for a failover target, which must not
 * serve while the source could still run. An update rejected for the machine's state is
 * sent again once the machine settles.
 *
 * @throws DrError `DR_MACHINE_BUSY` when the machine never accepts the update; the
 *   client's FlyError classes (FLY_TIMEOUT when it never stops).
 */
export async function applyConfigStopped(
  client: FlyClient,
  app: string,
  machineId: string,
  config: MachineConfig,
  options: StoppedConfigOptions = {},
): Promise<void> {
  const call = options.signal === undefined ? {} : { signal: options.signal };
  await stopAndWait(client, app, machineId, options);

  const updated = await updateWhenSettled(
    client,
    app,
    machineId,
    { config, skip_launch: true },
    settleOptions(options),
  );
  await client.machines.wait(
    app,
    machineId,
    {
      state: 'stopped',
      ...(updated.instance_id ? { instanceId: updated.instance_id } : {}),
      timeoutMs: options.timeoutMs ?? 120_000,
    },
    call,
  );
}

/**
 * Stops a machine unless it is stopped already, and waits for `stopped`.
 *
 * @throws the client's FlyError classes.
 */
export async function stopAndWait(
  client: FlyClient,
  app: string,
  machineId: string,
  options: StoppedConfigOptions = {},
): Promise<void> {
  const call = options.signal === undefined ? {} : { signal: options.signal };
  const machine = await client.machines.get(app, machineId, call);
  if (machine.state === 'stopped' || machine.state === 'created') {
    return;
  }
  await client.machines.stop(app, machineId, {}, call);
  await client.machines.wait(
    app,
    machineId,
    {
      state: 'stopped',
      ...(machine.instance_id ? { instanceId: machine.instance_id } : {}),
      timeoutMs: options.timeoutMs ?? 120_000,
    },
    call,
  );
}

/** Tells whether a config is the maintenance config (the app replaced by a sleeping init). */
export function isMaintenanceConfig(config: MachineConfig | null | undefined): boolean {
  const exec = config?.init?.exec;
  return (
    Array.isArray(exec) &&
    exec.length === MAINTENANCE_INIT_EXEC.length &&
    exec.every((part, index) => part === MAINTENANCE_INIT_EXEC[index])
  );
}
