import { DrError } from './errors.js';
import type { FlyClient, Machine, MachineConfig } from './fly-types.js';
import type { DrLogger } from './logger.js';
import { settleOptions, updateWhenSettled } from './machine-update.js';

/** Command a machine runs in maintenance mode instead of the app: it only stays started. */
export const MAINTENANCE_INIT_EXEC = ['sleep', 'inf'];

/**
 * Returns the config that keeps the machine started without running the app. It is the
 * same config with `init.exec` overridden and without `services` and `checks`. So the Fly
 * proxy neither routes requests to it nor stops it as idle, and no check fails while the
 * app is down.
 */
export function maintenanceConfig(config: MachineConfig): MachineConfig {
  const copy = structuredClone(config);
  copy.init = { ...(copy.init ?? {}), exec: [...MAINTENANCE_INIT_EXEC] };
  delete copy.services;
  delete copy.checks;
  return copy;
}

/** Options of {@link applyConfig}. */
export interface ApplyConfigOptions {
  /** Budget for reaching `started`. @default 120000 */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Logs an update that is sent again after the machine settled. */
  logger?: DrLogger;
}

/**
 * Updates the machine's config and waits until it is `started` again, starting it when
 * the update left it stopped. An update rejected for the machine's state is sent again
 * once the machine settles. Returns the machine as Fly reports it afterwards.
 *
 * @throws DrError `DR_HEALTH_FAILED` when the machine ends `failed` (its process would not
 *   start), `DR_MACHINE_BUSY` when it never accepts the update; the client's FlyError
 *   classes (FLY_TIMEOUT when it never settles).
 */
export async function applyConfig(
  client: FlyClient,
  app: string,
  machineId: string,
  config: MachineConfig,
  options: ApplyConfigOptions = {},
): Promise<Machine> {
  const call = options.signal === undefined ? {} : { signal: options.signal };
  const updated = await updateWhenSettled(
    client,
    app,
    machineId,
    { config },
    settleOptions(options),
  );
  const current = await client.machines.get(app, machineId, call);
  if (STARTABLE_STATES.has(current.state ?? '')) {
    await client.machines.start(app, machineId, call);
  }
  await client.machines.wait(
    app,
    machineId,
    {
      state: ['started', 'failed'],
      ...(updated.instance_id ? { instanceId: updated.instance_id } : {}),
      timeoutMs: options.timeoutMs ?? 120_000,
    },
    call,
  );
  const machine = await client.machines.get(app, machineId, call);
  if (machine.state !== 'started') {
    throw new DrError(
      'DR_HEALTH_FAILED',
      `machine ${machineId} of app ${app} is ${machine.state} after its config update, not started`,
      'Look at the machine events and logs (fly machine status, fly logs).',
      { machineId, state: machine.state },
    );
  }
  return machine;
}

/** States from which a machine must be started explicitly after an update. */
const STARTABLE_STATES = new Set(['created', 'stopped', 'suspended', 'failed']);
