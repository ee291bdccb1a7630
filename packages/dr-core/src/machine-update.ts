import { setTimeout as sleep } from 'node:timers/promises';
import { isFlyError, type UpdateMachineRequest } from '@flydr/fly-client';
import { DrError, messageOf } from './errors.js';
import type { FlyClient, Machine } from './fly-types.js';
import type { DrLogger } from './logger.js';

/** Machine states in which Fly accepts an update again. */
const SETTLED_STATES: ReadonlySet<string> = new Set([
  'created',
  'started',
  'stopped',
  'suspended',
  'failed',
]);

/** Options of {@link updateWhenSettled}. */
export interface SettledUpdateOptions {
  /** Updates sent in all, the first one included. @default 4 */
  maxAttempts?: number;
  /** Budget for each wait until the machine settles, in milliseconds. @default 60000 */
  settleTimeoutMs?: number;
  /** First pause between two reads of the machine's state; it doubles up to 2 s. @default 100 */
  pollMs?: number;
  logger?: DrLogger;
  signal?: AbortSignal;
}

/**
 * Returns the options of {@link updateWhenSettled} for a caller's wait options, whose
 * budget bounds each wait until the machine settles.
 */
export function settleOptions(options: {
  timeoutMs?: number;
  signal?: AbortSignal;
  logger?: DrLogger;
}): SettledUpdateOptions {
  return {
    ...(options.timeoutMs === undefined ? {} : { settleTimeoutMs: options.timeoutMs }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  };
}

/**
 * Sends a machine update. When Fly rejects it because the machine is in the wrong state
 * (`FLY_INVALID_STATE`, such as 412 `failed_precondition` while it is replacing), it reads
 * the machine until its state settles and sends the update again, up to `maxAttempts`
 * updates. A rejected update changed nothing, so sending it again is safe.
 *
 * @throws DrError `DR_MACHINE_BUSY` naming the machine and its state. It is raised when the
 *   machine does not settle within `settleTimeoutMs`, is destroyed, or keeps rejecting
 *   the update.
 * @throws DrError `DR_NO_CAPACITY` naming the machine's region when Fly has no room to
 *   start it with the new config.
 * @throws the client's other FlyError classes.
 */
export async function updateWhenSettled(
  client: FlyClient,
  app: string,
  machineId: string,
  request: UpdateMachineRequest,
  options: SettledUpdateOptions = {},
): Promise<Machine> {
  const call = options.signal === undefined ? {} : { signal: options.signal };
  const maxAttempts = options.maxAttempts ?? 4;

  for (let attempt = 1; ; attempt += 1) {
    try {
      return await client.machines.update(app, machineId, request, call);
    } catch (error) {
      if (isFlyError(error, 'FLY_CAPACITY')) {
        throw await noCapacityToStart(client, app, machineId, error);
      }
      if (!isFlyError(error, 'FLY_INVALID_STATE')) {
        throw error;
      }
      const machine = await waitUntilSettled(client, app, machineId, error, options);
      if (attempt >= maxAttempts) {
        throw busyError(
          app,
          machine,
          `Fly rejected ${attempt} updates of it (${messageOf(error)})`,
          error,
        );
      }
      options.logger?.warn('machine update rejected for its state; sending it again', {
        app,
        machine_id: machineId,
        state: machine.state,
        attempt,
        error: messageOf(error),
      });
    }
  }
}

/**
 * Reads the machine until its state is one that accepts an update, pausing with a doubling
 * backoff, and returns it.
 *
 * @throws DrError `DR_MACHINE_BUSY` when it is destroyed or does not settle in time.
 */
async function waitUntilSettled(
  client: FlyClient,
  app: string,
  machineId: string,
  rejection: unknown,
  options: SettledUpdateOptions,
): Promise<Machine> {
  const call = options.signal === undefined ? {} : { signal: options.signal };
  const timeoutMs = options.settleTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let pauseMs = options.pollMs ?? 100;

  for (;;) {
    const machine = await client.machines.get(app, machineId, call);
    const state = machine.state ?? 'unknown';
    if (state === 'destroyed' || state === 'destroying') {
      throw busyError(app, machine, `it is ${state}`, rejection);
    }
    if (SETTLED_STATES.has(state)) {
      return machine;
    }
    if (Date.now() + pauseMs > deadline) {
      throw busyError(app, machine, `it did not settle within ${timeoutMs} ms`, rejection);
    }
    await sleep(pauseMs, undefined, call);
    pauseMs = Math.min(pauseMs * 2, 2_000);
  }
}

/**
 * Builds the error for an update that Fly rejected because the machine's region has no
 * room to start it. Fly's message does not always name the region, so it is read from the
 * machine.
 */
async function noCapacityToStart(
  client: FlyClient,
  app: string,
  machineId: string,
  cause: Error,
): Promise<DrError> {
  const machine = await client.machines.get(app, machineId).catch(() => undefined);
  const region = machine?.region ?? 'unknown';
  return new DrError(
    'DR_NO_CAPACITY',
    `region ${region} has no capacity to start machine ${machineId} of app ${app} with its new config (${messageOf(cause)})`,
    `Fly did not apply the update. Run the command again later, or check which regions have room with \`flydr regions\`.`,
    { region, machineId, cause },
  );
}

function busyError(app: string, machine: Machine, reason: string, cause: unknown): DrError {
  const state = machine.state ?? 'unknown';
  return new DrError(
    'DR_MACHINE_BUSY',
    `machine ${machine.id} of app ${app} (state ${state}) did not accept a config update: ${reason}`,
    `Check what is changing it with \`fly machine status ${machine.id}\`, wait until it is started or stopped, then run the command again.`,
    { machineId: machine.id, state, cause },
  );
}
